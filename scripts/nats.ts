import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mappingConfig } from '../services/cluster/subjects.ts';
import { freePort } from './free-port.ts';
import { listensOn } from './listener.ts';
import { waitFor } from './wait.ts';

/**
 * Real nats-server processes (Debian's package, installed by `npm test`) on loopback: one, or a
 * cluster of three with JetStream, the partition mapping of cluster mode in their configuration.
 * Each can be killed and started again (its JetStream folder kept), as the fault tests do.
 */
export const NATS_SERVER = process.env.NATS_SERVER_PATH ?? '/usr/sbin/nats-server';

export interface TestNats {
  /** client URLs, comma-separated, as NATS_URL takes them */
  url: string;
  urls: string[];
  kill(i: number, signal?: NodeJS.Signals): Promise<void>;
  start(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startNats(opts: { servers?: 1 | 3; partitions: number }): Promise<TestNats> {
  if (!existsSync(NATS_SERVER)) throw new Error(`no nats-server at ${NATS_SERVER}: run \`npm test\` (it installs the nats-server package)`);
  const n = opts.servers ?? 1;
  const dir = await mkdtemp(join(tmpdir(), 'rm-nats-'));
  const clientPorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const routePorts = await Promise.all(Array.from({ length: n }, () => freePort()));
  const configs: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = join(dir, `n${i}.conf`);
    const cluster = n > 1 ? `cluster { name: rm, listen: 127.0.0.1:${routePorts[i]}, routes: [${routePorts.map((p) => `nats://127.0.0.1:${p}`).join(', ')}] }` : '';
    await writeFile(
      file,
      [`server_name: n${i}`, `listen: 127.0.0.1:${clientPorts[i]}`, `jetstream { store_dir: "${join(dir, `js${i}`)}", max_memory_store: 64MB, max_file_store: 2GB }`, cluster, mappingConfig(opts.partitions)].join('\n'),
    );
    configs.push(file);
  }
  const procs: (ChildProcess | null)[] = Array(n).fill(null);
  const start = async (i: number) => {
    const p = spawn(NATS_SERVER, ['-c', configs[i]], { stdio: 'ignore' });
    procs[i] = p;
    p.once('exit', () => procs[i] === p && (procs[i] = null));
    // up when this server holds its listening socket (a connect could be answered by another test file's)
    await waitFor(() => listensOn(p.pid, clientPorts[i]), 20_000, `nats-server ${i} up`);
  };
  await Promise.all(configs.map((_, i) => start(i)));
  const urls = clientPorts.map((p) => `nats://127.0.0.1:${p}`);
  return {
    url: urls.join(','),
    urls,
    start,
    async kill(i, signal = 'SIGKILL') {
      const p = procs[i];
      if (!p) return;
      await new Promise<void>((r) => (p.once('exit', () => r()), p.kill(signal)));
      procs[i] = null;
    },
    async stop() {
      await Promise.all(procs.map((p) => p && new Promise<void>((r) => (p.once('exit', () => r()), p.kill('SIGTERM')))));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
