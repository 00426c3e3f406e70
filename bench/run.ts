// first: what this run writes goes in a folder of its own, removed at its end
import './scratch.ts';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInfluxd } from '../scripts/influxd.ts';
import { benchBrokers, type BrokerFigures } from './brokers.ts';
import { benchConnections } from './connections.ts';
import { benchInflux } from './influx.ts';
import { benchPipeline, LATE_WAIT_S, WARM_S, type PipelineFigures } from './pipeline.ts';
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
const rules = [await benchRules(1200), await benchRules(10_000, quick ? 300_000 : 1_000_000)];
log('6. InfluxDB write path');
const influxWrites = await benchInflux();

const results = { started, quick, machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, devices, brokers, fleetRef, embedded, influx, connections, rules, influxWrites };
const ratio = (x: number, ref: number | undefined) => (ref ? `${(x / ref).toFixed(2)}×` : '—');
const k = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : String(x));
const ref = (qos: 0 | 1) => brokers.find((b) => b.broker === 'mosquitto' && b.qos === qos);
const fleet = (qos: 0 | 1) => fleetRef.find((f) => f.qos === qos)?.perS;
const aedes = (qos: 0 | 1) => brokers.find((b) => b.broker !== 'mosquitto' && b.qos === qos)?.deliveredPerS;
const rows: string[][] = [];
/** what makes the run fail: a probe that got nothing, an acknowledged reading not found */
const failures: string[] = [];
for (const b of brokers.filter((x) => x.broker !== 'mosquitto'))
  rows.push([`broker only (bare aedes), publish → subscribe, QoS ${b.qos}`, `${k(b.deliveredPerS)}/s${b.crashed ? ' — crashed' : ''}`, `${k(ref(b.qos)?.deliveredPerS ?? 0)}/s mosquitto`, ratio(b.deliveredPerS, ref(b.qos)?.deliveredPerS)]);
