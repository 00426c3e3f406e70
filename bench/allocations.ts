/**
 * `npm run bench:allocations -- [readings/s] [devices]`: what the main thread allocates per
 * reading under a steady QoS 1 load (25k/s from 2 000 devices by default), garbage included, by
 * package and by function. V8's sampling heap profiler, asked through the inspector to keep what
 * the collector took, samples one allocation every 4 KB over 8 s of the load.
 *
 * Bytes per reading moved by about 10 % between runs here (5.3–5.8 KB at 25k/s), CPU time by up to
 * 2×: a change to the hot path can be judged by them. The garbage collector takes about a quarter
 * of the main thread's busy time under this load.
 */
// first: what this run writes goes in a folder of its own, removed at its end
import './scratch.ts';
import { tmpdir } from 'node:os';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import { freePort, generate, startService } from './processes.ts';

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: ProfileNode[];
}

const rate = Number(process.argv[2] ?? 25_000);
const devices = Number(process.argv[3] ?? 2000);
const SAMPLE_S = 8;
const dir = await mkdtemp(join(tmpdir(), 'rm-allocations-'));
const { registry, clients } = benchRegistry(devices, { webhookUrl: 'http://127.0.0.1:9/hook' });
await writeFile(join(dir, 'r.yaml'), stringify(registry));
const inspectPort = await freePort();
const s = await startService({ CONFIG: join(dir, 'r.yaml'), DATA_DIR: join(dir, 'data') }, [`--inspect=127.0.0.1:${inspectPort}`]);
try {
  const [target] = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
  let id = 0;
  const pending = new Map<number, (m: { result?: any; error?: { message: string } }) => void>();
  ws.on('message', (d) => {
    const m = JSON.parse(String(d));
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<any>((resolve, reject) => {
      pending.set(++id, (m) => (m.error ? reject(new Error(`${method}: ${m.error.message}`)) : resolve(m.result)));
      ws.send(JSON.stringify({ id, method, params }));
    });

  /** MQTT messages the main thread has taken from devices so far (one reading each here) */
  const messagesIn = async () => Number(/^gateway_messages_in_total (\d+)/m.exec(await (await fetch(`http://127.0.0.1:${s.http}/metrics`)).text())?.[1] ?? NaN);
  const g = generate({ host: '127.0.0.1', port: s.port, clients, qos: 1, rate, durationS: SAMPLE_S + 6, inflight: 20, connectConcurrency: 300 });
  await g.connected;
  // past the first seconds of the load (caches, the heap's first growth)
  await new Promise((r) => setTimeout(r, 3000));
  await call('HeapProfiler.enable');
  const from = await messagesIn();
  await call('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  await new Promise((r) => setTimeout(r, SAMPLE_S * 1000));
  const { profile } = (await call('HeapProfiler.stopSampling')) as { profile: { head: ProfileNode } };
  const until = await messagesIn();
  ws.close();
  const done = await g.done;

  // what the main thread took meanwhile: its allocations are per message of those
  const readings = until - from;
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (n: ProfileNode) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.includes('dist/service') ? 'the service' : url.startsWith('node:') ? 'node' : functionName || 'V8');
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + n.selfSize);
    const fn = `${functionName || '(anonymous)'} ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + n.selfSize);
    total += n.selfSize;
    n.children.forEach(walk);
  };
  walk(profile.head);
  if (!(readings > 0)) throw new Error('no message was taken while the profile ran');
  const per = (bytes: number) => Math.round(bytes / readings);
  console.log(`${rate} readings/s asked, QoS 1, ${devices} devices: ${readings} messages taken in ${SAMPLE_S} s (acknowledged in all ${done.acked})`);
  console.log(`main thread: ${per(total)} bytes allocated per reading (garbage included; sampled every 4 KB)`);
  console.log('by package:');
  for (const [k, b] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`  ${String(per(b)).padStart(6)}  ${k}`);
  console.log('by function:');
  for (const [k, b] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${String(per(b)).padStart(6)}  ${k}`);
} finally {
  await s.stop();
}
