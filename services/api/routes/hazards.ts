import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HazardError, type Hazard } from '../../hazards/hazard.ts';
import { HazardNotFound } from '../../hazards/hazards.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';
import { regionCode, time } from '../query.ts';
import { checkOwnPhotos } from './photos.ts';

/**
 * Rectification items (隐患整改): opened from an alert or an inspection by an operator or the
 * regulator of the region, rectified by the enterprise, signed off (销号) or returned by the
 * regulator of the region. Everyone sees the items of the enterprises in their scope.
 */
const openBody = z.object({ description: z.string().trim().min(1, 'say what the hazard is').max(1000), dueAt: time }).strict();
const inspectionBody = openBody.extend({ enterpriseId: z.string().min(1) });
const rectifiedBody = z.object({ measures: z.string().trim().min(1, 'say what was done').max(2000), photos: z.array(z.string().max(200)).max(20).default([]) }).strict();
const signoffBody = z.object({ accepted: z.boolean(), note: z.string().trim().min(1, 'say why').max(1000) }).strict();
const listQuery = z
  .object({
    state: z.enum(['open', 'overdue', 'closed', 'all']).default('open'),
    region: regionCode.optional(),
    enterprise: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();
const idParams = z.object({ id: z.string().min(1).max(100) }).strict();

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const view = (h: Hazard, now: number) => ({
  ...h,
  dueAt: iso(h.dueAt),
  openedAt: iso(h.openedAt),
  overdueAt: iso(h.overdueAt),
  closedAt: iso(h.closedAt),
  overdue: h.state !== 'closed' && now >= h.dueAt,
  rectification: h.rectification && { ...h.rectification, at: iso(h.rectification.at) },
  signoff: h.signoff && { ...h.signoff, at: iso(h.signoff.at) },
});

export const hazardRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    /** Operators, and regulators for the enterprises of their region, open and sign off. */
    const regulates = (req: FastifyRequest, enterpriseId: string) => req.caller.role === 'operator' || (req.caller.role === 'regulator' && req.caller.sees(enterpriseId));
    const failed = (e: unknown): never => {
      if (e instanceof HazardError) throw new ApiError('CONFLICT', e.message);
      if (e instanceof HazardNotFound) throw new ApiError('NOT_FOUND', `no rectification item ${e.message}`);
      throw e;
    };
    const visible = async (req: FastifyRequest) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const found = await ctx.hazards.get(id).catch(failed);
      if (!req.caller.sees(found.hazard.enterpriseId)) throw new ApiError('FORBIDDEN', `rectification item ${id} is outside your scope`);
      return found;
    };
    const opening = async (req: FastifyRequest, enterpriseId: string, alertId: string | null, body: z.infer<typeof openBody>) => {
      const ent = ctx.registry().enterprises.get(enterpriseId);
      if (!ent) throw new ApiError('NOT_FOUND', `no enterprise ${enterpriseId}`, 'enterpriseId');
      if (!regulates(req, ent.id)) throw new ApiError('FORBIDDEN', `${req.caller.role} callers cannot open rectification items for ${ent.id}`);
      if (body.dueAt <= ctx.clock()) throw new ApiError('BAD_REQUEST', 'body dueAt: the deadline must be in the future', 'dueAt');
      const h = await ctx.hazards.open({ enterpriseId: ent.id, region: ent.region, industry: ent.industry, alertId, description: body.description, dueAt: body.dueAt }, req.caller.name);
      return view(h, ctx.clock());
    };

    app.post('/alerts/:id/hazard', async (req, reply) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const found = await ctx.alerts.get(id);
      if (!found) throw new ApiError('NOT_FOUND', `no alert ${id}`);
      if (!req.caller.sees(found.alert.enterpriseId)) throw new ApiError('FORBIDDEN', `alert ${id} is outside your scope`);
      return reply.status(201).send(await opening(req, found.alert.enterpriseId, id, parseInput(openBody, req.body, 'body')));
    });

    /** From an inspection (执法检查): no alert behind it. */
    app.post('/hazards', async (req, reply) => {
      const body = parseInput(inspectionBody, req.body, 'body');
      if (!req.caller.sees(body.enterpriseId)) throw new ApiError('FORBIDDEN', `enterprise ${body.enterpriseId} is outside your scope`, 'enterpriseId');
      return reply.status(201).send(await opening(req, body.enterpriseId, null, body));
    });

    app.get('/hazards', async (req) => {
      const q = parseInput(listQuery, req.query, 'query');
      if (q.enterprise && !req.caller.sees(q.enterprise)) throw new ApiError('FORBIDDEN', `enterprise ${q.enterprise} is outside your scope`, 'enterprise');
      const ids = [...ctx.registry().enterprises.values()].filter((e) => req.caller.sees(e.id) && (!q.region || e.region.startsWith(q.region)) && (!q.enterprise || e.id === q.enterprise)).map((e) => e.id);
      const now = ctx.clock();
      return { items: (await ctx.hazardStore.list({ enterpriseIds: ids, state: q.state, now, limit: q.limit })).map((h) => view(h, now)) };
    });

    app.get('/hazards/:id', async (req) => {
      const { hazard, events } = await visible(req);
      return { ...view(hazard, ctx.clock()), history: events.map((e) => ({ ...e, at: iso(e.at) })) };
    });

    app.post('/hazards/:id/rectified', async (req) => {
      const { hazard } = await visible(req);
      if (req.caller.role !== 'enterprise') throw new ApiError('FORBIDDEN', 'the enterprise reports its own rectification');
      const body = parseInput(rectifiedBody, req.body, 'body');
      await checkOwnPhotos(ctx.photos, body.photos, hazard.enterpriseId);
      return view(await ctx.hazards.rectify(hazard.id, req.caller.name, body.measures, body.photos).catch(failed), ctx.clock());
    });

    app.post('/hazards/:id/signoff', async (req) => {
      const { hazard } = await visible(req);
      if (req.caller.role !== 'regulator') throw new ApiError('FORBIDDEN', 'the regulator of the region signs off (销号)');
      const body = parseInput(signoffBody, req.body, 'body');
      return view(await ctx.hazards.signOff(hazard.id, req.caller.name, body.accepted, body.note).catch(failed), ctx.clock());
    });
  };
