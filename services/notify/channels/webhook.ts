import { createHmac } from 'node:crypto';
import type { UnitConfig, WebhookConfig } from '../../registry/schema.ts';
import { fitMarkdown, type Message } from '../message.ts';
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

export function buildWebhookRequest(hook: Pick<WebhookConfig, 'url' | 'format' | 'secret'>, m: Message, event: unknown, now: number, ackLink?: string): WebhookRequest {
  const digest = event !== null && typeof event === 'object' && (event as { digest?: unknown }).digest === true;
  switch (hook.format) {
    case 'dingtalk':
      return { url: hook.secret ? signDingTalk(hook.url, hook.secret, now) : hook.url, body: dingTalkBody(m, digest) };
    case 'wecom':
      // WeCom markdown content is limited to 4096 bytes (errcode 40058 past it)
      return { url: hook.url, body: { msgtype: 'markdown', markdown: { content: fitMarkdown(m.markdown, WECOM_MAX_BYTES, digest) } } };
    default:
      // a receiver that pages someone can hand on the same one-tap acknowledge as an SMS
      return { url: hook.url, body: ackLink && event !== null && typeof event === 'object' ? { ...event, ackUrl: ackLink } : event };
  }
}

/** What a DingTalk robot takes: a request body of at most 20 000 bytes (errcode 460101 past it, for good). */
export const DINGTALK_MAX_BYTES = 20_000;
export const WECOM_MAX_BYTES = 4096;

function dingTalkBody(m: Message, digest: boolean) {
  const body = (text: string) => ({ msgtype: 'markdown', markdown: { title: m.title.slice(0, 64), text }, at: { atMobiles: [], isAtAll: false } });
  // the limit is on the body as sent: JSON escapes count, so the text is fitted to what is left,
  // then again by what the escapes added. A robot shows no control character: they go first, so
  // escapes at most double a text (a quote, a backslash) and three rounds fit it
  const markdown = m.markdown.replace(/[\u0000-\u0009\u000B-\u001F\u007F]/g, '');
  let budget = DINGTALK_MAX_BYTES - jsonBytes(body(''));
  for (let round = 0; round < 8 && budget > 0; round++) {
    const b = body(fitMarkdown(markdown, budget, digest));
    const over = jsonBytes(b) - DINGTALK_MAX_BYTES;
    if (over <= 0) return b;
    budget -= over + 16;
  }
  return body(m.title.slice(0, 64));
}

export const jsonBytes = (x: unknown) => Buffer.byteLength(JSON.stringify(x), 'utf8');

/** nginx's default `client_max_body_size` (1 MB): what a generic receiver takes unless the registry says */
export const DEFAULT_MAX_BODY_KB = 1024;
const maxBodyKB = (hook: Pick<WebhookConfig, 'maxBodyKB'>) => hook.maxBodyKB ?? DEFAULT_MAX_BODY_KB;

/** DingTalk: sign = urlencode(base64(HMAC-SHA256(secret, `${timestamp}\n${secret}`))). */
export function signDingTalk(url: string, secret: string, timestamp: number): string {
  const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}timestamp=${timestamp}&sign=${encodeURIComponent(sign)}`;
}

/** A long text of an event trimmed to this many characters when the event alone passes the receiver's limit. */
const TRIMMED_TEXT = 200;

/**
 * An event larger than the receiver takes alone (an operator's feedback of thousands of
 * characters; a receiver set to a small `maxBodyKB`): its long texts cut, and `trimmed: true`, so
 * that the change itself still arrives; the whole is in the API. Anything else as it is.
 */
export function fitEvent(body: unknown, maxBytes: number): unknown {
  if (jsonBytes(body) <= maxBytes) return body;
  const cut = (x: unknown, depth: number): unknown => {
    if (typeof x === 'string') return x.length > TRIMMED_TEXT ? `${x.slice(0, TRIMMED_TEXT)}…` : x;
    if (depth === 0 || x === null || typeof x !== 'object') return x;
    if (Array.isArray(x)) return x.map((v) => cut(v, depth - 1));
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, cut(v, depth - 1)]));
  };
  const trimmed = cut(body, 4) as Record<string, unknown>;
  return Array.isArray(trimmed) ? trimmed : { ...trimmed, trimmed: true };
}

/** `notificationId` goes in `X-Notification-Id`, so a receiver can drop a resend after a crash. */
export async function postWebhook(hook: Pick<WebhookConfig, 'format'>, req: WebhookRequest, notificationId?: string, timeoutMs = 5000): Promise<number> {
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
    const req = buildWebhookRequest(hook, d.message, d.event, this.clock(), d.ackLink);
    // the outbox keeps a group within the limit (maxBodyBytes); a change larger alone is trimmed
    const body = hook.format === 'generic' ? fitEvent(req.body, maxBodyKB(hook) * 1024) : req.body;
    await postWebhook(hook, { url: req.url, body }, d.notificationId);
  }

  /** a generic receiver's `maxBodyKB`; a robot's message is fitted to its limit instead */
  maxBodyBytes(unit: UnitConfig, id: string): number | undefined {
    const hook = unit.webhooks[parseChannelId(id).index];
    return hook?.format === 'generic' ? maxBodyKB(hook) * 1024 : undefined;
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