for (const p of [embedded, influx].filter((x): x is PipelineFigures => !!x)) {
  const s = p.store === 'embedded' ? 'embedded store' : 'InfluxDB store';
  rows.push([`full pipeline, ${s}: highest sustained QoS 1 readings/s, every one acknowledged and stored`, `${k(p.qos1.sustainedPerS)}/s`, `${k(fleet(1) ?? 0)}/s mosquitto, same fleet`, ratio(p.qos1.sustainedPerS, fleet(1))]);
  rows.push([`full pipeline, ${s}: highest sustained QoS 0 readings/s, every one accepted and stored`, `${k(p.qos0.sustainedPerS)}/s`, `${k(fleet(0) ?? 0)}/s mosquitto, same fleet`, ratio(p.qos0.sustainedPerS, fleet(0))]);
  rows.push([`full pipeline, ${s}: sustained QoS 1 vs bare aedes (publish → subscribe, QoS 1)`, `${k(p.qos1.sustainedPerS)}/s`, `${k(aedes(1) ?? 0)}/s bare aedes`, ratio(p.qos1.sustainedPerS, aedes(1))]);
  rows.push([`full pipeline, ${s}: main-thread CPU per reading (MQTT, auth, API, alerts), QoS 1 / QoS 0`, `${p.qos1.mainUsPerReading} / ${p.qos0.mainUsPerReading} µs`, '15 µs target', ratio(p.qos1.mainUsPerReading, 15)]);
  rows.push([`full pipeline, ${s}: pipeline-thread CPU per reading (decode, rules, store), QoS 1 / QoS 0`, `${p.qos1.pipelineUsPerReading} / ${p.qos0.pipelineUsPerReading} µs`, '—', '—']);
  rows.push([`full pipeline, ${s}: whole-process CPU per reading (every thread, the store's own included), QoS 1 / QoS 0`, `${p.qos1.cpuUsPerReading} / ${p.qos0.cpuUsPerReading} µs`, '30 µs target', ratio(p.qos1.cpuUsPerReading, 30)]);
  for (const l of p.latency) {
    const none = [l.sse.n === 0 ? 'SSE' : '', l.webhook.n === 0 ? 'webhook' : ''].filter(Boolean);
    if (none.length) failures.push(`${s}: no ${none.join(' and no ')} latency sample arrived at ${l.at}`);
    if (l.notArrived) failures.push(`${s}: ${l.notArrived} critical alarms seen live at ${l.at} had not reached the webhook ${LATE_WAIT_S} s after the last probe`);
    const said = (x: { n: number; p50: number; p99: number; max: number }) => (x.n ? `${x.p50} / ${x.p99} / ${x.max} ms (n = ${x.n})` : 'NO SAMPLE ARRIVED');
    rows.push([`${s}: publish → alert at ${l.at} of that rate (${k(l.ratePerS)}/s), p50 / p99 / max, alarms raised once the load had run ${WARM_S} s; the max of those raised before`, `SSE ${said(l.sse)}; critical webhook ${said(l.webhook)}${l.notArrived ? `, ${l.notArrived} NOT ARRIVED within ${LATE_WAIT_S} s` : ''}; before: SSE ${l.warmup.sse.max} ms, webhook ${l.warmup.webhook.max} ms (n = ${l.warmup.sse.n}, ${l.warmup.webhook.n})`, `p99 targets: SSE ${l.at === '50 %' ? 50 : 1000} ms, webhook ${l.at === '50 %' ? 300 : 1000} ms (group wait 0)`, `${ratio(l.sse.p99, l.at === '50 %' ? 50 : 1000)} / ${ratio(l.webhook.p99, l.at === '50 %' ? 300 : 1000)}`]);
  }
  const o = p.overload;
  rows.push([`${s}: 3× overload (${k(o.targetPerS)}/s asked, QoS 1)`, `${k(o.ackedPerS)}/s acknowledged; RSS ${o.rssStartMb} → peak ${o.rssPeakMb} → ${o.rssEndMb} MB; backlog drained in ${o.drainS} s${o.crashed ? '; CRASHED' : ''}`, 'RSS peak ≤ 1.2× its start', ratio(o.rssPeakMb, o.rssStartMb)]);
  if (p.qos0Flood) rows.push([`${s}: QoS 0 flood from 4 devices for 10 s (the flood that overflowed bare aedes' stack)`, `${k(p.qos0Flood.sentPerS)}/s offered; RSS peak ${p.qos0Flood.rssPeakMb} MB; ${p.qos0Flood.crashed ? 'CRASHED' : 'still serving'}`, '—', '—']);
  const q = p.stored.bySeq;
  rows.push([`${s}: every QoS 1 reading acknowledged, looked up by device and seq`, `${q.found} of ${q.acknowledged} found (${q.missing} missing${q.examples.length ? `: ${q.examples.join(', ')}` : ''}); ${q.duplicated} values stored twice`, '0 missing, 0 twice', '—']);
  if (q.missing || q.duplicated) failures.push(`${s}: ${q.missing} acknowledged readings missing, ${q.duplicated} values stored twice`);

}
for (const c of connections.steps) rows.push([`${c.devices} idle devices connected: RSS per device over the empty service / per device added since the step before; connect rate`, `${c.kbPerDevice} / ${c.kbPerAdded} KB; ${c.connectPerS} connects/s`, '32 KB target', `${ratio(c.kbPerDevice, 32)} / ${ratio(c.kbPerAdded, 32)}`]);
for (const r of rules) rows.push([`rule evaluation per reading, ${r.devices} devices, ${r.rules} rules, every template`, `${r.nsPerReading} ns (median of 5 passes; ${r.nsPerReadingSpread.join('–')} ns); ${r.bytesPerReading} bytes allocated per reading`, `${r.referenceNsPerReading} ns hand-written comparisons${r.devices >= 10_000 ? '; 2000 ns target' : ''}`, `${r.ratio}×${r.devices >= 10_000 ? ` / ${ratio(r.nsPerReading, 2000)}` : ''}`]);
if (influxWrites) rows.push([`InfluxDB writes into a local influxd (${influxWrites.points} points through the disk buffer, every series existing; median of ${influxWrites.passes} alternated passes; the ratio: the median of each pass's against the reference's beside it)`, `${k(influxWrites.pointsPerS)} points/s (${influxWrites.samples.store.map(k).join(", ")})`, `${k(influxWrites.referencePointsPerS)} points/s ready-made gzipped line protocol (${influxWrites.samples.reference.map(k).join(", ")}); 0.85× target`, `${influxWrites.ratio}×`]);
for (const b of brokers.filter((x) => x.broker === 'mosquitto')) rows.push([`reference: mosquitto publish → subscribe, QoS ${b.qos}`, `${k(b.deliveredPerS)}/s`, '—', '—']);

const table = ['| measure | this product | reference (same run) | ratio |', '|---|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/latest.json', JSON.stringify(results, null, 2) + '\n');
const md = `# Benchmark ${started}${quick ? ' (quick smoke run)' : ''}\n\n${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}; mosquitto and bare aedes pinned to core 0, the service to cores 0 and 1 (its MQTT and pipeline threads), the load generator to core 1.${failures.length ? `\n\n**FAILED:** ${failures.join('; ')}` : ''}\n\n${table}\n`;
await writeFile('bench/results/latest.md', md);
console.log('\n' + table);
if (failures.length) {
  console.error(`\nbench FAILED: ${failures.join('; ')}`);
  process.exitCode = 1;
}
