import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';
import { duration, time } from '../query.ts';

const DAY = 86_400_000;

const telemetryQuery = z
  .object({
    enterprise: z.string().min(1).optional(),
    device: z.string().min(1).optional(),
    metric: z.string().min(1).optional(),
    from: time.optional(),
    to: time.optional(),
    every: duration.optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
    /** columns: one metric's series as arrays (epoch ms), compact enough for 100k points in a chart */
    shape: z.enum(['points', 'columns']).default('points'),
  })
  .strict();

export const telemetryRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/telemetry', async (req) => {
      const q = parseInput(telemetryQuery, req.query, 'query');
      const registry = ctx.registry();
      let enterpriseId = q.enterprise;
      if (q.device) {
        const entry = registry.devices.get(q.device);
        if (!entry) throw new ApiError('NOT_FOUND', `no device ${q.device}`, 'device');
        if (enterpriseId && entry.enterprise.id !== enterpriseId) throw new ApiError('BAD_REQUEST', `device ${q.device} is not in enterprise ${enterpriseId}`, 'device');
        enterpriseId = entry.enterprise.id;
      }
      // raw points of every enterprise at once would be a data dump: ask for one
      if (!enterpriseId) throw new ApiError('BAD_REQUEST', 'query enterprise: give enterprise or device', 'enterprise');
      if (!registry.enterprises.has(enterpriseId)) throw new ApiError('NOT_FOUND', `no enterprise ${enterpriseId}`, 'enterprise');
      if (!req.caller.sees(enterpriseId)) throw new ApiError('FORBIDDEN', `enterprise ${enterpriseId} is outside your scope`, 'enterprise');
      const to = q.to ?? ctx.clock() + 60_000;
      const from = q.from ?? to - DAY;
      if (from >= to) throw new ApiError('BAD_REQUEST', 'query from: must be before to', 'from');
      if (q.shape === 'columns' && (!q.device || !q.metric)) throw new ApiError('BAD_REQUEST', 'query shape: columns are for one device and one metric', 'shape');
      const points = await ctx.telemetry.query({ enterpriseId, deviceId: q.device, metric: q.metric, from, to, everyMs: q.every, limit: q.limit });
      const period = { enterprise: enterpriseId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), every: q.every ?? null, truncated: points.length === q.limit };
      if (q.shape === 'columns') {
        const sorted = [...points].sort((a, b) => a.ts - b.ts);
        const col = (k: string) => sorted.map((p) => (p as unknown as Record<string, unknown>)[k] ?? null);
        return { ...period, device: q.device, metric: q.metric, columns: q.every ? { ts: col('ts'), min: col('min'), mean: col('mean'), max: col('max') } : { ts: col('ts'), value: col('value') } };
      }
      return { ...period, points: points.map((p) => ({ ...p, ts: new Date(p.ts).toISOString() })) };
    });
  };
