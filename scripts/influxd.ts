import { freePort } from './free-port.ts';
import { listensOn } from './listener.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real InfluxDB 1.x (Debian's `influxdb`) on free loopback ports with its own directories, for
 * the tests and the benchmark. It can be stopped and started again on the same data.
 */
export interface Influxd {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startInfluxd(): Promise<Influxd> {
  const dir = await mkdtemp(join(tmpdir(), 'rm-influx-'));
  const config = join(dir, 'influxdb.conf');
  let url = '';
  let port = 0;
  let child: ChildProcess | undefined;
  /** up, or why not: it exited (a port taken between choosing it and binding it), or never answered */
  const start = async (): Promise<void> => {
    const c = spawn('influxd', ['-config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = c;
    let said = '';
    c.stderr!.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-2000)));
    const deadline = Date.now() + 30_000;
    for (;;) {
      // answered by this influxd, not by another test file's that took the port first
      const up = await fetch(`${url}/ping`).then((r) => r.status === 204, () => false);
      if (up && (await listensOn(c.pid, port))) return;
      if (c.exitCode !== null || c.signalCode !== null) throw new Error(`influxd exited (${c.exitCode ?? c.signalCode}): ${said.trim().split('\n').slice(-3).join(' | ')}`);
      if (Date.now() > deadline) throw new Error(`influxd did not answer within 30 s: ${said.trim().split('\n').slice(-3).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const c = child;
    await new Promise<void>((r) => (c.once('exit', () => r()), c.kill('SIGTERM')));
  };
  // under a busy suite another process may take a chosen port before influxd binds it: fresh ports
  for (let attempt = 1; ; attempt++) {
    const [http, rpc, ifql] = [await freePort(), await freePort(), await freePort()];
    await writeFile(config, configText(dir, http, rpc, ifql));
    url = `http://127.0.0.1:${http}`;
    port = http;
    try {
      await start();
      return { url, start, stop };
    } catch (e) {
      await stop();
      if (attempt === 3) throw e;
    }
  }
}

function configText(dir: string, http: number, rpc: number, ifql: number): string {
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:${http}"
  log-enabled = false
[ifql]
  enabled = false
  bind-address = "127.0.0.1:${ifql}"
[logging]
  level = "error"
[continuous_queries]
  enabled = true
  run-interval = "1s"
`;
}
