import { createHmac } from 'node:crypto';
import type { ProviderConfig } from '../../../registry/schema.ts';
import { answerText, redirectError } from '../answer.ts';
import { clip, ProviderError, type PhoneMessage, type PhoneProvider } from './phone-provider.ts';

/**
 * Any SMS/voice gateway that takes a signed JSON POST (an operator's own, a carrier's, a
 * provider's relay): `{ kind, to, text, params, notificationId }`, with
 * `X-Timestamp: <ms>` and `X-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
 * Any 2xx means the gateway has it.
 */
type Http = Extract<ProviderConfig, { kind: 'http' }>;

export function signGateway(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export class HttpGatewayProvider implements PhoneProvider {
  constructor(
    private readonly cfg: Http,
    private readonly clock: () => number,
  ) {}

  sms(to: string, m: PhoneMessage) {
    return this.post(this.cfg.url, 'sms', to, m);
  }

  call(to: string, m: PhoneMessage) {
    return this.post(this.cfg.voiceUrl ?? this.cfg.url, 'voice', to, m);
  }

  private async post(url: string, kind: 'sms' | 'voice', to: string, m: PhoneMessage) {
    const body = JSON.stringify({ kind, to, text: clip(m.text, this.cfg.maxChars), params: m.params, notificationId: m.notificationId });
    const timestamp = String(this.clock());
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-timestamp': timestamp, 'x-signature': signGateway(this.cfg.secret, timestamp, body), 'x-notification-id': m.notificationId },
      body,
      signal: AbortSignal.timeout(this.cfg.timeoutS * 1000),
      redirect: 'manual',
    });
    const redirect = redirectError(res);
    if (redirect) throw new ProviderError(redirect);
    const text = await answerText(res);
    if (!res.ok) throw new ProviderError(`gateway HTTP ${res.status}: ${text.slice(0, 120)}`, res.status === 429);
  }
}
