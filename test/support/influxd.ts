import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir } from './app.ts';
import { freePort } from './receivers.ts';
import { waitFor } from './wait.ts';

/**
 * A real InfluxDB 1.x (Debian's `influxdb`) for one test file: its own directories and ports,
 * stopped afterwards. It can be stopped and started again on the same data (outage tests).
 */
export interface Influxd {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startInfluxd(): Promise<Influxd> {
  const dir = await tempDir('rm-influx-');
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
    await waitFor(async () => (await fetch(`${url}/ping`)).status === 204, 20_000, 'influxd up');
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const c = child;
    await new Promise<void>((r) => (c.once('exit', () => r()), c.kill('SIGTERM')));
  };
  await start();
  return { url, start, stop };
}
