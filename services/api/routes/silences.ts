import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { endOf, type Silence } from '../../alerts/silences.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';
import { time } from '../query.ts';
import { id } from '../../registry/schema.ts';

/** Maintenance windows and silences: always with a reason, an author and an end. */
const createBody = z
  .object({
    enterpriseId: z.string().min(1),
    deviceId: z.string().min(1).optional(),
    // a rule's id, as the registry writes them: it is shown in the messages the silence sends
    rule: id.optional(),
    reason: z.string().trim().min(1, 'say why').max(500),
    from: time.optional(),
    until: time,
  })
  .strict();

const view = (s: Silence, now: number) => ({
  ...s,
  from: new Date(s.from).toISOString(),
  until: new Date(s.until).toISOString(),
  createdAt: new Date(s.createdAt).toISOString(),
  endedAt: s.endedAt === null ? null : new Date(s.endedAt).toISOString(),
  active: now >= s.from && now < endOf(s),
});

export const silenceRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/silences', async (req) => {
      const now = ctx.clock();
      return { items: ctx.silences.all().filter((s) => req.caller.sees(s.enterpriseId)).map((s) => view(s, now)) };
    });

    app.post('/silences', async (req, reply) => {
      const body = parseInput(createBody, req.body, 'body');
      const now = ctx.clock();
      const ent = ctx.registry().enterprises.get(body.enterpriseId);
      if (!ent) throw new ApiError('NOT_FOUND', `no enterprise ${body.enterpriseId}`, 'enterpriseId');
      if (!req.caller.handles(ent.id)) throw new ApiError('FORBIDDEN', `${req.caller.role} callers cannot silence enterprise ${ent.id}`);
      if (body.deviceId && !ent.devices.some((d) => d.id === body.deviceId)) throw new ApiError('BAD_REQUEST', `body deviceId: no device ${body.deviceId} in ${ent.id}`, 'deviceId');
      const from = body.from ?? now;
      if (body.until <= Math.max(from, now)) throw new ApiError('BAD_REQUEST', 'body until: must be in the future and after from', 'until');
      // no open-ended silences: the registry's cap, renewed on purpose if need be
      const maxH = ctx.registry().file.limits.maxSilenceH;
      if (body.until - from > maxH * 3_600_000) throw new ApiError('BAD_REQUEST', `body until: a silence may last at most ${maxH} h (limits.maxSilenceH)`, 'until');
      const s = await ctx.silences.add({ enterpriseId: ent.id, deviceId: body.deviceId ?? null, rule: body.rule ?? null, reason: body.reason, by: req.caller.name, from, until: body.until }, now);
      ctx.audit.append(req.caller.name, 'silence.created', s.id, { enterpriseId: s.enterpriseId, deviceId: s.deviceId, rule: s.rule, reason: s.reason, until: new Date(s.until).toISOString() });
      await ctx.announceSilences();
      return reply.status(201).send(view(s, now));
    });

    app.post('/silences/:id/end', async (req) => {
      const { id } = parseInput(z.object({ id: z.string().min(1) }), req.params, 'params');
      const s = ctx.silences.all().find((x) => x.id === id);
      if (!s) throw new ApiError('NOT_FOUND', `no silence ${id}`);
      if (s.source !== 'api') throw new ApiError('CONFLICT', 'a maintenance window from the registry ends when the registry says');
      if (!req.caller.handles(s.enterpriseId)) throw new ApiError('FORBIDDEN', `${req.caller.role} callers cannot end this silence`);
      await ctx.silences.end(id, req.caller.name, ctx.clock());
      ctx.audit.append(req.caller.name, 'silence.ended', id, { enterpriseId: s.enterpriseId });
      await ctx.announceSilences();
      return view(s, ctx.clock());
    });
  };
