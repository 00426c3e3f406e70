/**
 * `npm run bench:book [-- PER]`: how long a change handed to the alert book waits for its answer
 * (the PUBACK of the reading that caused it waits for this) while a sustained flow of other
 * changes keeps the record's commits going: PER device-offline changes every 20 ms for 6 s
 * (default 50, 2 500/s) on a real DuckDB file, and a critical alarm every 200 ms; handle →
 * resolved, p50 / p90 / max.
 */
import { AlertBook } from '../services/alerts/alert-book.ts';
import { AlertStore } from '../services/alerts/alert-store.ts';
import { Database } from '../services/store/database.ts';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const PER = Number(process.argv[2] ?? 50);
const db = await Database.open(await mkdtemp(join(tmpdir(), 'rm-book-')));
const store = await AlertStore.create(await db.sql());
const b = new AlertBook(store, () => ({ region: 'r', industry: 'hazchem', review: { from: null, withinMs: 0 } }), () => Date.now());
const o = (i: number, sev: 'major' | 'critical' = 'major') => ({ key: `d${i}/offline`, change: 'raise' as const, ruleId: 'device-offline', ruleKind: 'offline', enterpriseId: 'E', deviceId: `d${i}`, metric: '_device', severity: sev, value: 0, peak: 0, threshold: null, at: Date.now(), message: 'x' });
let i = 0;
const lat: number[] = [];
const probes: Promise<void>[] = [];
const end = Date.now() + 6000;
let k = 0;
while (Date.now() < end) {
  void b.handle(Array.from({ length: PER }, () => o(i++))).catch(() => {});
  if (k++ % 10 === 0) {
    const t0 = Date.now();
    probes.push(b.handle([o(i++, 'critical')]).then(() => void lat.push(Date.now() - t0)));
  }
  await new Promise((r) => setTimeout(r, 20));
}
await Promise.all(probes);
lat.sort((a, b) => a - b);
console.log(`${PER * 50} changes/s offered;`, 'changes', i, 'probe handle→resolved ms: n', lat.length, 'p50', lat[lat.length >> 1], 'p90', lat[Math.floor(lat.length * 0.9)], 'max', lat.at(-1));
await db.close();
