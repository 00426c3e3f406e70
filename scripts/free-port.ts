import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The first port of the range the kernel hands out by itself (to a listen on port 0 and to every
 * outgoing connection's own end): 32768 on Linux unless changed.
 */
function ephemeralFrom(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

/**
 * Each vitest worker takes its ports from a quarter of the range of its own, so a port one test
 * let go while its clients still reconnect to it is not the next port of a test in another worker.
 * Both happened in one CI run with ports from the kernel's range: crash.test's service, killed,
 * found its MQTT port taken by browser-review.test's service, and crash.test's caster-1, still
 * reconnecting there, logged into that one (same test registry) and made the casting plant
 * "connected" in its coverage view.
 */
const span = (() => {
  const top = ephemeralFrom();
  const bottom = Math.max(1024, top - 12_000);
  const worker = Number(process.env.VITEST_POOL_ID);
  if (!Number.isInteger(worker) || worker < 1) return { from: bottom, below: top };
  const quarter = Math.floor((top - bottom) / 4);
  const from = bottom + ((worker - 1) % 4) * quarter;
  return { from, below: from + quarter };
})();
const { from, below } = span;
/** ports this process handed out already: never twice */
const given = new Set<number>();

const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

/**
 * A loopback port nothing listens on now (for test servers, influxd, the bench's brokers), taken
 * below the kernel's own range. A port from that range (what a listen on port 0 gives) is free only
 * until the kernel hands it out again, to another test's server or to any outgoing connection:
 * a service killed with SIGKILL and started again on its ports then found one taken.
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = from + Math.floor(Math.random() * (below - from));
    if (given.has(port)) continue;
    if (await listens(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port found between ${from} and ${below - 1}`);
}
