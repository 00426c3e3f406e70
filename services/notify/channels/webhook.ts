import { createHmac } from 'node:crypto';
import type { UnitConfig, WebhookConfig } from '../../registry/schema.ts';
import type { Message } from '../message.ts';
import { answerText, redirectError } from './answer.ts';
import { parseChannelId, type Channel, type Delivery } from './channel.ts';

/**
 * Webhooks: a generic JSON POST, or a DingTalk or WeCom group robot. A robot answers HTTP 200
 * even when it refuses a message, so for those only `errcode: 0` counts as delivered.
 */
export class WebhookError extends Error {}

export interface WebhookRequest {
  url: string;
  body: unknown;
}

export function buildWebhookRequest(hook: WebhookConfig, m: Message, event: unknown, now: number, ackLink?: string): WebhookRequest {
  switch (hook.format) {
    case 'dingtalk':
      return {
        url: hook.secret ? signDingTalk(hook.url, hook.secret, now) : hook.url,
        body: { msgtype: 'markdown', markdown: { title: m.title.slice(0, 64), text: m.markdown }, at: { atMobiles: [], isAtAll: false } },
      };
    case 'wecom':
      // WeCom markdown content is limited to 4096 bytes
      return { url: hook.url, body: { msgtype: 'markdown', markdown: { content: truncateBytes(m.markdown, 4096) } } };
    default:
      // a receiver that pages someone can hand on the same one-tap acknowledge as an SMS
      return { url: hook.url, body: ackLink && event !== null && typeof event === 'object' ? { ...event, ackUrl: ackLink } : event };
  }
}

/** DingTalk: sign = urlencode(base64(HMAC-SHA256(secret, `${timestamp}\n${secret}`))). */
export function signDingTalk(url: string, secret: string, timestamp: number): string {
  const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}timestamp=${timestamp}&sign=${encodeURIComponent(sign)}`;
}

/** `notificationId` goes in `X-Notification-Id`, so a receiver can drop a resend after a crash. */
export async function postWebhook(hook: WebhookConfig, req: WebhookRequest, notificationId?: string, timeoutMs = 5000): Promise<number> {
  const res = await fetch(req.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', 'user-agent': 'risk-monitor-gateway', ...(notificationId ? { 'x-notification-id': notificationId } : {}) },
    body: JSON.stringify(req.body),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
  });
  const redirect = redirectError(res);
  if (redirect) throw new WebhookError(redirect);
  const text = await answerText(res);
  if (!res.ok) throw new WebhookError(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  if (hook.format !== 'generic') {
    let errcode: unknown;
    try {
      errcode = (JSON.parse(text) as { errcode?: unknown }).errcode;
    } catch {
      throw new WebhookError(`robot answered non-JSON: ${text.slice(0, 200)}`);
    }
    if (errcode !== 0) throw new WebhookError(`robot refused the message: ${text.slice(0, 200)}`);
  }
  return res.status;
}

function truncateBytes(s: string, max: number): string {
  const buf = Buffer.from(s, 'utf8');
  if (buf.length <= max) return s;
  return buf.subarray(0, max - 3).toString('utf8').replace(/\uFFFD$/, '') + '…';
}

/**
 * The unit's webhooks, one channel id each (`webhook:0`, `webhook:1`…): generic JSON, or a
 * DingTalk or WeCom group robot as the registry's `format` says.
 */
export class WebhookChannel implements Channel {
  readonly kind = 'webhook';

  constructor(private readonly clock: () => number) {}

  idsOf(unit: UnitConfig): string[] {
    return unit.webhooks.map((_, i) => `webhook:${i}`);
  }

  async send(unit: UnitConfig, id: string, d: Delivery): Promise<void> {
    const hook = unit.webhooks[parseChannelId(id).index];
    if (!hook) throw new Error(`the unit has no ${id}`);
    await postWebhook(hook, buildWebhookRequest(hook, d.message, d.event, this.clock(), d.ackLink), d.notificationId);
  }

  target(unit: UnitConfig, id: string): string {
    const hook = unit.webhooks[parseChannelId(id).index];
    if (!hook) return id;
    try {
      // webhook URLs carry robot tokens, in the query (DingTalk, WeCom) or in the path (Feishu,
      // many generic receivers): the record, which other callers read, keeps scheme and host only
      const u = new URL(hook.url);
      return `${hook.format} ${u.protocol}//${u.host}${u.pathname.length > 1 ? '/…' : ''}`;
    } catch {
      return hook.format;
    }
  }
}
