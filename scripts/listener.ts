import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';

/**
 * Whether process `pid` itself listens on TCP `port` (Linux's /proc; elsewhere it cannot tell and
 * says yes). A server a test starts is up when *it* answers: a port chosen free can be taken by a
 * server of the same kind that another test file starts in the same instant, and a ping or a
 * connect would then be answered by that one, whose data the other file changes under this one.
 */
export async function listensOn(pid: number | undefined, port: number): Promise<boolean> {
  if (pid === undefined) return false;
  if (!existsSync('/proc/net/tcp')) return true;
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const sockets = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    // columns: sl local_address rem_address st … inode; st 0A is LISTEN
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === '0A' && f[1]?.endsWith(hex)) sockets.add(`socket:[${f[9]}]`);
    }
  }
  if (!sockets.size) return false;
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    if (sockets.has(await readlink(`/proc/${pid}/fd/${fd}`).catch(() => ''))) return true;
  }
  return false;
}
