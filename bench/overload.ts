// first: what this run writes goes in a folder of its own, removed at its end
import './scratch.ts';
import { tmpdir } from 'node:os';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import { freePort, generate, rssKb, startService } from './processes.ts';

/**
 * `npm run bench:overload -- [rate] [seconds] [devices]`: the bench's overload phase on its own, with
 * what the memory is made of every two seconds: the process's RSS, and from /metrics each thread's
 * V8 heap and the readings waiting on the main thread or on the pipeline thread. For finding where
 * memory goes under a load the service cannot keep up with; `npm run bench` keeps the figure.
 * OVERLOAD_NODE_ARGS: node options for the service (e.g. `--heap-prof --heap-prof-dir=/tmp/p`).
 */
const rate = Number(process.argv[2] ?? 75_000);
const seconds = Number(process.argv[3] ?? 30);
const devices = Number(process.argv[4] ?? 2000);
const dir = await mkdtemp(join(tmpdir(), 'rm-overload-'));
const hookPort = await freePort();
const hook = createServer((req, res) => void req.resume().on('end', () => res.end('{}'))).listen(hookPort, '127.0.0.1');
const { registry, clients } = benchRegistry(devices, { webhookUrl: `http://127.0.0.1:${hookPort}/hook` });
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'registry.yaml'), stringify(registry));
const service = await startService({ CONFIG: join(dir, 'registry.yaml'), DATA_DIR: join(dir, 'data') }, process.env.OVERLOAD_NODE_ARGS ? process.env.OVERLOAD_NODE_ARGS.split(' ') : []);
const base = `http://127.0.0.1:${service.http}`;
const gauge = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN);
const sample = async () => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const mb = (b: number) => Math.round(b / 1048576);
  return `RSS ${Math.round((await rssKb(service.pid)) / 1024)} MB, heap main ${mb(gauge(text, 'process_thread_heap_bytes\\{thread="main",kind="used"\\}'))}/${mb(gauge(text, 'process_thread_heap_bytes\\{thread="main",kind="total"\\}'))} MB, pipeline ${mb(gauge(text, 'process_thread_heap_bytes\\{thread="pipeline",kind="used"\\}'))}/${mb(gauge(text, 'process_thread_heap_bytes\\{thread="pipeline",kind="total"\\}'))} MB, external ${mb(gauge(text, 'nodejs_external_memory_bytes'))} MB, waiting ${gauge(text, 'pipeline_messages\\{where="waiting"\\}')}, in flight ${gauge(text, 'pipeline_messages\\{where="in_flight"\\}')}`;
};
const job = (r: number, s: number, inflight: number) => ({ host: '127.0.0.1', port: service.port, clients, qos: 1 as const, rate: r, durationS: s, inflight, connectConcurrency: 300, seqFrom: {}, reportAcked: false });
try {
  // a steady start (as the bench's overload follows its other phases)
  const warm = generate(job(Math.round(rate / 6), 10, 20));
  await warm.connected;
  await warm.done;
  console.log(`start: ${await sample()}`);
  const g = generate(job(rate, seconds, 100));
  await g.connected;
  const t0 = Date.now();
  const timer = setInterval(() => void sample().then((s) => console.log(`${Math.round((Date.now() - t0) / 1000)} s: ${s}`), () => {}), 2000);
  const done = await g.done;
  console.log(`acked ${Math.round(done.acked / done.elapsedS)}/s of ${rate}/s asked`);
  // what the devices' going away and the backlog's draining cost, for as long again as the bench waits
  await new Promise((r) => setTimeout(r, 10_000));
  clearInterval(timer);
  console.log(`after: ${await sample()}`);
} finally {
  await service.stop();
  hook.close();
}
