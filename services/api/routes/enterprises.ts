import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { EnterpriseConfig } from '../../registry/schema.ts';
import type { DeviceStatusNow } from '../../devices/device-status.ts';
import type { ApiContext } from '../context.ts';
import { mustConnect } from '../../enterprises/profile.ts';
import type { RuleDef } from '../../../rules/schema.ts';
import { ApiError, parseInput } from '../errors.ts';
import { REGISTRATIONS_PER_MINUTE } from '../../devices/registration.ts';

const idParams = z.object({ id: z.string().min(1).max(100) });
const deviceParams = z.object({ id: z.string().min(1).max(100), deviceId: z.string().min(1).max(100) });
const statusBody = z
  .object({
    status: z.enum(['operating', 'suspended']),
    reason: z.string().trim().min(1, 'say why').max(500),
  })
  .strict();

const statusView = (s: { status: string; reason: string | null; by: string | null; at: number | null }) => ({ ...s, at: s.at === null ? null : new Date(s.at).toISOString() });

const baselineBody = z
  .object({
    /** the point by its metric (when the device has one of it) or by its id */
    metric: z.string().min(1),
    /** default: the device's latest value of the metric */
    value: z.number().min(-1e9).max(1e9).optional(),
    note: z.string().max(500).optional(),
  })
  .strict();

/** The threshold setpoints of a device's rules, for drawing on its charts. */
function limitsOf(rules: readonly RuleDef[]) {
  const out: { metric: string; rule: string; direction: 'above' | 'below'; severity: string; value: number }[] = [];
  for (const r of rules) {
    if (r.kind !== 'threshold' || r.enabled === false) continue;
    for (const l of r.above ?? []) out.push({ metric: r.metric, rule: r.id, direction: 'above', severity: l.severity, value: l.value });
    for (const l of r.below ?? []) out.push({ metric: r.metric, rule: r.id, direction: 'below', severity: l.severity, value: l.value });
  }
  return out;
}

