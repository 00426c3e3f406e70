import { lookup as dnsLookup, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { isIP } from 'node:net';
import PQueue from 'p-queue';
import { Agent, setGlobalDispatcher } from 'undici';
import { poolShares, threadPoolSize } from './thread-pool.ts';

/**
 * Host names this service reaches with `fetch` (webhooks, robots, SMS providers, upstream
 * platforms, InfluxDB 1.x writes) are resolved by getaddrinfo on libuv's thread pool, the pool
 * every store write runs on. A resolver that stops answering holds a pool thread for its whole
 * timeout (5 s per try by default) per lookup, and the outbox tries every receiver's lane at
 * once: enough of them and the alert record waits behind the lookups, every alarm with it. So
 * lookups take turns, at most a quarter of the pool at once (services/thread-pool.ts); past
 * `maxWaiting` a lookup fails at once (EAI_AGAIN), which the delivery counts as a failed attempt
 * and tries again later. Addresses given as IPs are not looked up. SMTP (nodemailer) and the
 * InfluxDB clients' own HTTP (queries, 2.x) resolve names their own way, outside this lane.
 */
type Callback = (err: NodeJS.ErrnoException | null, address: string | { address: string; family: number }[], family?: number) => void;
type Lookup = (hostname: string, options: LookupOneOptions | LookupAllOptions, callback: Callback) => void;

export function lookupLane(o: { lanes: number; maxWaiting: number; lookup?: Lookup }) {
  const lane = new PQueue({ concurrency: o.lanes });
  const lookup: Lookup = o.lookup ?? (dnsLookup as unknown as Lookup);
  let done = 0;
  let refused = 0;
  const laned = (hostname: string, options: LookupOneOptions | LookupAllOptions | Callback, cb?: Callback) => {
    const [opts, callback] = typeof options === 'function' ? [{}, options] : [options, cb!];
    if (isIP(hostname)) return lookup(hostname, opts, callback);
    if (lane.size >= o.maxWaiting) {
      refused++;
      const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}: ${o.maxWaiting} name lookups already wait`), { code: 'EAI_AGAIN', hostname });
      return process.nextTick(callback, err, '', 0);
    }
    void lane.add(
      () =>
        new Promise<void>((free) => {
          try {
            lookup(hostname, opts, (err, address, family) => {
              done++;
              free();
              callback(err, address, family);
            });
          } catch (e) {
            // refused before it was asked (a malformed name or option): said to the connection, not lost
            free();
            process.nextTick(callback, e as NodeJS.ErrnoException, '', 0);
          }
        }),
    );
  };
  return {
    lookup: laned,
    /** lookups running and waiting their turn, done and refused so far (for /metrics) */
    stats: () => ({ running: lane.pending, waiting: lane.size, done, refused }),
  };
}

let installed: ReturnType<typeof lookupLane> | undefined;

/**
 * Every `fetch` of this process connects through an agent whose lookups take turns (undici's
 * global dispatcher, which node's own fetch uses). Once per process: the pool is the process's.
 */
export function laneNameLookups(): ReturnType<typeof lookupLane> {
  if (installed) return installed;
  installed = lookupLane({ lanes: poolShares(threadPoolSize()).nameLookups, maxWaiting: 256 });
  setGlobalDispatcher(new Agent({ connect: { lookup: installed.lookup as never } }));
  return installed;
}
