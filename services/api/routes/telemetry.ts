import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';
import { duration, time } from '../query.ts';
import { storedAsSent } from '../../../domain/indicators.ts';

const DAY = 86_400_000;

const telemetryQuery = z
  .object({
    enterprise: z.string().min(1).optional(),
    device: z.string().min(1).optional(),
    metric: z.string().min(1).optional(),
    /** a point by id (a point without an id is known by its metric) */
    point: z.string().min(1).optional(),
    from: time.optional(),
    to: time.optional(),
    every: duration.optional(),
    limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
    /** columns: one metric's series as arrays (epoch ms), compact enough for 100k points in a chart */
    shape: z.enum(['points', 'columns']).default('points'),
  })
  .strict();

/** The stored key asked for: the point given, else the one point of the metric given on the device. */
function pointKey(points: ReadonlyMap<string, { metric: string }> | undefined, point: string | undefined, metric: string | undefined): string | undefined {
  if (point !== undefined) {
    if (points && !points.has(point)) throw new ApiError('NOT_FOUND', `the device has no point ${point}`, 'point');
    return point;
  }
  if (metric === undefined || !points) return metric;
  const ofMetric = [...points.values()].filter((p) => p.metric === metric) as { id?: string; metric: string }[];
  if (ofMetric.length > 1) throw new ApiError('BAD_REQUEST', `query metric: the device has ${ofMetric.length} ${metric} points; name one with point=`, 'metric');
  return ofMetric[0]?.id ?? metric;
}

/** A stored row as the API shows it: its point and that point's metric, a switch as a boolean. */
function asPoint<P extends { deviceId: string; metric: string }>(registry: ReturnType<ApiContext['registry']>, p: P): P & { point: string } {
  const point = registry.devices.get(p.deviceId)?.points.get(p.metric);
  if (!point || point.id === point.metric) return { ...p, point: p.metric };
  const value = (p as { value?: unknown }).value;
  return { ...p, metric: point.metric, point: point.id, ...(value !== undefined ? { value: storedAsSent(point.metric, value) } : {}) };
}

export const telemetryRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/telemetry', async (req) => {
      const q = parseInput(telemetryQuery, req.query, 'query');
      const registry = ctx.registry();
      let enterpriseId = q.enterprise;
      if (q.device) {
        const entry = registry.devices.get(q.device);
        // a device outside the caller's scope is answered as one that does not exist: its
        // owner is not the caller's to learn by guessing device ids
        if (!entry || !req.caller.sees(entry.enterprise.id)) throw new ApiError('NOT_FOUND', `no device ${q.device}`, 'device');
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
      const key = pointKey(registry.devices.get(q.device ?? '')?.points, q.point, q.metric);
      if (q.shape === 'columns' && (!q.device || !key)) throw new ApiError('BAD_REQUEST', 'query shape: columns are for one device and one point (or metric)', 'shape');
      // values are stored by point id: a point without an id is known by its metric
      const points = (await ctx.telemetry.query({ enterpriseId, deviceId: q.device, metric: key, from, to, everyMs: q.every, limit: q.limit })).map((p) => asPoint(registry, p));
      const period = { enterprise: enterpriseId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), every: q.every ?? null, truncated: points.length === q.limit };
      if (q.shape === 'columns') {
        const sorted = [...points].sort((a, b) => a.ts - b.ts);
        const col = (k: string) => sorted.map((p) => (p as unknown as Record<string, unknown>)[k] ?? null);
        return { ...period, device: q.device, point: key, metric: q.metric ?? registry.devices.get(q.device!)?.points.get(key!)?.metric ?? key, columns: q.every ? { ts: col('ts'), min: col('min'), mean: col('mean'), max: col('max') } : { ts: col('ts'), value: col('value') } };
      }
      return { ...period, points: points.map((p) => ({ ...p, ts: new Date(p.ts).toISOString() })) };
    });
  };
