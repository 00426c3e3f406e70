import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../context.ts';
import { ApiError } from '../errors.ts';

export const systemRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/api/health', async (_req, reply) => {
      const h = ctx.health();
      return reply.status(h.status === 'ok' ? 200 : 503).send(h);
    });

    /** Who the token belongs to: the dashboards choose their views from this. */
    app.get('/api/me', async (req) => {
      const c = req.caller;
      return { name: c.name, role: c.role, regions: c.regions, enterpriseId: c.enterpriseId ?? null };
    });

    /** Walks the audit trail's hash chain; names the first entry that was altered, removed or inserted. */
    app.get('/api/audit/verify', async (req) => {
      if (req.caller.role === 'enterprise') throw new ApiError('FORBIDDEN', 'the audit trail is for operators and regulators');
      return ctx.audit.verify();
    });

    app.get('/metrics', async (_req, reply) => {
      const m = ctx.metrics;
      const store = ctx.telemetry.health();
      m.storeLag.set(store.lagMs / 1000);
      m.storePending.set(store.pending);
      m.storeBufferBytes.set(store.buffered?.bytes ?? 0);
      m.devicesOnline.set(ctx.status.onlineCount());
      for (const [status, n] of Object.entries(await ctx.outboxCounts())) m.outbox.set({ status }, n);
      m.forwardQueue.reset();
      m.forwardDeadLetters.reset();
      for (const u of ctx.uplinks.status()) {
        for (const [lane, l] of Object.entries(u.lanes)) m.forwardQueue.set({ uplink: u.id, lane }, l.queued);
        m.forwardDeadLetters.set({ uplink: u.id }, u.deadLetters);
      }
      m.openAlerts.reset();
      for (const a of ctx.book.openAlerts()) m.openAlerts.inc({ severity: a.severity });
      return reply.header('content-type', m.registry.contentType).send(await m.registry.metrics());
    });
  };
