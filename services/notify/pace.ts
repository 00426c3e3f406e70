import type { RoutingPolicy } from '../alerts/routing.ts';
import type { OutboxItem } from './outbox-store.ts';
import { severityRank } from '../../domain/types.ts';

/**
 * The group/pace stage, as Alertmanager does it: a unit's first notice on a channel waits
 * `groupWaitS` for others to join it; after a message went, the next group waits until
 * `groupIntervalS` has passed since. A critical raise waits only for its group, not the interval.
 */
export interface Pace {
  /** when the group now filling goes out */
  groupAt: number | null;
  /** when the last message went */
  lastSent: number | null;
}

/** When a new notice may go: with the group filling, or as the start of the next one. */
export function groupTime(pace: Pace, now: number, urgent: boolean, policy: Pick<RoutingPolicy, 'groupWaitS' | 'groupIntervalS'>): number {
  if (pace.groupAt !== null && pace.groupAt >= now) return pace.groupAt;
  const last = pace.lastSent;
  return !urgent && last !== null && now - last < policy.groupIntervalS * 1000 ? last + policy.groupIntervalS * 1000 : now + policy.groupWaitS * 1000;
}

/**
 * Due items as the messages they make: a group already tried goes again exactly as it was;
 * otherwise alert changes for one unit and channel go together, and a silence notice or a
 * summary goes alone. `maxBytesOf`: the largest body the item's receiver takes (undefined: no
 * limit); a group larger than that goes as several messages (`bySize`).
 */
export function messagesOf(due: OutboxItem[], maxBytesOf: (i: OutboxItem) => number | undefined = () => undefined): OutboxItem[][] {
  const groups = new Map<string, OutboxItem[]>();
  for (const i of due) {
    const key = i.notificationId ? `n|${i.notificationId}` : i.body.notice === 'alert' ? `${i.unitId}|${i.channel}` : i.id;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  }
  return [...groups.values()].flatMap((g) => {
    const max = g.length > 1 && g[0].notificationId === null ? maxBytesOf(g[0]) : undefined;
    return max === undefined ? [g] : bySize(g, max);
  });
}

/** what a digest's body adds to its events: `digest`, `count`, the acknowledge link (generous) */
const DIGEST_BYTES = 512;

/**
 * A group whose body would pass `maxBytes` as several messages, each within it where it can be (a
 * change larger than that alone goes alone; the channel trims it). nginx refuses a body over 1 MB
 * by default, and a storm's digest is megabytes: it was refused at every retry until it expired.
 * Each message is a notification of its own, delivered, retried and recorded on its own. An
 * alert's changes stay together and in the order queued; the alerts whose worst change is worst go
 * first, the rest in the order queued.
 */
export function bySize(g: OutboxItem[], maxBytes: number): OutboxItem[][] {
  const size = new Map(g.map((i) => [i, Buffer.byteLength(JSON.stringify(i.body), 'utf8') + 1]));
  if ([...size.values()].reduce((a, b) => a + b, DIGEST_BYTES) <= maxBytes) return [g];
  const byAlert = new Map<string, OutboxItem[]>();
  for (const i of g) {
    const list = byAlert.get(i.alertId ?? i.id);
    if (list) list.push(i);
    else byAlert.set(i.alertId ?? i.id, [i]);
  }
  const worst = (list: OutboxItem[]) => Math.max(...list.map((i) => (i.body.notice === 'alert' ? severityRank(i.body.alert.severity) : 0)));
  const ordered = [...byAlert.values()].map((list) => ({ list, rank: worst(list) })).sort((a, b) => b.rank - a.rank);
  const out: OutboxItem[][] = [[]];
  let used = DIGEST_BYTES;
  const next = () => {
    if (!out.at(-1)!.length) return;
    out.push([]);
    used = DIGEST_BYTES;
  };
  for (const { list } of ordered) {
    // an alert's changes in one message where they fit in one: a receiver then never has its
    // clear in one message and its raise in another that failed and waits for a retry
    const all = list.reduce((n, i) => n + size.get(i)!, 0);
    if (used + all > maxBytes && DIGEST_BYTES + all <= maxBytes) next();
    for (const i of list) {
      const cost = size.get(i)!;
      if (used + cost > maxBytes) next();
      out.at(-1)!.push(i);
      used += cost;
    }
  }
  return out;
}

/** A failed message is tried again after a delay doubling from `baseMs` up to `maxMs`. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** (attempts - 1), maxMs);
}