export const enterpriseRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    const view = (ent: EnterpriseConfig, statuses: Map<string, DeviceStatusNow>) => {
      const open = ctx.book.openAlerts().filter((a) => a.enterpriseId === ent.id);
      return {
        id: ent.id,
        name: ent.name,
        industry: ent.industry,
        region: ent.region,
        units: ctx.registry().unitsFor(ent.id, ['enterprise', 'township', 'regulator', 'fire']).map((u) => ({ id: u.id, name: u.name, kind: u.kind })),
        openAlerts: open.length,
        status: statusView(ctx.statuses.of(ent.id)),
        profile: { ...ent.profile, mustConnect: mustConnect(ent).must },
        devices: ent.devices.map((d) => {
          const s = statuses.get(d.id)!;
          return {
            id: d.id,
            name: d.name ?? null,
            reportIntervalS: d.reportIntervalS,
            templates: d.templates,
            points: d.points,
            limits: limitsOf(ctx.registry().devices.get(d.id)?.rules ?? []),
            // the rules in force, each with what requires it
            rules: (ctx.registry().devices.get(d.id)?.rules ?? []).filter((r) => r.enabled).map((r) => ({ id: r.id, kind: r.kind, description: r.description ?? null })),
            online: s.online,
            connected: s.connected,
            // connected and online, and yet none of its readings is judged: say so beside it
            heldBackUntil: s.heldBackUntil === undefined ? null : new Date(s.heldBackUntil).toISOString(),
            lastSeen: s.lastSeen === null ? null : new Date(s.lastSeen).toISOString(),
            lastValues: Object.fromEntries(Object.entries(s.lastValues).map(([m, v]) => [m, { value: v.value, ts: new Date(v.ts).toISOString() }])),
            openAlerts: open.filter((a) => a.deviceId === d.id).length,
          };
        }),
      };
    };
    const enterprise = (req: FastifyRequest) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const ent = ctx.registry().enterprises.get(id);
      if (!ent) throw new ApiError('NOT_FOUND', `no enterprise ${id}`);
      if (!req.caller.sees(id)) throw new ApiError('FORBIDDEN', `enterprise ${id} is outside your scope`);
      return ent;
    };

    /** the enterprises with their devices' status, asked for in one go */
    const views = async (ents: EnterpriseConfig[]) => {
      const statuses = await ctx.status.many(ents.flatMap((e) => e.devices.map((d) => d.id)));
      return ents.map((e) => view(e, statuses));
    };

    app.get('/enterprises', async (req) => ({
      items: await views([...ctx.registry().enterprises.values()].filter((e) => req.caller.sees(e.id))),
    }));

    app.get('/enterprises/:id', async (req) => (await views([enterprise(req)]))[0]);

    /**
     * A suspension (停产整顿) or its lifting, by the enterprise's regulator (or an operator), always
     * with a reason; every change is kept and audited. A suspended enterprise's power use above
     * its idle baseline raises `power-while-suspended` for the regulator.
     */
    app.post('/enterprises/:id/status', async (req) => {
      const ent = enterprise(req);
      if (req.caller.role === 'enterprise') throw new ApiError('FORBIDDEN', 'an enterprise cannot set its own operating status');
      const body = parseInput(statusBody, req.body, 'body');
      const change = { enterpriseId: ent.id, status: body.status, reason: body.reason, by: req.caller.name, at: ctx.clock() };
      await ctx.statuses.set(change);
      ctx.audit.append(req.caller.name, 'enterprise.status', ent.id, { status: change.status, reason: change.reason });
      return statusView(change);
    });

    app.get('/enterprises/:id/status/history', async (req) => {
      const ent = enterprise(req);
      return { items: (await ctx.statuses.history(ent.id)).map(statusView) };
    });

    const device = (req: FastifyRequest) => {
      const { deviceId } = parseInput(deviceParams, req.params, 'params');
      const ent = enterprise(req);
      const dev = ent.devices.find((d) => d.id === deviceId);
      if (!dev) throw new ApiError('NOT_FOUND', `no device ${deviceId} in enterprise ${ent.id}`);
      return { ent, dev };
    };

    app.get('/enterprises/:id/devices/:deviceId/baselines', async (req) => {
      const { dev } = device(req);
      return { items: (await ctx.baselines.history(dev.id)).map((b) => ({ ...b, at: new Date(b.at).toISOString() })) };
    });

    /** Record a baseline (after bag replacement): deviation rules measure against it from now on. */
    app.post('/enterprises/:id/devices/:deviceId/baselines', async (req, reply) => {
      const { ent, dev } = device(req);
      if (!req.caller.handles(ent.id)) throw new ApiError('FORBIDDEN', `${req.caller.role} callers cannot set baselines`);
      const body = parseInput(baselineBody, req.body, 'body');
      // baselines are per point: a point id, or a metric the device has one point of
      const ofMetric = dev.points.filter((p) => p.metric === body.metric);
      const point = dev.points.find((p) => p.id === body.metric) ?? (ofMetric.length === 1 ? ofMetric[0] : undefined);
      if (!point) throw new ApiError('BAD_REQUEST', ofMetric.length ? `body metric: the device has ${ofMetric.length} ${body.metric} points; give the point's id` : `body metric: the device has no point "${body.metric}"`, 'metric');
      const latest = (await ctx.status.get(dev.id)).lastValues[point.id]?.value;
      const value = body.value ?? (typeof latest === 'number' ? latest : undefined);
      if (value === undefined) throw new ApiError('BAD_REQUEST', `body value: no reading of ${body.metric} yet; give the value`, 'value');
      const b = { enterpriseId: ent.id, deviceId: dev.id, metric: point.id, value, at: ctx.clock(), by: req.caller.name, note: body.note ?? null };
      await ctx.baselines.set(b);
      return reply.status(201).send({ ...b, at: new Date(b.at).toISOString() });
    });

    app.post('/enterprises/:id/devices', { config: { rateLimit: { max: REGISTRATIONS_PER_MINUTE, timeWindow: '1 minute' } } }, async (req, reply) => {
      const ent = enterprise(req);
      if (!req.caller.handles(ent.id)) throw new ApiError('FORBIDDEN', `${req.caller.role} callers cannot register devices`);
      const created = await ctx.registerDevice(ent.id, req.body, req.caller.name);
      return reply.status(201).send(created);
    });
  };
