import { createHmac } from 'node:crypto';
import type { WebhookConfig } from '../registry/schema.ts';
import type { Message } from './message.ts';

/**
 * Webhooks: a generic JSON POST, or a DingTalk or WeCom group robot. A robot answers HTTP 200
 * even when it refuses a message, so for those only `errcode: 0` counts as delivered.
 */
export class WebhookError extends Error {}

export interface WebhookRequest {
  url: string;
  body: unknown;
}

export function buildWebhookRequest(hook: WebhookConfig, m: Message, event: unknown, now: number): WebhookRequest {
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
      return { url: hook.url, body: event };
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
  });
  const text = await res.text();
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
