import { availableParallelism } from 'node:os';

/**
 * libuv's thread pool, one per process: DuckDB runs every store call on it (the pipeline thread's
 * too), and so do file I/O, gzip, host name lookups (getaddrinfo) and scrypt. Whatever fills it
 * makes the alert record wait, and every acknowledged alarm with it. Its size is node's to read
 * before any code of ours runs: 4 unless UV_THREADPOOL_SIZE says otherwise (`npm start` and the
 * image set 16). The work that can come in floods takes turns within a share of it.
 */
export function threadPoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, 1024) : 4;
}

/**
 * How many threads of the pool each kind of flood-prone work may hold at once. scrypt is CPU as
 * well: on 2 cores, 8 checks at once (16 threads) put a storm's alarm PUBACKs at 295–611 ms (p50)
 * against 117–138 ms with 2, for the same logins a second. So logins also leave a core free.
 */
export function poolShares(size: number, cpus = availableParallelism()) {
  return {
    /** device logins checking a scrypt secret (a fleet after a restart; someone trying secrets) */
    loginHashing: Math.max(1, Math.min(Math.floor(size / 2), cpus - 1)),
    /** outgoing connections resolving a host name (a dead resolver holds each for its timeout) */
    nameLookups: Math.max(1, Math.floor(size / 4)),
  };
}
