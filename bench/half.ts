// TEMPORARY: alarm stage trace at a steady load (not committed)
import { mkdtemp, writeFile, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import { freePort, generate, startService } from './processes.ts';
const rate = Number(process.env.RATE ?? 10000);
const dir = await mkdtemp('/tmp/rmhalf-');
const arrivals: { d: string; ms: number; at: number }[] = [];
const port = await freePort();
const server = createServer((req, res) => { const chunks: Buffer[] = []; req.on('data', (c) => chunks.push(c)); req.on('end', () => { const b = JSON.parse(Buffer.concat(chunks).toString()); for (const e of b.events ?? [b]) if (e.rule === 'gas-lel' && ['raised', 'reactivated'].includes(e.transition?.type)) arrivals.push({ d: e.deviceId, ms: Date.now() - Date.parse(e.transition.at), at: Date.now() }); res.end('{}'); }); });
await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
const { registry, clients } = benchRegistry(2000, { webhookUrl: `http://127.0.0.1:${port}/hook`, probes: 20 });
await writeFile(join(dir, 'r.yaml'), stringify(registry));
const trace = join(dir, 'trace');
const s = await startService({ CONFIG: join(dir, 'r.yaml'), DATA_DIR: join(dir, 'data'), ALARM_TRACE: trace, ...(process.env.SVC_ENV ? JSON.parse(process.env.SVC_ENV) : {}) });
const secs = Number(process.env.SECS ?? 20);
const g = generate({ host: '127.0.0.1', port: s.port, clients, qos: 1, rate, durationS: secs + 4, inflight: 20, connectConcurrency: 300 });
await g.connected;
await new Promise((r) => setTimeout(r, 3000));
const probes = await Promise.all(Array.from({ length: 20 }, (_, i) => mqtt.connectAsync(`mqtt://127.0.0.1:${s.port}`, { username: `probe-${i}`, password: `probe-secret-${i}`, reconnectPeriod: 0 })));
const seqs = probes.map(() => Math.floor(Date.now() / 1000));
const pub: { d: string; at: number }[] = [];
for (let k = 0, until = Date.now() + secs * 1000; Date.now() < until; k++) {
  const i = k % 20;
  const t = `v1/PROBE/probe-${i}/telemetry`;
  const at = Date.now();
  pub.push({ d: `probe-${i}`, at });
  probes[i].publish(t, JSON.stringify({ ts: at, seq: ++seqs[i], values: { gas_lel: 45 } }), { qos: 0 });
  await new Promise((r) => setTimeout(r, 100));
  probes[i].publish(t, JSON.stringify({ ts: Date.now(), seq: ++seqs[i], values: { gas_lel: 1 } }), { qos: 0 });
  await new Promise((r) => setTimeout(r, 100));
}
const __m = (await (await fetch(`http://127.0.0.1:${s.http}/metrics`)).text()).split('\n').filter((l) => l.startsWith('nodejs_eventloop_lag')).join('\n');
await new Promise((r) => setTimeout(r, 2000));
console.log(__m);
await g.done.catch(() => {});
await Promise.all(probes.map((p) => p.endAsync()));
await s.stop();
server.close();
const q = (a: number[], p: number) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
const w = arrivals.map((a) => a.ms);
console.log('webhook n', w.length, 'p50', q(w, 0.5), 'p90', q(w, 0.9), 'p99', q(w, 0.99), 'max', q(w, 1));
const lines = (await readFile(trace, 'utf8').catch(() => '')).trim().split('\n').map((l) => l.split(' '));
const by = new Map<string, Map<string, number>>();
for (const [, key, st, t] of lines) { const m = by.get(key) ?? new Map(); by.set(key, m); if (!m.has(st)) m.set(st, Number(t)); }
const stages = ['handle', 'live', 'commitStart', 'recorded', 'queued', 'deliver', 'sent'];
const deltas = new Map<string, number[]>();
for (const [key, m] of by) {
  let prev = Number(key.split('@')[1]);
  let prevName = 'publish';
  for (const st of stages) { const t = m.get(st); if (t === undefined) break; const k = `${prevName}→${st}`; const a = deltas.get(k) ?? []; deltas.set(k, a); a.push(t - prev); prev = t; prevName = st; }
}
for (const [k, a] of deltas) console.log(k.padEnd(22), 'n', a.length, 'p50', q(a, 0.5), 'p90', q(a, 0.9), 'p99', q(a, 0.99), 'max', q(a, 1));
console.log('generator', JSON.stringify(await g.done.catch((e) => String(e))).slice(0, 300));
const tx = (await readFile(trace + '.tx', 'utf8').catch(() => '')).trim().split('\n').map((l) => l.split(' '));
console.log('main-thread transactions', tx.length, 'per s', (tx.length / (secs + 7)).toFixed(0));
for (const [i, name] of [[1, 'wait'], [2, 'body'], [3, 'commit']] as const) { const a = tx.map((t) => Number(t[i])); console.log(name, 'p50', q(a, 0.5), 'p90', q(a, 0.9), 'p99', q(a, 0.99), 'max', q(a, 1)); }
const who = new Map<string, string[][]>(); for (const t of tx) { const a = who.get(t[4]) ?? []; who.set(t[4], a); a.push(t); }
for (const [w, ts] of [...who].sort((a, b) => b[1].length - a[1].length).slice(0, 10)) console.log(w.padEnd(26), 'n', ts.length, 'wait p50', q(ts.map((t) => Number(t[1])), 0.5), 'body p50', q(ts.map((t) => Number(t[2])), 0.5), 'p90', q(ts.map((t) => Number(t[2])), 0.9), 'commit p50', q(ts.map((t) => Number(t[3])), 0.5), 'p90', q(ts.map((t) => Number(t[3])), 0.9));
const bk = (await readFile(trace + '.book', 'utf8').catch(() => '')).trim().split('\n').map((l) => l.split(' ').map(Number));
console.log('book commits', bk.length, 'ms p50', q(bk.map((b) => b[1]), 0.5), 'p90', q(bk.map((b) => b[1]), 0.9), 'steps p50', q(bk.map((b) => b[2]), 0.5), 'lines p50', q(bk.map((b) => b[3]), 0.5), 'max steps', q(bk.map((b) => b[2]), 1));
const ln = (await readFile(trace + '.lane', 'utf8').catch(() => '')).trim().split('\n').map((l) => l.split(' '));
console.log('raise deliveries', ln.length, 'via round', ln.filter((l) => l[2] === 'round').length, 'digests', ln.filter((l) => Number(l[1]) > 1).length);
