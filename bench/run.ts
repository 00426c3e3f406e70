import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { benchRules } from './rules.ts';

/**
 * `npm run bench`: measures, writes bench/results/latest.json and latest.md, prints the table.
 * Every figure stands beside a reference measured in the same run on the same machine.
 */
const started = new Date().toISOString();
const rules = benchRules();
const results = {
  started,
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  rules,
};
const table = [
  '| measure | this product | reference (same run) | ratio |',
  '|---|---|---|---|',
  `| rule evaluation per reading: ${rules.devices} devices of every industry, ${rules.rules} rules, every template loaded (${rules.outcomesPerThousand} outcomes per 1000 readings) | ${rules.nsPerReading} ns (${(1e9 / rules.nsPerReading / 1000).toFixed(0)}k readings/s on one core) | ${rules.referenceNsPerReading} ns (hand-written fixed comparisons) | ${rules.ratio}× |`,
  `| time-driven rules (durations, deadlines, silence), per device per tick | ${rules.tickNsPerDevice} ns | — | — |`,
].join('\n');
await mkdir('bench/results', { recursive: true });
await writeFile('bench/results/latest.json', JSON.stringify(results, null, 2) + '\n');
await writeFile('bench/results/latest.md', `# Benchmark ${started}\n\n${results.machine.cpus} × ${results.machine.model}, Node ${results.machine.node}\n\n${table}\n`);
console.log(table);
