import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.ts';
import { listensOn } from './listener.ts';
import { waitFor } from './wait.ts';

/**
 * A real PostgreSQL server of its own for a test file: Debian's `postgresql` (installed by
 * `npm test`, scripts/system-packages.txt), a fresh cluster (a copy of one initdb made) in a
 * temporary folder on a free port, stopped and removed at the end. initdb refuses to run as
 * root, so as root the server runs as the `postgres` user the package creates. Without the
 * package the tests fail; they do not skip.
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

/** The user the server runs as: `postgres` when we are root (initdb refuses root), else ourselves. */
function serverUser(): { uid?: number; gid?: number } {
  if (process.getuid?.() !== 0) return {};
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

const run = promisify(execFile);

/**
 * An empty cluster made by initdb once per machine and PostgreSQL version, which each server
 * copies: initdb took a second and a half of a core each time, with the test's other servers
 * (NATS, InfluxDB) waiting behind it. Made in a folder of its own and renamed into place, so test
 * files starting at once never see half of one; the first rename wins.
 */
async function template(bin: string, user: { uid?: number; gid?: number }): Promise<string> {
  const owner = user.uid ?? process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `rm-pg-template-${basename(dirname(bin))}-${owner}`);
  // a folder of that name someone else made is not ours to copy
  if (existsSync(dir) && statSync(dir).uid !== owner) throw new Error(`${dir} belongs to another user: remove it`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const work = await mkdtemp(join(tmpdir(), 'rm-pg-initdb-'));
  try {
    if (user.uid !== undefined) chownSync(work, user.uid, user.gid!);
    await run(join(bin, 'initdb'), ['-D', join(work, 'data'), '-A', 'trust', '-U', 'rm', '--no-sync', '-E', 'UTF8', '--locale=C'], user);
    await rename(join(work, 'data'), dir).catch((e: NodeJS.ErrnoException) => {
      if (!existsSync(join(dir, 'PG_VERSION'))) throw e;
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return dir;
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const dir = await mkdtemp(join(tmpdir(), 'rm-pg-'));
  const data = join(dir, 'data');
  const user = serverUser();
  if (user.uid !== undefined) chownSync(dir, user.uid, user.gid!);
  // cp -a keeps the owner and the folder's 0700, which the server insists on
  await run('cp', ['-a', await template(bin, user), data]);
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
