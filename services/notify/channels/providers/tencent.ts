import { createHash, createHmac } from 'node:crypto';
import type { ProviderConfig } from '../../../registry/schema.ts';
import { answerOf, clip, ProviderError, type PhoneMessage, type PhoneProvider } from './phone-provider.ts';

/**
 * Tencent Cloud SMS (SendSms, 2021-01-11) and voice (SendTtsVoice, 2020-09-02), signed with
 * TC3-HMAC-SHA256 (API 3.0). Template parameters go in the template's order: SMS
 * [level, enterprise, point, event, time, code], voice [level, enterprise, point, event].
 */
type Tencent = Extract<ProviderConfig, { kind: 'tencent' }>;

const CONTENT_TYPE = 'application/json; charset=utf-8';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const hmac = (key: string | Buffer, s: string) => createHmac('sha256', key).update(s).digest();

export interface Tc3Request {
  secretId: string;
  secretKey: string;
  service: string;
  host: string;
  /** seconds */
  timestamp: number;
  body: string;
}

/** The Authorization header of API 3.0: only content-type and host are signed. */
export function signTc3(r: Tc3Request): string {
  const date = new Date(r.timestamp * 1000).toISOString().slice(0, 10);
  const canonical = ['POST', '/', '', `content-type:${CONTENT_TYPE}\nhost:${r.host}\n`, 'content-type;host', sha256(r.body)].join('\n');
  const scope = `${date}/${r.service}/tc3_request`;
  const stringToSign = ['TC3-HMAC-SHA256', String(r.timestamp), scope, sha256(canonical)].join('\n');
  const signing = hmac(hmac(hmac(`TC3${r.secretKey}`, date), r.service), 'tc3_request');
  const signature = createHmac('sha256', signing).update(stringToSign).digest('hex');
  return `TC3-HMAC-SHA256 Credential=${r.secretId}/${scope}, SignedHeaders=content-type;host, Signature=${signature}`;
}

/** Mainland numbers as E.164 */
const e164 = (n: string) => (n.startsWith('+') ? n : `+86${n}`);

export class TencentProvider implements PhoneProvider {
  constructor(
    private readonly cfg: Tencent,
    private readonly clock: () => number,
  ) {}

  async sms(to: string, m: PhoneMessage) {
    const p = m.params;
    const answer = await this.request(this.cfg.endpoint, 'sms', 'SendSms', '2021-01-11', {
      PhoneNumberSet: [e164(to)],
      SmsSdkAppId: this.cfg.smsSdkAppId,
      SignName: this.cfg.signName,
      TemplateId: this.cfg.smsTemplate,
      TemplateParamSet: [p.level, p.enterprise, p.point, p.event, p.time, p.code].map((v) => clip(v || '-', 80)),
      SessionContext: m.notificationId,
    });
    // a request can succeed while the message to the number did not
    const status = (answer.SendStatusSet as { Code?: unknown; Message?: unknown }[] | undefined)?.[0];
    if (status?.Code !== 'Ok') throw new ProviderError(`tencent SendSms refused: ${String(status?.Code ?? 'no status').slice(0, 80)} ${String(status?.Message ?? '').slice(0, 120)}`, /LimitExceeded/.test(String(status?.Code)));
  }

  async call(to: string, m: PhoneMessage) {
    if (!this.cfg.voiceTemplate || !this.cfg.voiceSdkAppId) throw new ProviderError('the provider has no voiceTemplate / voiceSdkAppId');
    const p = m.params;
    await this.request(this.cfg.voiceEndpoint, 'vms', 'SendTtsVoice', '2020-09-02', {
      TemplateId: this.cfg.voiceTemplate,
      TemplateParamSet: [p.level, p.enterprise, p.point, p.event].map((v) => clip(v || '-', 60)),
      CalledNumber: e164(to),
      VoiceSdkAppid: this.cfg.voiceSdkAppId,
      PlayTimes: 2,
      SessionContext: m.notificationId,
    });
  }

  private async request(endpoint: string, service: string, action: string, version: string, payload: unknown): Promise<Record<string, unknown>> {
    const url = new URL(endpoint);
    const body = JSON.stringify(payload);
    const timestamp = Math.floor(this.clock() / 1000);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': CONTENT_TYPE,
        authorization: signTc3({ secretId: this.cfg.secretId, secretKey: this.cfg.secretKey, service, host: url.host, timestamp, body }),
        'x-tc-action': action,
        'x-tc-timestamp': String(timestamp),
        'x-tc-version': version,
        'x-tc-region': this.cfg.region,
      },
      body,
      signal: AbortSignal.timeout(this.cfg.timeoutS * 1000),
      redirect: 'manual',
    });
    const answer = ((await answerOf(res)) as { Response?: Record<string, unknown> })?.Response;
    if (!answer || typeof answer !== 'object') throw new ProviderError(`tencent ${action}: HTTP ${res.status} without a Response`);
    const error = answer.Error as { Code?: unknown; Message?: unknown } | undefined;
    if (error) throw new ProviderError(`tencent ${action} refused: ${String(error.Code).slice(0, 80)} ${String(error.Message ?? '').slice(0, 120)}`, /LimitExceeded/.test(String(error.Code)));
    return answer;
  }
}
