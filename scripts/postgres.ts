import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.ts';
import { listensOn } from './listener.ts';
import { waitFor } from './wait.ts';

/**
 * A real PostgreSQL server of its own for a test file: Debian's `postgresql` (installed by
 * `npm test`, scripts/system-packages.txt), a fresh cluster in a temporary folder on a free
 * port, stopped and removed at the end. initdb refuses to run as root, so as root the server
 * runs as the `postgres` user the package creates. Without the package the tests fail; they do
 * not skip.
 */
export function postgresBin(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))) : [];
  if (!versions.length) throw new Error('no PostgreSQL server under /usr/lib/postgresql: run `npm test` (it installs the postgresql package)');
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

export interface TestPostgres {
  url: string;
  port: number;
  /** a fresh, empty database on this server */
  database(name: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const dir = await mkdtemp(join(tmpdir(), 'rm-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const user = asRoot ? { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) } : {};
  if (asRoot) chownSync(dir, user.uid!, user.gid!);
  execFileSync(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'rm', '--no-sync', '-E', 'UTF8', '--locale=C'], { ...user, stdio: 'ignore' });
  const port = await freePort();
  // fsync off: the tests kill the service's processes, never this server
  const child: ChildProcess = spawn(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'], { ...user, stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  const url = `postgres://rm@127.0.0.1:${port}/postgres`;
  await waitFor(async () => {
    if (exited) throw new Error('postgres exited at start');
    const c = new pg.Client(url);
    await c.connect();
    await c.end();
    // this postgres, not another test file's that took the port first
    return listensOn(child.pid, port);
  }, 20_000, 'postgres up');
  return {
    url,
    port,
    async database(name: string) {
      const c = new pg.Client(url);
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS "${name}"`);
      await c.query(`CREATE DATABASE "${name}"`);
      await c.end();
      return `postgres://rm@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      if (!exited) await new Promise<void>((r) => (child.once('exit', () => r()), child.kill('SIGINT')));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
