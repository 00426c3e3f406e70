import { createHmac, randomUUID } from 'node:crypto';
import type { ProviderConfig } from '../../../registry/schema.ts';
import { answerOf, clipParams, ProviderError, type PhoneMessage, type PhoneProvider } from './phone-provider.ts';

/**
 * Alibaba Cloud SMS (Dysmsapi SendSms) and voice (Dyvmsapi SingleCallByTts), API version
 * 2017-05-25, with the RPC signature (HMAC-SHA1 over the sorted, RFC 3986-encoded parameters).
 * Template variables are 1–35 characters; a TTS template's parameters under 250 characters.
 */
type Aliyun = Extract<ProviderConfig, { kind: 'aliyun' }>;

/** RFC 3986: only A–Z a–z 0–9 - _ . ~ stay as they are; a space is %20. */
export const percentEncode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function canonicalQuery(params: Record<string, string>): string {
  return Object.keys(params)
    .sort()
    .map((k) => `${percentEncode(k)}=${percentEncode(params[k])}`)
    .join('&');
}

/** Signature = Base64(HMAC-SHA1(secret + "&", METHOD & %2F & encode(canonical query))). */
export function signAliyun(params: Record<string, string>, secret: string, method = 'POST'): string {
  const stringToSign = `${method}&${percentEncode('/')}&${percentEncode(canonicalQuery(params))}`;
  return createHmac('sha1', `${secret}&`).update(stringToSign).digest('base64');
}

/** yyyy-MM-ddTHH:mm:ssZ, UTC, no milliseconds */
const timestamp = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class AliyunProvider implements PhoneProvider {
  constructor(
    private readonly cfg: Aliyun,
    private readonly clock: () => number,
  ) {}

  async sms(to: string, m: PhoneMessage) {
    await this.request(this.cfg.endpoint, {
      Action: 'SendSms',
      PhoneNumbers: to.replace(/^\+86/, ''),
      SignName: this.cfg.signName,
      TemplateCode: this.cfg.smsTemplate,
      TemplateParam: JSON.stringify(clipParams(m.params, 35)),
      OutId: m.notificationId.slice(0, 64),
    });
  }

  async call(to: string, m: PhoneMessage) {
    if (!this.cfg.voiceTemplate) throw new ProviderError('the provider has no voiceTemplate');
    const { level, enterprise, point, event } = clipParams(m.params, 40);
    await this.request(this.cfg.voiceEndpoint, {
      Action: 'SingleCallByTts',
      CalledNumber: to.replace(/^\+86/, ''),
      TtsCode: this.cfg.voiceTemplate,
      TtsParam: JSON.stringify({ level, enterprise, point, event }),
      PlayTimes: '3',
      OutId: m.notificationId.replace(/-/g, '').slice(0, 15),
      ...(this.cfg.calledShowNumber ? { CalledShowNumber: this.cfg.calledShowNumber } : {}),
    });
  }

  private async request(endpoint: string, own: Record<string, string>) {
    const params: Record<string, string> = {
      AccessKeyId: this.cfg.accessKeyId,
      Format: 'JSON',
      RegionId: this.cfg.regionId,
      SignatureMethod: 'HMAC-SHA1',
      SignatureNonce: randomUUID(),
      SignatureVersion: '1.0',
      Timestamp: timestamp(this.clock()),
      Version: '2017-05-25',
      ...own,
    };
    const body = `${canonicalQuery(params)}&Signature=${percentEncode(signAliyun(params, this.cfg.accessKeySecret))}`;
    const res = await fetch(`${endpoint.replace(/\/$/, '')}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(this.cfg.timeoutS * 1000),
      redirect: 'manual',
    });
    const answer = (await answerOf(res)) as { Code?: unknown; Message?: unknown };
    if (answer?.Code === 'OK') return;
    const code = String(answer?.Code ?? `HTTP ${res.status}`).slice(0, 80);
    // flow control: the number (or the account) has had its share for now
    throw new ProviderError(`aliyun ${own.Action} refused: ${code} ${String(answer?.Message ?? '').slice(0, 120)}`, /LIMIT_CONTROL/.test(code));
  }
}
