import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInfluxd } from '../scripts/influxd.ts';
import { benchBrokers, type BrokerFigures } from './brokers.ts';
import { benchConnections } from './connections.ts';
import { benchInflux } from './influx.ts';
import { benchPipeline, type PipelineFigures } from './pipeline.ts';
import { fleetReference } from './fleet-reference.ts';
import { benchRules } from './rules.ts';

/**
 * `npm run bench`: every figure beside a reference measured in the same run on this machine.
 * BENCH_QUICK=1 shortens every phase (a smoke run, not figures to quote).
 */
const quick = process.env.BENCH_QUICK === '1';
const log = (s: string) => console.log(s);
const started = new Date().toISOString();
const dir = await mkdtemp(join(tmpdir(), 'rm-bench-'));
const devices = Number(process.env.BENCH_DEVICES ?? 2000);
const steadyS = quick ? 6 : 15;

log('1. reference and broker only: publish → subscribe, 4 publishers, 1 subscriber');
const brokers = await benchBrokers(dir, quick ? 4 : 8);
for (const b of brokers) log(`  ${b.broker} QoS ${b.qos}: ${b.deliveredPerS}/s delivered${b.crashed ? ' (CRASHED)' : ''}`);

log(`2. reference for the fleet: mosquitto, ${devices} device connections publishing QoS 0 and 1`);
const fleetRef = await fleetReference(dir, devices, quick ? 4 : 8);
for (const f of fleetRef) log(`  mosquitto QoS ${f.qos}: ${f.perS}/s`);

log(`3. full pipeline, embedded store, ${devices} devices`);
const embedded = await benchPipeline({ dir: join(dir, 'embedded'), devices, overloadS: quick ? 10 : 60, steadyS, log });
let influx: PipelineFigures | null = null;
const influxd = await startInfluxd().catch(() => null);
if (influxd) {
  log(`3b. full pipeline, InfluxDB store (local influxd), ${devices} devices`);
  try {
    influx = await benchPipeline({ dir: join(dir, 'influx'), devices, influx: { url: influxd.url, db: 'bench' }, overloadS: quick ? 10 : 30, steadyS, log });
  } finally {
    await influxd.stop();
  }
}

log('4. connections');
const connections = await benchConnections(join(dir), quick ? [500, 2000] : [1000, 10_000, 19_500], log);

log('5. rules');
const rules = benchRules();
log('6. InfluxDB write path');
const influxWrites = await benchInflux();

const results = { started, quick, machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, devices, brokers, fleetRef, embedded, influx, connections, rules, influxWrites };
const ratio = (x: number, ref: number | undefined) => (ref ? `${(x / ref).toFixed(2)}×` : '—');
const k = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : String(x));
const ref = (qos: 0 | 1) => brokers.find((b) => b.broker === 'mosquitto' && b.qos === qos);
const fleet = (qos: 0 | 1) => fleetRef.find((f) => f.qos === qos)?.perS;
const rows: string[][] = [];
for (const b of brokers.filter((x) => x.broker !== 'mosquitto'))
  rows.push([`broker only (bare aedes), publish → subscribe, QoS ${b.qos}`, `${k(b.deliveredPerS)}/s${b.crashed ? ' — crashed' : ''}`, `${k(ref(b.qos)?.deliveredPerS ?? 0)}/s mosquitto`, ratio(b.deliveredPerS, ref(b.qos)?.deliveredPerS)]);
for (const p of [embedded, influx].filter((x): x is PipelineFigures => !!x)) {
  const s = p.store === 'embedded' ? 'embedded store' : 'InfluxDB store';
  rows.push([`full pipeline, ${s}: highest sustained QoS 1 readings/s, every one acknowledged and stored`, `${k(p.qos1.sustainedPerS)}/s`, `${k(fleet(1) ?? 0)}/s mosquitto, same fleet`, ratio(p.qos1.sustainedPerS, fleet(1))]);
  rows.push([`full pipeline, ${s}: highest sustained QoS 0 readings/s, every one accepted and stored`, `${k(p.qos0.sustainedPerS)}/s`, `${k(fleet(0) ?? 0)}/s mosquitto, same fleet`, ratio(p.qos0.sustainedPerS, fleet(0))]);
  rows.push([`full pipeline, ${s}: gateway CPU per reading (QoS 1 / QoS 0)`, `${p.qos1.cpuUsPerReading} / ${p.qos0.cpuUsPerReading} µs`, '15 µs target', ratio(p.qos1.cpuUsPerReading, 15)]);
  for (const l of p.latency)
    rows.push([`${s}: publish → alert at ${l.at} of that rate (${k(l.ratePerS)}/s), p50 / p99 / max`, `SSE ${l.sse.p50} / ${l.sse.p99} / ${l.sse.max} ms; webhook ${l.webhook.p50} / ${l.webhook.p99} / ${l.webhook.max} ms (n = ${l.sse.n}, ${l.webhook.n})`, '10 ms p99 target', ratio(l.sse.p99, 10)]);
  const o = p.overload;
  rows.push([`${s}: 3× overload (${k(o.targetPerS)}/s asked, QoS 1)`, `${k(o.ackedPerS)}/s acknowledged; RSS ${o.rssStartMb} → peak ${o.rssPeakMb} → ${o.rssEndMb} MB; backlog drained in ${o.drainS} s${o.crashed ? '; CRASHED' : ''}`, '—', '—']);
  if (p.qos0Flood) rows.push([`${s}: QoS 0 flood from 4 devices for 10 s (the flood that overflowed bare aedes' stack)`, `${k(p.qos0Flood.sentPerS)}/s offered; RSS peak ${p.qos0Flood.rssPeakMb} MB; ${p.qos0Flood.crashed ? 'CRASHED' : 'still serving'}`, '—', '—']);
  rows.push([`${s}: values acknowledged or accepted vs found in the store afterwards`, `${p.stored.storedValues} of ${p.stored.expectedValues} (${p.stored.lost} lost)`, '—', '—']);
}
for (const c of connections.steps) rows.push([`${c.devices} idle devices connected: RSS per device; connect rate`, `${c.kbPerDevice} KB; ${c.connectPerS} connects/s`, '32 KB target', ratio(c.kbPerDevice, 32)]);
rows.push([`rule evaluation per reading, ${rules.devices} devices, ${rules.rules} rules, every template`, `${rules.nsPerReading} ns`, `${rules.referenceNsPerReading} ns hand-written comparisons`, `${rules.ratio}×`]);
if (influxWrites) rows.push([`InfluxDB writes into a local influxd (${influxWrites.points} points through the disk buffer)`, `${k(influxWrites.pointsPerS)} points/s`, `${k(influxWrites.referencePointsPerS)} points/s ready-made gzipped line protocol`, `${influxWrites.ratio}×`]);
for (const b of brokers.filter((x) => x.broker === 'mosquitto')) rows.push([`reference: mosquitto publish → subscribe, QoS ${b.qos}`, `${k(b.deliveredPerS)}/s`, '—', '—']);

const table = ['| measure | this product | reference (same run) | ratio |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/latest.json', JSON.stringify(results, null, 2) + '\n');
const md = `# Benchmark ${started}${quick ? ' (quick smoke run)' : ''}\n\n${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}; the broker or service pinned to core 0, the load generator to core 1.\n\n${table}\n`;
await writeFile('bench/results/latest.md', md);
console.log('\n' + table);
