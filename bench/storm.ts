/**
 * `npm run bench:storm`: a critical alarm's webhook while 2 000 devices raise a data-quality
 * warning at once (every device's seq jumps: readings missing) under 8k readings/s. Each of the
 * 20 probes raises a critical gas alarm; publish → webhook arrival, p50 / p90 / max.
 * `-- --hung-receiver`: the fleet's enterprises also tell a unit whose receiver never answers
 * (each attempt ends at the service's 5 s timeout): the probes' alarms must not wait for it.
 * `-- --offline-wave N`: one more enterprise of N devices (reporting every 3 s) reports during the
 * warm-up only, then falls silent at once (a plant's network lost): N device-offline alerts and
 * their notices to a working receiver while the probes run, which must not wait behind them.
 */
// first: what this run writes goes in a folder of its own, removed at its end
import './scratch.ts';
import { tmpdir } from 'node:os';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { benchRegistry, offlineWave } from './fleet-registry.ts';
import { freePort, generate, startService } from './processes.ts';
const dir = await mkdtemp(join(tmpdir(), 'rm-storm-'));
const arrivals: number[] = [];
const port = await freePort();
const server = createServer((req, res) => { const chunks: Buffer[] = []; req.on('data', (c) => chunks.push(c)); req.on('end', () => { const b = JSON.parse(Buffer.concat(chunks).toString()); for (const e of b.events ?? [b]) if (e.rule === 'gas-lel' && ['raised', 'reactivated'].includes(e.transition?.type)) arrivals.push(Date.now() - Date.parse(e.transition.at)); res.end('{}'); }); });
await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
const hung = process.argv.includes('--hung-receiver') ? createServer((req) => void req.resume()) : null;
const hungPort = await freePort();
if (hung) await new Promise<void>((r) => hung.listen(hungPort, '127.0.0.1', r));
const waveAt = process.argv.indexOf('--offline-wave');
const wave = waveAt > 0 ? Number(process.argv[waveAt + 1]) : 0;
let told = 0;
const waveHook = wave ? createServer((req, res) => { const chunks: Buffer[] = []; req.on('data', (c) => chunks.push(c)); req.on('end', () => { const b = JSON.parse(Buffer.concat(chunks).toString()); told += (b.events ?? [b]).length; res.end('{}'); }); }) : null;
const wavePort = await freePort();
if (waveHook) await new Promise<void>((r) => waveHook.listen(wavePort, '127.0.0.1', r));
const { registry, clients } = benchRegistry(2000, { webhookUrl: `http://127.0.0.1:${port}/hook`, probes: 20, ...(hung ? { fleetWebhookUrl: `http://127.0.0.1:${hungPort}/hung` } : {}) });
const waveClients = wave ? offlineWave(registry, wave, `http://127.0.0.1:${wavePort}/wave`) : [];
await writeFile(join(dir, 'r.yaml'), stringify(registry));
const s = await startService({ CONFIG: join(dir, 'r.yaml'), DATA_DIR: join(dir, 'data') }, process.env.STORM_NODE_ARGS?.split(' ') ?? []);
const g0 = generate({ host: '127.0.0.1', port: s.port, clients: [...clients, ...waveClients], qos: 1, rate: 8000, durationS: 5, inflight: 20, connectConcurrency: 300 });
await g0.done;
// a jump of every device's seq: 2 000 readings-missing warnings at once, with the load going on
const g = generate({ host: '127.0.0.1', port: s.port, clients, qos: 1, rate: 8000, durationS: 14, inflight: 20, connectConcurrency: 300, seqFrom: Object.fromEntries(clients.map((c) => [c.username!, 1e9])) });
await g.connected;
const probes = await Promise.all(Array.from({ length: 20 }, (_, i) => mqtt.connectAsync(`mqtt://127.0.0.1:${s.port}`, { username: `probe-${i}`, password: `probe-secret-${i}`, reconnectPeriod: 0 })));
let seq = 1;
for (let k = 0; k < 60; k++) {
  const p = probes[k % 20];
  const t = `v1/PROBE/probe-${k % 20}/telemetry`;
  p.publish(t, JSON.stringify({ ts: Date.now(), seq: ++seq, values: { gas_lel: 45 } }));
  await new Promise((r) => setTimeout(r, 100));
  p.publish(t, JSON.stringify({ ts: Date.now(), seq: ++seq, values: { gas_lel: 1 } }));
  await new Promise((r) => setTimeout(r, 100));
}
// what is late is waited for (up to two minutes), so a slow alarm shows as slow, not as missing
for (const until = Date.now() + (wave ? 120_000 : 3000); arrivals.length < 60 && Date.now() < until; ) await new Promise((r) => setTimeout(r, 100));
if (process.env.STORM_DEBUG) console.log(s.output().slice(-4000));
arrivals.sort((a, b) => a - b);
console.log(`storm of 2000 warnings + 8k/s${hung ? ', the fleet\'s receiver hung' : ''}${wave ? `, ${wave} devices of one enterprise offline at once` : ''}: critical webhooks n`, arrivals.length, 'p50', arrivals[Math.floor(arrivals.length / 2)], 'p90', arrivals[Math.floor(arrivals.length * 0.9)], 'max', arrivals.at(-1));
await g.done.catch(() => {});
await Promise.all(probes.map((p) => p.endAsync()));
await s.stop();
server.close();
hung?.closeAllConnections();
hung?.close();
if (wave) console.log('the offline wave\'s notices told by then:', told);
waveHook?.close();
