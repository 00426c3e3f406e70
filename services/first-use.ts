import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Costs a process pays the first time it does something, paid at start rather than by the first
 * alarm after it. Measured (bench:alarm-path at 200 readings/s, the service as `npm start` runs
 * it): the first critical alarm's webhook was answered and taken 59–77 ms after it was queued
 * (the next ones 4–10 ms), the main thread held meanwhile; with this, 23–24 ms (4 runs of 5).
 * - The first stack trace: under `--enable-source-maps` node reads the bundle's source map then,
 *   40–50 ms on the main thread, whoever asks (a logged error, a library's own Error).
 * - The first request with fetch: undici loads its HTTP/1 parser (WebAssembly) and runs its code
 *   for the first time. One request to a throwaway local server pays it.
 * A failure leaves only these costs where they were; nothing depends on it. A second call (a
 * second service in one process, as in the tests) costs a few milliseconds.
 */
export async function payFirstUseCosts(): Promise<void> {
  void new Error('first stack trace').stack;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const answer = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(5000) });
    await answer.arrayBuffer();
  } catch {
    // only the warm-up is lost
  } finally {
    server.closeAllConnections();
    server.close();
  }
}
