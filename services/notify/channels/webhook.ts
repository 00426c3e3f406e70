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
  switch (hook.format) {
    case 'dingtalk':
      return { url: hook.secret ? signDingTalk(hook.url, hook.secret, now) : hook.url, body: dingTalkBody(m) };
    case 'wecom':
      // WeCom markdown content is limited to 4096 bytes (errcode 40058 past it)
      return { url: hook.url, body: { msgtype: 'markdown', markdown: { content: fitMarkdown(m.markdown, WECOM_MAX_BYTES) } } };
    default:
      // a receiver that pages someone can hand on the same one-tap acknowledge as an SMS
      return { url: hook.url, body: ackLink && event !== null && typeof event === 'object' ? { ...event, ackUrl: ackLink } : event };
  }
}

/** What a DingTalk robot takes: a request body of at most 20 000 bytes (errcode 460101 past it, for good). */
export const DINGTALK_MAX_BYTES = 20_000;
export const WECOM_MAX_BYTES = 4096;

function dingTalkBody(m: Message) {
  const body = (text: string) => ({ msgtype: 'markdown', markdown: { title: m.title.slice(0, 64), text }, at: { atMobiles: [], isAtAll: false } });
  // the limit is on the body as sent: JSON escapes (newlines, quotes) count, so the text is fitted
  // to what is left, then once more by what the escapes added
  let budget = DINGTALK_MAX_BYTES - jsonBytes(body(''));
  for (;;) {
    const b = body(fitMarkdown(m.markdown, budget));
    const over = jsonBytes(b) - DINGTALK_MAX_BYTES;
    if (over <= 0 || budget <= over) return b;
    budget -= over;
  }
}

export const jsonBytes = (x: unknown) => Buffer.byteLength(JSON.stringify(x), 'utf8');

/** DingTalk: sign = urlencode(base64(HMAC-SHA256(secret, `${timestamp}\n${secret}`))). */
export function signDingTalk(url: string, secret: string, timestamp: number): string {
  const sign = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
  const sep = url.includes('?') ? '&' : '?';
  return `${url}${sep}timestamp=${timestamp}&sign=${encodeURIComponent(sign)}`;
}

interface DigestBody {
  digest: true;
  count: number;
  events: { severity?: unknown; transition?: { at?: unknown } }[];
  ackUrl?: string;
}

const isDigest = (b: unknown): b is DigestBody => b !== null && typeof b === 'object' && (b as DigestBody).digest === true && Array.isArray((b as DigestBody).events);

const RANK: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, { critical: 3, major: 2, warning: 1, info: 0 });
const rankOf = (e: DigestBody['events'][number]) => (typeof e.severity === 'string' ? (RANK[e.severity] ?? 0) : 0);
const timeOf = (e: DigestBody['events'][number]) => (typeof e.transition?.at === 'string' ? e.transition.at : '');

/**
 * A generic receiver's body in parts of at most `maxBytes` (the registry's `maxBodyKB`): nginx
 * refuses a body over 1 MB by default, and a digest of a storm is megabytes, refused for good at
 * every retry until it expired. A digest larger than that goes as several, each
 * `{ digest, count, events, part, parts, total }`, the worst events first; anything else as it is.
 */
export function digestParts(body: unknown, maxBytes: number): unknown[] {
  if (!isDigest(body)) return [body];
  const total = body.events.length;
  const part = (list: unknown[], k: number, n: number) => ({ digest: true, count: list.length, events: list, part: k, parts: n, total, ...(body.ackUrl ? { ackUrl: body.ackUrl } : {}) });
  // what a part costs without its events (the largest numbers it can hold), and each event with its
  // comma: measured once each (a storm's digest is megabytes, and this runs on the MQTT thread)
  const overhead = jsonBytes(part([], total, total));
  const bytesOf = new Map(body.events.map((e) => [e, jsonBytes(e) + 1]));
  if ([...bytesOf.values()].reduce((a, b) => a + b, overhead) <= maxBytes) return [body];
  const events = [...body.events].sort((x, y) => rankOf(y) - rankOf(x) || (timeOf(x) < timeOf(y) ? -1 : timeOf(x) > timeOf(y) ? 1 : 0));
  const groups: unknown[][] = [[]];
  let used = overhead;
  for (const e of events) {
    const cost = bytesOf.get(e)!;
    // an event larger than a part alone goes alone: nothing smaller can carry it
    if (used + cost > maxBytes && groups.at(-1)!.length) (groups.push([]), (used = overhead));
    groups.at(-1)!.push(e);
    used += cost;
  }
  return groups.map((g, k) => part(g, k + 1, groups.length));
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
    const parts = hook.format === 'generic' ? digestParts(req.body, hook.maxBodyKB * 1024) : [req.body];
    // each part has an id of its own, the same at every attempt: a retry after part 2 failed sends
    // part 1 again, and the receiver drops it by its id
    for (let k = 0; k < parts.length; k++) await postWebhook(hook, { url: req.url, body: parts[k] }, parts.length === 1 ? d.notificationId : `${d.notificationId}.${k + 1}`);
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
