// first: what this run writes goes in a folder of its own, removed at its end
import './scratch.ts';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { ClusterLog } from '../services/cluster/log.ts';
import { startInfluxd } from '../scripts/influxd.ts';
import { startNats } from '../scripts/nats.ts';
import { startPostgres } from '../scripts/postgres.ts';
import { waitFor } from '../scripts/wait.ts';
import { benchRegistry } from './fleet-registry.ts';
import { cpuMs, freePort, generate, pinned, waitForPort, type Running } from './processes.ts';

/**
 * `npm run bench:cluster`: cluster mode's scaling on this machine. The same load per worker with
 * 1, 2 and 3 workers (BENCH_PER_WORKER readings/s from 400 devices each, QoS 1: the fleet grows
 * with the workers): each worker's CPU per reading it applied should stay flat as workers are
 * added (on two cores the wall-clock throughput cannot grow: CPU per reading is the figure that
 * shows whether the work divides). And the edge's CPU per reading (MQTT, auth, one JetStream
 * publish per message). One NATS node and replicas 1: the workers' and the edge's own cost, not the
 * log's replication, is what is measured here (the fault tests run three nodes). Each step warms
 * up first (a worker that just joined replays its partitions' logs from their snapshots), then
 * is measured.
 */
const quick = process.env.BENCH_QUICK === '1';
const perWorker = Number(process.env.BENCH_PER_WORKER ?? 400);
const steadyS = quick ? 8 : 20;
const P = 24;
const log = (s: string) => console.log(s);

const dir = await mkdtemp(join(tmpdir(), 'rm-bench-cluster-'));
const [nats, postgres, influx] = await Promise.all([startNats({ partitions: P }), startPostgres(), startInfluxd()]);
const pgUrl = await postgres.database('bench');
const DEVICES_PER_WORKER = 400;
// small enterprises, so that a fleet of any size spreads over every partition
const { registry, clients } = benchRegistry(3 * DEVICES_PER_WORKER, { perEnterprise: 10 });
const config = join(dir, 'registry.yaml');
await writeFile(config, stringify(registry));
const common = { CONFIG: config, NATS_URL: nats.url, PG_URL: pgUrl, INFLUX_URL: influx.url, INFLUX_DB: 'bench', CLUSTER_PARTITIONS: String(P), CLUSTER_REPLICAS: '1', LEASE_S: '5', LOG_LEVEL: 'warn', HOST: '127.0.0.1', SIMULATORS: 'off' };

async function role(name: string, r: 'edge' | 'worker', extra: Record<string, string> = {}): Promise<Running & { name: string; http: number }> {
  const http = await freePort();
  await mkdir(join(dir, name), { recursive: true });
  // BENCH_PROFILE=<folder>: each process writes a CPU profile there when it stops
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`] : [];
  const child = pinned('0,1', process.execPath, [...profile, '--enable-source-maps', 'dist/main.mjs'], { ...process.env, ...common, ROLE: r, NODE_ID: name, DATA_DIR: join(dir, name), HTTP_PORT: String(http), MQTT_PORT: extra.MQTT_PORT ?? '0', MQTT_WS_PORT: '0', ...extra });
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-5000)));
  await waitForPort(http, 60_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${out}`);
  });
  return { name, pid: child.pid!, port: Number(extra.MQTT_PORT ?? 0), http, stop: () => new Promise<void>((res) => (child.once('exit', () => res()), child.kill('SIGTERM'))) };
}

const db = new pg.Client(pgUrl);
const clusterLog = await ClusterLog.connect(nats.urls, 'bench', { info() {}, warn() {}, error() {} });
const owners = async () => new Map((await db.query<{ id: number; owner: string }>('SELECT id, owner FROM partitions')).rows.map((r) => [r.id, r.owner]));
const lastSeqs = async () => Promise.all(Array.from({ length: P }, (_, p) => clusterLog.bounds(p).then((b) => b.last)));

