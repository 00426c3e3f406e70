import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../context.ts';

export const systemRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/api/health', async (_req, reply) => {
      const h = ctx.health();
      return reply.status(h.status === 'ok' ? 200 : 503).send(h);
    });

    app.get('/metrics', async (_req, reply) => {
      const m = ctx.metrics;
      const store = ctx.telemetry.health();
      m.storeLag.set(store.lagMs / 1000);
      m.storePending.set(store.pending);
      m.devicesOnline.set(ctx.status.onlineCount());
      m.openAlerts.reset();
      for (const a of ctx.book.openAlerts()) m.openAlerts.inc({ severity: a.severity });
      return reply.header('content-type', m.registry.contentType).send(await m.registry.metrics());
    });
  };
