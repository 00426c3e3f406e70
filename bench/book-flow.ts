/**
 * `npm run bench:book [-- PER]`: how long the alert book keeps what is handed to it waiting while
 * a sustained flow of other changes keeps the record's commits going: PER device-offline changes
 * every 20 ms for 6 s (default 50, 2 500/s) on a real DuckDB file, and every 200 ms
 * - a critical alarm handed in (a reading's PUBACK waits for its answer),
 * - an operator acknowledging an alarm raised before the flow began,
 * - a `notified` line recorded (an outbox lane waits for it before its next message);
 * each from the call to its answer, p50 / p90 / max.
 */
// first: what this run writes goes in a folder of its own, removed at its end
import './scratch.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AlertBook } from '../services/alerts/alert-book.ts';
import { AlertStore } from '../services/alerts/alert-store.ts';
import { Database } from '../services/store/database.ts';

const PER = Number(process.argv[2] ?? 50);
const db = await Database.open(await mkdtemp(join(tmpdir(), 'rm-book-')));
const store = await AlertStore.create(await db.sql());
const b = new AlertBook(store, () => ({ region: 'r', industry: 'hazchem', review: { from: null, withinMs: 0 } }), () => Date.now());
const o = (i: number, sev: 'major' | 'critical' = 'major') => ({ key: `d${i}/offline`, change: 'raise' as const, ruleId: 'device-offline', ruleKind: 'offline', enterpriseId: 'E', deviceId: `d${i}`, metric: '_device', severity: sev, value: 0, peak: 0, threshold: null, at: Date.now(), message: 'x' });
let i = 0;
// alarms an operator acknowledges during the flow
await b.handle(Array.from({ length: 100 }, () => o(i++, 'critical')));
const toAck = b.openAlerts().map((a) => a.id);

const timings = { alarm: [] as number[], ack: [] as number[], line: [] as number[] };
const timed = (what: keyof typeof timings, p: Promise<unknown>) => {
  const t0 = Date.now();
  return p.then(() => void timings[what].push(Date.now() - t0));
};
const waits: Promise<void>[] = [];
const end = Date.now() + 6000;
for (let k = 0; Date.now() < end; k++) {
  void b.handle(Array.from({ length: PER }, () => o(i++))).catch(() => {});
  if (k % 10 === 0) waits.push(timed('alarm', b.handle([o(i++, 'critical')])));
  if (k % 10 === 3) waits.push(timed('ack', b.ack(toAck.pop()!, 'operator:bench')));
  if (k % 10 === 6) waits.push(timed('line', b.record([{ alertId: toAck[0], at: Date.now(), type: 'notified', actor: 'system' }])));
  await new Promise((r) => setTimeout(r, 20));
}
await Promise.all(waits);
const figures = (xs: number[]) => {
  xs.sort((a, b) => a - b);
  return `n ${xs.length} p50 ${xs[xs.length >> 1]} p90 ${xs[Math.floor(xs.length * 0.9)]} max ${xs.at(-1)}`;
};
console.log(`${PER * 50} changes/s offered, ${i} handled; ms from call to answer: alarm ${figures(timings.alarm)}; acknowledge ${figures(timings.ack)}; record line ${figures(timings.line)}`);
await db.close();