const mqttPort = await freePort();
const edge = await role('edge', 'edge', { MQTT_PORT: String(mqttPort) });
await waitForPort(mqttPort);
await db.connect();
const workers: Awaited<ReturnType<typeof role>>[] = [];
const rows: { workers: number; ratePerS: number; acked: number; perWorker: { name: string; readings: number; usPerReading: number; idleMsPerS: number; marginalUsPerReading: number }[]; edgeUsPerReading: number; spread: number }[] = [];
const seqFrom: Record<string, number> = Object.create(null);
for (const n of (process.env.BENCH_WORKERS ?? '1,2,3').split(',').map(Number)) {
  while (workers.length < n) workers.push(await role(`w${workers.length + 1}`, 'worker'));
  await waitFor(async () => {
    const o = await owners();
    const counts = workers.map((w) => [...o.values()].filter((x) => x === w.name).length);
    return counts.every((c) => c >= Math.floor(P / n)) && counts.reduce((a, b) => a + b, 0) === P;
  }, 60_000, `${n} workers share the partitions`);
  const rate = perWorker * n;
  const fleet = clients.slice(0, DEVICES_PER_WORKER * n);
  log(`${n} worker(s), ${fleet.length} devices, ${rate} readings/s`);
  const warmS = quick ? 3 : 5;
  const g = generate({ host: '127.0.0.1', port: mqttPort, clients: fleet, qos: 1, rate, durationS: warmS + steadyS, inflight: 20, connectConcurrency: 300, seqFrom: { ...seqFrom }, waitForGo: true });
  await g.connected;
  // what each worker costs with its partitions and no readings (ticks, snapshots, the log's
  // consumers): the part of its CPU per reading that falls as the readings rise
  const idle0 = await Promise.all(workers.map((w) => cpuMs(w.pid)));
  const idleT0 = Date.now();
  await new Promise((r) => setTimeout(r, 3000));
  const idleMsPerS = (await Promise.all(workers.map((w) => cpuMs(w.pid)))).map((c, i) => ((c - idle0[i]) * 1000) / (Date.now() - idleT0));
  g.go();
  await new Promise((r) => setTimeout(r, warmS * 1000));
  const o = await owners();
  const seq0 = await lastSeqs();
  const cpu0 = await Promise.all(workers.map((w) => cpuMs(w.pid)));
  const edge0 = await cpuMs(edge.pid);
  const t0 = Date.now();
  const done = await g.done;
  Object.assign(seqFrom, done.lastSeqs ?? {});
  // every worker has applied what was appended (its partitions' progress caught up)
  const seq1 = await lastSeqs();
  await waitFor(async () => (await db.query<{ id: number; progress: string }>('SELECT id, progress FROM partitions')).rows.every((r) => Number(r.progress) >= seq1[r.id]), 120_000, 'workers caught up');
  const cpu1 = await Promise.all(workers.map((w) => cpuMs(w.pid)));
  const edge1 = await cpuMs(edge.pid);
  const seconds = (Date.now() - t0) / 1000;
  // a worker's readings: the messages appended to its partitions meanwhile (ticks are a few a second)
  const perW = workers.map((w, i) => {
    const readings = [...o].filter(([, owner]) => owner === w.name).reduce((k, [p]) => k + (seq1[p] - seq0[p]), 0);
    const cpu = cpu1[i] - cpu0[i];
    return { name: w.name, readings, usPerReading: Math.round((cpu * 1000) / Math.max(1, readings)), idleMsPerS: Math.round(idleMsPerS[i]), marginalUsPerReading: Math.round(((cpu - idleMsPerS[i] * seconds) * 1000) / Math.max(1, readings)) };
  });
  const us = perW.map((w) => w.usPerReading);
  const appended = seq1.reduce((k, last, p) => k + last - seq0[p], 0);
  const row = { workers: n, ratePerS: rate, acked: done.acked, perWorker: perW, edgeUsPerReading: Math.round(((edge1 - edge0) * 1000) / Math.max(1, appended)), spread: Math.round((100 * (Math.max(...us) - Math.min(...us))) / Math.max(1, Math.min(...us))) };
  rows.push(row);
  log(`  per worker: ${perW.map((w) => `${w.name} ${w.usPerReading} µs/reading (${w.readings}), idle ${w.idleMsPerS} ms/s, above idle ${w.marginalUsPerReading} µs/reading`).join('; ')}; edge ${row.edgeUsPerReading} µs/reading`);
}
for (const w of workers) await w.stop();
await edge.stop();
await db.end();
await clusterLog.close();
await Promise.all([nats.stop(), postgres.stop(), influx.stop()]);

const base = rows[0].perWorker[0].usPerReading;
const baseMarginal = rows[0].perWorker[0].marginalUsPerReading;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const md = [
  `# Cluster mode: scaling (${new Date().toISOString()}${quick ? ', quick run' : ''})`,
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}. One nats-server (JetStream, replicas 1), PostgreSQL, influxd, one edge, 1–3 workers, the generator: all on these cores. ${P} partitions; per worker ${DEVICES_PER_WORKER} devices (every industry template, 10 to an enterprise) and ${perWorker} readings/s, QoS 1, measured for ${steadyS} s after a warm-up. A worker's readings are the messages appended to the partitions it owns (its ticks included: a few a second).`,
  '',
  '| workers | readings/s | CPU per reading, each worker (µs) | spread | vs 1 worker | above idle, each worker (µs) | vs 1 worker | idle, each worker (ms/s) | edge CPU per reading (µs) |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.workers} | ${r.ratePerS} | ${r.perWorker.map((w) => `${w.name}: ${w.usPerReading}`).join(', ')} | ${r.spread} % | ${(mean(r.perWorker.map((w) => w.usPerReading)) / base).toFixed(2)}× | ${r.perWorker.map((w) => w.marginalUsPerReading).join(', ')} | ${(mean(r.perWorker.map((w) => w.marginalUsPerReading)) / baseMarginal).toFixed(2)}× | ${r.perWorker.map((w) => w.idleMsPerS).join(', ')} | ${r.edgeUsPerReading} |`,
  ),
  '',
  'Target: CPU per reading per worker flat within ±15 % as workers are added at the same per-worker load. "Above idle" is a worker\'s CPU over what it spends with its partitions and no readings, per reading: the cost that grows with the readings.',
  '',
].join('\n');
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/cluster.md', md);
await writeFile('bench/results/cluster.json', JSON.stringify({ quick, perWorker, partitions: P, machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, rows }, null, 2));
log(md);
process.exit(0);
