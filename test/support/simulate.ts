import { spawn } from 'node:child_process';

/** Run `npm run simulate` as a user would: its own process, real MQTT to the app under test. */
export function simulate(app: { ports: { mqtt: number }; configPath: string }, args: string[]) {
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/simulate.mjs', '--url', `mqtt://127.0.0.1:${app.ports.mqtt}`, '--config', app.configPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { child, output: () => out, done, stop: () => (child.kill('SIGTERM'), done) };
}
