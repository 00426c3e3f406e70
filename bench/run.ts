import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchRules } from './rules.ts';
import { benchInflux } from './influx.ts';

/**
 * `npm run bench`: measures, writes bench/results/latest.json and latest.md, prints the table.
 * Every figure stands beside a reference measured in the same run on the same machine.
 */
const started = new Date().toISOString();
const rules = benchRules();
const influx = await benchInflux();
const results = {
  started,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  rules,
  influx,
};
const table = [
  '| measure | this product | reference (same run) | ratio |',
  '|---|---|---|---|',
  `| rule evaluation per reading: ${rules.devices} devices of every industry, ${rules.rules} rules, every template loaded (${rules.outcomesPerThousand} outcomes per 1000 readings) | ${rules.nsPerReading} ns (${(1e9 / rules.nsPerReading / 1000).toFixed(0)}k readings/s on one core) | ${rules.referenceNsPerReading} ns (hand-written fixed comparisons) | ${rules.ratio}× |`,
  `| time-driven rules (durations, deadlines, silence), per device per tick | ${rules.tickNsPerDevice} ns | — | — |`,
  influx
    ? `| InfluxDB writes into a local influxd (${influx.points} points, 5 per reading, through the disk buffer) | ${influx.pointsPerS} points/s | ${influx.referencePointsPerS} points/s (ready-made gzipped line protocol) | ${influx.ratio}× |`
    : '| InfluxDB writes | not measured: `influxd` is not installed (apt-get install influxdb) | — | — |',
].join('\n');
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/latest.json', JSON.stringify(results, null, 2) + '\n');
await writeFile('bench/results/latest.md', `# Benchmark ${started}\n\n${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}\n\n${table}\n`);
console.log(table);
