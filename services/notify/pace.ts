import type { RoutingPolicy } from '../alerts/routing.ts';
import type { OutboxItem } from './outbox-store.ts';

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
 * summary goes alone.
 */
export function messagesOf(due: OutboxItem[]): OutboxItem[][] {
  const groups = new Map<string, OutboxItem[]>();
  for (const i of due) {
    const key = i.notificationId ? `n|${i.notificationId}` : i.body.notice === 'alert' ? `${i.unitId}|${i.channel}` : i.id;
    const group = groups.get(key);
    if (group) group.push(i);
    else groups.set(key, [i]);
  }
  return [...groups.values()];
}

/** A failed message is tried again after a delay doubling from `baseMs` up to `maxMs`. */
export function retryDelay(attempts: number, baseMs: number, maxMs: number): number {
  return Math.min(baseMs * 2 ** (attempts - 1), maxMs);
}
