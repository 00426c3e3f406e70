import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { freePort } from '../scripts/free-port.ts';
import { createInterface } from 'node:readline';
import type { Job } from './generator.ts';
import { statCpuSeconds } from '../services/thread-cpu.ts';

/**
 * The processes a bench run starts and stops: the broker under test (Debian's mosquitto, bare
 * aedes, or the whole service) pinned to core 0, and the load generator pinned to core 1, so
 * that neither steals the other's CPU. Figures of CPU time and memory come from /proc.
 */
const TASKSET = existsSync('/usr/bin/taskset') ? '/usr/bin/taskset' : null;
export const BUILD = 'bench/.build';

/** `cores`: a core or a taskset list ("0,1") */
export function pinned(core: number | string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return TASKSET ? spawn(TASKSET, ['-c', String(core), cmd, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
}

export { freePort };

export async function waitForPort(port: number, ms = 20_000) {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Running {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/** Debian's mosquitto on loopback: the reference every broker figure is compared with. */
export async function startMosquitto(dir: string): Promise<Running | null> {
  const bin = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto'].find((p) => existsSync(p));
  if (!bin) return null;
  const port = await freePort();
  const conf = `${dir}/mosquitto.conf`;
  // no limits on queues and in-flight windows: measure the broker, not its defaults
  await writeFile(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0\npersistence false\nlog_dest none\n`);
  const child = pinned(0, bin, ['-c', conf]);
  await waitForPort(port);
  return { pid: child.pid!, port, stop: () => stopChild(child) };
}

/** aedes and nothing else: no auth, no decoding, no rules, no store. */
export async function startAedes(): Promise<Running> {
  const port = await freePort();
  const child = pinned(0, process.execPath, [`${BUILD}/aedes-broker.mjs`, String(port)]);
  await waitForPort(port);
  return { pid: child.pid!, port, stop: () => stopChild(child) };
}

/**
 * The whole service as `npm start` runs it (the bundle in dist/). It has two threads that work
 * (MQTT and the reading pipeline), so it may use both cores; the generator shares core 1 with it.
 */
export const SERVICE_CORES = '0,1';
export async function startService(env: Record<string, string>, nodeArgs: string[] = []): Promise<Running & { http: number; output: () => string }> {
  const [mqtt, http] = [await freePort(), await freePort()];
  const child = pinned(SERVICE_CORES, process.execPath, [...nodeArgs, '--enable-source-maps', 'dist/main.mjs'], {
    ...process.env,
    UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? '16',
    MQTT_PORT: String(mqtt),
    MQTT_WS_PORT: '0',
    HTTP_PORT: String(http),
    HOST: '127.0.0.1',
    SIMULATORS: 'off',
    LOG_LEVEL: 'warn',
    API_RATE_LIMIT: '100000',
    ...env,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  await waitForPort(http, 120_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${out}`);
  });
  return { pid: child.pid!, port: mqtt, http, output: () => out, stop: () => stopChild(child) };
}

/** Run the generator with a job; resolves with its events ("connected", "done"). */
let jobs = 0;
export function generate(job: Job) {
  const file = join(tmpdir(), `rm-bench-job-${process.pid}-${jobs++}.json`);
  writeFileSync(file, JSON.stringify(job));
  const child = pinned(1, process.execPath, [`${BUILD}/generator.mjs`, file]);
  child.once('exit', () => rmSync(file, { force: true }));
  const events: Record<string, any> = {};
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const connected = new Promise<any>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const e = JSON.parse(line) as { event: string };
      events[e.event] = e;
      if (e.event === 'connected') resolve(e);
      if (e.event === 'error') reject(new Error((e as unknown as { message: string }).message));
    });
  });
  const done = new Promise<any>((resolve, reject) =>
    child.on('exit', (code) => (events.done ? resolve(events.done) : code === 0 && job.holdOnly ? resolve(null) : reject(new Error(`generator exited ${code}: ${err.slice(-2000)}`)))),
  );
  return { connected, done, go: () => child.stdin!.write('go\n'), stop: () => (child.stdin!.write('stop\n'), done), pid: child.pid! };
}

/** CPU time a process has used, user and system, in milliseconds. */
export async function cpuMs(pid: number): Promise<number> {
  return statCpuSeconds(await readFile(`/proc/${pid}/stat`, 'utf8')) * 1000;
}

export async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}
