import type { FastifyInstance } from 'fastify';

/**
 * Stops taking requests and waits for those under way at most `graceMs`, then closes their
 * connections: a client that stopped reading (a stalled live stream, a download nobody takes)
 * must not hold the service's stop, and with it a restart, for ever.
 */
export async function closeApi(app: FastifyInstance, graceMs = 5000): Promise<void> {
  const late = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(late);
  }
}
