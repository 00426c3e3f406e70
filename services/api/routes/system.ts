import type { FastifyPluginAsync } from 'fastify';
import type { ApiContext } from '../context.ts';
import { z } from 'zod';
import { ApiError, parseInput } from '../errors.ts';
import { publicHealth } from '../../health.ts';

const verifyQuery = z
  .object({
    head: z
      .string()
      .regex(/^\d{1,15}:[0-9a-f]{64}$/, 'a head is n:hash, as GET /api/audit/head gives it')
      .transform((h) => ({ n: Number(h.split(':')[0]), hash: h.split(':')[1] }))
      .optional(),
  })
  .strict();

export const systemRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/api/health', async (_req, reply) => {
      const h = ctx.health();
      return reply.status(h.status === 'ok' ? 200 : 503).send(publicHealth(h));
    });

    /** Who the token belongs to: the dashboards choose their views from this. */
    app.get('/api/me', async (req) => {
      const c = req.caller;
      return { name: c.name, role: c.role, regions: c.regions, enterpriseId: c.enterpriseId ?? null };
    });

    const auditors = (role: string) => {
      if (role === 'enterprise') throw new ApiError('FORBIDDEN', 'the audit trail is for operators and regulators');
    };

    /** The audit trail's head, to keep outside this service: a trail that later lacks it lost entries. */
    app.get('/api/audit/head', async (req) => {
      auditors(req.caller.role);
      const head = await ctx.audit.head();
      return { ...head, head: `${head.n}:${head.hash}`, at: new Date(ctx.clock()).toISOString() };
    });

    /**
     * Walks the audit trail's hash chain; names the first entry that was altered, removed or
     * inserted, and checks that the heads published before (and `head=n:hash`, if given) are still in it.
     */
    app.get('/api/audit/verify', async (req) => {
      auditors(req.caller.role);
      const { head } = parseInput(verifyQuery, req.query, 'query');
      return ctx.audit.verify(head);
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
