import Fastify from 'fastify';
import type { Registry as MetricsRegistry } from 'prom-client';
import { closeApi } from '../api/close.ts';

/**
 * What an edge or a worker of a cluster answers over HTTP: its health (for the load balancer and
 * the orchestrator) and its metrics (for Prometheus). API nodes serve the whole API instead.
 */
export async function nodeHttp(opts: { port: number; host: string; health: () => object & { status: string }; metrics: MetricsRegistry }) {
  const app = Fastify({ logger: false });
  app.get('/api/health', async (_req, reply) => {
    const h = opts.health();
    return reply.code(h.status === 'ok' ? 200 : 503).send(h);
  });
  app.get('/metrics', async (_req, reply) => reply.header('content-type', opts.metrics.contentType).send(await opts.metrics.metrics()));
  await app.listen({ port: opts.port, host: opts.host });
  return { port: (app.server.address() as { port: number }).port, close: () => closeApi(app) };
}
