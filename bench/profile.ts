/**
 * \`npm run bench:profile -- [devices] [readings/s] [qos]\`: the service under a steady load with
 * \`--cpu-prof\`; prints where the profile is and the CPU per reading. Read the profile with
 * \`node bench/profile-top.mjs <file> 40 <fromS> <untilS>\` (self time) or
 * \`node bench/profile-tree.mjs <file> <fromS> <untilS>\` (inclusive), seconds before its end.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import { cpuMs, generate, startService } from './processes.ts';
const dir = await mkdtemp('/tmp/rmprof-');
const { registry, clients } = benchRegistry(Number(process.argv[2] ?? 2000), { webhookUrl: 'http://127.0.0.1:9/hook', probes: 2 });
await writeFile(join(dir, 'r.yaml'), stringify(registry));
const s = await startService({ CONFIG: join(dir, 'r.yaml'), DATA_DIR: join(dir, 'data') }, ['--cpu-prof', `--cpu-prof-dir=${dir}/prof`]);
const g = generate({ host: '127.0.0.1', port: s.port, clients, qos: Number(process.argv[4] ?? 1) as 0 | 1, rate: Number(process.argv[3] ?? 10000), durationS: 10, inflight: 20, connectConcurrency: 300 });
console.log(await g.connected);
const c0 = await cpuMs(s.pid);
const d = await g.done;
const c1 = await cpuMs(s.pid);
console.log({ sent: d.sentAtEnd, acked: d.acked, cpuMs: c1 - c0, usPer: ((c1 - c0) * 1000) / d.sentAtEnd, metrics: (await (await fetch(`http://127.0.0.1:${s.http}/metrics`)).text()).split('\n').filter((l) => l.startsWith('gateway_') || l.startsWith('rules_')).join('\n') });
await s.stop();
console.log(dir);
