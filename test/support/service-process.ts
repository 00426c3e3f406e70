import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.ts';

/** the bundle `npm start` runs (global-setup builds it), by its full path: a test may start it from another folder */
const MAIN_BUNDLE = fileURLToPath(new URL('../../dist/main.mjs', import.meta.url));

/** The service as its own process (as `npm start` runs it), for tests that kill it with SIGKILL. */
export async function startServiceProcess(dataDir: string, config: string, ports: { mqtt: number; http: number; ws: number }, env: Record<string, string> = {}, onOutput?: (line: string) => void, cwd?: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--enable-source-maps', MAIN_BUNDLE], {
    cwd,
    env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16', CONFIG: config, DATA_DIR: dataDir, MQTT_PORT: String(ports.mqtt), MQTT_WS_PORT: String(ports.ws), HTTP_PORT: String(ports.http), HOST: '127.0.0.1', SIMULATORS: 'off', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', onOutput ? 'pipe' : 'ignore', 'pipe'],
  });
  // what the process said on stderr, for the message should it not come up
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString('utf8')).slice(-2000)));
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  if (onOutput) {
    let rest = '';
    child.stdout!.on('data', (c: Buffer) => {
      const lines = (rest + c.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) onOutput(l);
    });
  }
  // a start after kill -9 replays the databases' logs: on a loaded machine that can take a while
  await waitFor(async () => exited === undefined && (await fetch(`http://127.0.0.1:${ports.http}/api/health`)).ok, 60_000, 'service up').catch((e: Error) => {
    throw new Error(`${e.message}${exited !== undefined ? ` (it exited with ${exited})` : ''}\n${stderr}`);
  });
  return child;
}

export const kill9 = (c: ChildProcess) => new Promise<void>((r) => (c.once('exit', () => r()), c.kill('SIGKILL')));
