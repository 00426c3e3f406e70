/**
 * `npm run bench:alarm-path -- [readings/s] [--influx]`: where a critical alarm's time goes under a steady
 * QoS 1 load (10k readings/s by default, about half of what the service sustains here) from 2 000
 * devices. Twenty probes raise and clear a gas alarm in turn (raise, 100 ms, clear, 100 ms, the
 * next probe) for 20 s. Prints publish → webhook arrival (p50 / p90 / p99 of ~100 alarms, and the
 * first alarm's: the service's first notice since its start), publish → the live stream, and the
 * service's own timings of the two waits after the rules (`/metrics`): the change decided → in the
 * alert record, and the notice queued → taken by the receiver, p50 / p90 read from the buckets.
 * `--influx` stores the readings in a local influxd (started here) instead of the embedded store.
 * Run a change and the build before it back to back, several times each: one run moves by 2–5×
 * on this shared machine.
 */
// first: what this run writes goes in a folder of its own, removed at its end
import './scratch.ts';
import { tmpdir } from 'node:os';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import { freePort, generate, startService } from './processes.ts';
import { startInfluxd } from '../scripts/influxd.ts';

const rate = Number(process.argv[2] ?? 10_000);
const seconds = 20;
const dir = await mkdtemp(join(tmpdir(), 'rm-alarm-path-'));
const arrivals: number[] = [];
const port = await freePort();
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const b = JSON.parse(Buffer.concat(chunks).toString());
    for (const e of b.events ?? [b]) if (e.rule === 'gas-lel' && ['raised', 'reactivated'].includes(e.transition?.type)) arrivals.push(Date.now() - Date.parse(e.transition.at));
    res.end('{}');
  });
});
await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
const { registry, clients } = benchRegistry(2000, { webhookUrl: `http://127.0.0.1:${port}/hook`, probes: 20 });
await writeFile(join(dir, 'r.yaml'), stringify(registry));
const influxd = process.argv.includes('--influx') ? await startInfluxd() : null;
const s = await startService({ CONFIG: join(dir, 'r.yaml'), DATA_DIR: join(dir, 'data'), ...(influxd ? { INFLUX_URL: influxd.url, INFLUX_DB: 'bench' } : {}) });
const g = generate({ host: '127.0.0.1', port: s.port, clients, qos: 1, rate, durationS: seconds + 4, inflight: 20, connectConcurrency: 300 });
await g.connected;
await new Promise((r) => setTimeout(r, 3000));
// the live stream too: publish → the operators' screens, before the record and the notices
const live: number[] = [];
const stream = new AbortController();
void fetch(`http://127.0.0.1:${s.http}/api/alerts/stream`, { headers: { authorization: 'Bearer bench-operator-token' }, signal: stream.signal }).then(async (res) => {
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body!) {
    const now = Date.now();
    buf += dec.decode(chunk as Uint8Array, { stream: true });
    for (let i; (i = buf.indexOf('\n\n')) >= 0; buf = buf.slice(i + 2)) {
      const data = /^data: (.*)$/m.exec(buf.slice(0, i))?.[1];
      const e = data ? (JSON.parse(data) as { rule?: string; transition?: { type: string; at: string } }) : undefined;
      if (e?.rule === 'gas-lel' && ['raised', 'reactivated'].includes(e.transition?.type ?? '')) live.push(now - Date.parse(e.transition!.at));
    }
  }
}).catch(() => {});
// where readings wait meanwhile (a turn's worth on the main thread, or the pipeline's bound reached)
const depths: { waiting: number; inFlight: number }[] = [];
const sampling = setInterval(() => {
  void fetch(`http://127.0.0.1:${s.http}/metrics`).then(async (r) => {
    const text = await r.text();
    const of = (where: string) => Number(new RegExp(`^pipeline_messages\\{where="${where}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    depths.push({ waiting: of('waiting'), inFlight: of('in_flight') });
  }, () => {});
}, 500);
const probes = await Promise.all(Array.from({ length: 20 }, (_, i) => mqtt.connectAsync(`mqtt://127.0.0.1:${s.port}`, { username: `probe-${i}`, password: `probe-secret-${i}`, reconnectPeriod: 0 })));
const seqs = probes.map(() => Math.floor(Date.now() / 1000));
// raises sent: about five a second, fewer when the timers run late on the loaded machine
let raises = 0;
for (let k = 0, until = Date.now() + seconds * 1000; Date.now() < until; k++, raises++) {
  const i = k % 20;
  const topic = `v1/PROBE/probe-${i}/telemetry`;
  // QoS 0: the alarm is raised on receipt; the probe does not wait for the store
  probes[i].publish(topic, JSON.stringify({ ts: Date.now(), seq: ++seqs[i], values: { gas_lel: 45 } }), { qos: 0 });
  await new Promise((r) => setTimeout(r, 100));
  probes[i].publish(topic, JSON.stringify({ ts: Date.now(), seq: ++seqs[i], values: { gas_lel: 1 } }), { qos: 0 });
  await new Promise((r) => setTimeout(r, 100));
}
// what is late is waited for (up to 5 s), so a slow alarm shows as slow, not as missing
for (const until = Date.now() + 5000; arrivals.length < raises && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
const metrics = await (await fetch(`http://127.0.0.1:${s.http}/metrics`)).text();
await g.done.catch(() => {});
await Promise.all(probes.map((p) => p.endAsync()));
clearInterval(sampling);
stream.abort();
await s.stop();
await influxd?.stop();
server.close();

const at = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];
/** a quantile of a Prometheus histogram, as the upper bound of the bucket it falls in */
const bucketed = (name: string, label: string, p: number) => {
  const buckets = [...metrics.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)",${label}\\} (\\d+)$`, 'gm'))].map((m) => [Number(m[1]), Number(m[2])] as const);
  const total = buckets.at(-1)?.[1] ?? 0;
  const hit = buckets.find(([, n]) => n >= total * p);
  return total ? `≤ ${hit![0] * 1000} ms` : 'no sample';
};
console.log(`${rate} readings/s, QoS 1, 2 000 devices, ${influxd ? 'InfluxDB' : 'embedded'} store; ${arrivals.length} critical alarms of ${raises} raised at the webhook`);
if (!arrivals.length) throw new Error('no alarm reached the webhook');
console.log(`publish → webhook: p50 ${at(arrivals, 0.5)} ms, p90 ${at(arrivals, 0.9)} ms, p99 ${at(arrivals, 0.99)} ms, max ${at(arrivals, 1)} ms; the first alarm ${arrivals[0]} ms`);
console.log(`publish → live stream: ${live.length ? `p50 ${at(live, 0.5)} ms, p90 ${at(live, 0.9)} ms, p99 ${at(live, 0.99)} ms (n = ${live.length})` : 'no sample'}`);
const mid = (xs: number[]) => (xs.length ? [...xs].sort((x, y) => x - y)[xs.length >> 1] : NaN);
console.log(`pipeline messages (median / max of ${depths.length} samples): waiting on the main thread ${mid(depths.map((d) => d.waiting))} / ${Math.max(...depths.map((d) => d.waiting))}, handed over and not committed ${mid(depths.map((d) => d.inFlight))} / ${Math.max(...depths.map((d) => d.inFlight))}`);
console.log(`decided → in the record (critical): p50 ${bucketed('alerts_record_seconds', 'severity="critical"', 0.5)}, p90 ${bucketed('alerts_record_seconds', 'severity="critical"', 0.9)}`);
console.log(`queued → taken by the receiver (critical alarms): p50 ${bucketed('notifications_first_delivery_seconds', 'notice="critical_alarm"', 0.5)}, p90 ${bucketed('notifications_first_delivery_seconds', 'notice="critical_alarm"', 0.9)}`);
