/**
 * \`npm run bench:profile -- [devices] [readings/s] [qos]\`: the service under a steady load with
 * \`--cpu-prof\` (\`PROFILE=off\`: without, for figures the profiler does not inflate); prints where
 * the profile is, the CPU per reading, and that CPU per thread (the main thread has the process's
 * id; its workers, DuckDB's threads and libuv's pool are named `node` too). Read the profile with
 * \`node bench/profile-top.mjs <file> 40 <fromS> <untilS>\` (self time) or
 * \`node bench/profile-tree.mjs <file> <fromS> <untilS>\` (inclusive), seconds before its end.
 */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import { cpuMs, generate, startService } from './processes.ts';

/** CPU so far of each thread of a process (/proc/<pid>/task/<tid>/stat), by thread id and name */
async function threadsMs(pid: number): Promise<Map<string, number>> {
  const by = new Map<string, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    by.set(`${tid} ${name}`, ((Number(f[11]) + Number(f[12])) * 1000) / 100);
  }
  return by;
}
const dir = await mkdtemp('/tmp/rmprof-');
const { registry, clients } = benchRegistry(Number(process.argv[2] ?? 2000), { webhookUrl: 'http://127.0.0.1:9/hook', probes: 2 });
await writeFile(join(dir, 'r.yaml'), stringify(registry));
const s = await startService({ CONFIG: join(dir, 'r.yaml'), DATA_DIR: join(dir, 'data') }, [...(process.env.NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(process.env.PROFILE === 'off' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}/prof`])]);
const g = generate({ host: '127.0.0.1', port: s.port, clients, qos: Number(process.argv[4] ?? 1) as 0 | 1, rate: Number(process.argv[3] ?? 10000), durationS: 10, inflight: 20, connectConcurrency: 300 });
console.log(await g.connected);
const c0 = await cpuMs(s.pid);
const t0 = await threadsMs(s.pid);
const d = await g.done;
const c1 = await cpuMs(s.pid);
const t1 = await threadsMs(s.pid);
const perThread = Object.fromEntries([...t1].map(([name, ms]) => [name, Math.round(((ms - (t0.get(name) ?? 0)) * 10000) / d.sentAtEnd) / 10]).filter(([, us]) => (us as number) >= 0.5));
console.log({ sent: d.sentAtEnd, acked: d.acked, cpuMs: c1 - c0, usPer: ((c1 - c0) * 1000) / d.sentAtEnd, usPerByThread: perThread, metrics: (await (await fetch(`http://127.0.0.1:${s.http}/metrics`)).text()).split('\n').filter((l) => l.startsWith('gateway_') || l.startsWith('rules_')).join('\n') });
await s.stop();
console.log(dir);
