import { freePort } from './free-port.ts';
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
  const [http, rpc, ifql] = [await freePort(), await freePort(), await freePort()];
  const config = join(dir, 'influxdb.conf');
  await writeFile(
    config,
    `reporting-disabled = true
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
`,
  );
  const url = `http://127.0.0.1:${http}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('influxd', ['-config', config], { stdio: 'ignore' });
    const deadline = Date.now() + 20_000;
    for (;;) {
      const up = await fetch(`${url}/ping`).then((r) => r.status === 204, () => false);
      if (up) return;
      if (Date.now() > deadline) throw new Error('influxd did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const c = child;
    await new Promise<void>((r) => (c.once('exit', () => r()), c.kill('SIGTERM')));
  };
  await start();
  return { url, start, stop };
}
