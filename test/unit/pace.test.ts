import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { OutboxItem } from '../../services/notify/outbox-store.ts';
import { bySize, messagesOf } from '../../services/notify/pace.ts';

/** The group stage's size bound: a storm's group as several messages a receiver takes. */
const item = (k: number, alertId: string, severity: string, textBytes: number): OutboxItem => ({
  id: `n${k}`,
  unitId: 'ent-chem',
  channel: 'webhook:0',
  alertId,
  body: { notice: 'alert', alert: { id: alertId, severity, message: 'x'.repeat(textBytes) }, transition: { alertId, type: 'raised', at: new Date(k).toISOString() } } as never,
  createdAt: k,
  notBefore: k,
  nextAttemptAt: k,
  attempts: 0,
  status: 'pending',
  lastError: null,
  deliveredAt: null,
  notificationId: null,
  seq: k,
});
const bytes = (g: OutboxItem[]) => g.reduce((n, i) => n + Buffer.byteLength(JSON.stringify(i.body)) + 1, 512);

describe('a group larger than its receiver takes', () => {
  it('goes as messages within the limit, every change once, the worst alerts first, each alert\'s changes together and in order where they fit', () => {
    const severities = ['info', 'warning', 'major', 'critical'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.constantFrom(...severities), fc.integer({ min: 10, max: 3000 })), { minLength: 2, maxLength: 80 }),
        fc.integer({ min: 4, max: 64 }),
        (changes, kb) => {
          const g = changes.map(([a, severity, text], k) => item(k, `a${a}`, severity, text));
          const max = kb * 1024;
          const out = bySize(g, max);
          // every change once
          expect(out.flat().map((i) => i.id).sort()).toEqual(g.map((i) => i.id).sort());
          // each message within the limit, unless one change alone passes it
          for (const m of out) expect(bytes(m) <= max || m.length === 1).toBe(true);
          // an alert's changes in the order queued, and in one message when they fit in one
          for (const a of new Set(g.map((i) => i.alertId))) {
            const mine = g.filter((i) => i.alertId === a);
            const where = out.flatMap((m, k) => m.filter((i) => i.alertId === a).map((i) => [k, i.seq!] as const));
            expect(where.map(([, seq]) => seq)).toEqual(mine.map((i) => i.seq));
            if (bytes(mine) <= max) expect(new Set(where.map(([k]) => k)).size).toBe(1);
          }
          // split, the first message begins with the changes of an alert whose worst change is the worst
          const rank = (i: OutboxItem) => severities.indexOf((i.body as { alert: { severity: string } }).alert.severity);
          const worstOf = (a: string | null) => Math.max(...g.filter((i) => i.alertId === a).map(rank));
          if (out.length > 1) expect(worstOf(out[0][0].alertId)).toBe(Math.max(...g.map(rank)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('leaves a group that fits, a single notice and a group already tried as they are', () => {
    const g = [item(1, 'a1', 'major', 100), item(2, 'a2', 'critical', 100)];
    expect(bySize(g, 64 * 1024)).toEqual([g]);
    expect(messagesOf([item(1, 'a1', 'major', 100_000)], () => 16 * 1024)).toHaveLength(1);
    const tried = g.map((i) => ({ ...i, body: { ...i.body, alert: { ...(i.body as { alert: object }).alert, message: 'x'.repeat(20_000) } } as never, notificationId: 'N1' }));
    expect(messagesOf(tried, () => 16 * 1024)).toEqual([tried]);
  });
});
