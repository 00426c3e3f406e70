import { stringify } from 'csv-stringify/sync';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AlertError, AlertNotFound, AlertStepPending } from '../../alerts/alert-book.ts';
import type { AlertFilter } from '../../alerts/alert-store.ts';
import { DISPOSITIONS, alertJson, transitionJson, type Alert } from '../../alerts/model.ts';
import { checkOwnPhotos } from './photos.ts';
import { formatCst } from '../../../domain/cst.ts';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';
import { MAX_TIME, regionCode, severityList, time } from '../query.ts';
import { INDUSTRIES } from '../../../domain/indicators.ts';

const filterQuery = z
  .object({
    state: z.enum(['active', 'cleared', 'closed', 'open', 'all']).default('all'),
    enterprise: z.string().min(1).optional(),
    region: regionCode.optional(),
    severity: severityList.optional(),
    industry: z.enum(INDUSTRIES).optional(),
    from: time.optional(),
    to: time.optional(),
  })
  .strict();

const listQuery = filterQuery.extend({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().optional(),
});

const idParams = z.object({ id: z.string().min(1).max(100) });
const ackBody = z.object({ note: z.string().max(2000).optional() }).strict();
const closeBody = z.object({ disposition: z.enum(DISPOSITIONS), note: z.string().trim().min(1, 'say what was done').max(2000) }).strict();
const feedbackBody = z
  .object({
    cause: z.string().trim().min(1, 'say what caused it').max(2000),
    measures: z.string().trim().min(1, 'say what was done').max(2000),
    /** how it would be closed (default other) */
    disposition: z.enum(DISPOSITIONS).default('other'),
    photos: z.array(z.string().max(200)).max(20).default([]),
  })
  .strict();
/** Several alerts handled in one go (a storm's cleared alerts closed together), each on its own. */
const bulkBody = z
  .object({
    ids: z.array(z.string().min(1).max(100)).min(1).max(200),
    action: z.enum(['ack', 'close']),
    disposition: z.enum(DISPOSITIONS).optional(),
    note: z.string().trim().max(2000).optional(),
  })
  .strict()
  .refine((b) => b.action !== 'close' || (b.disposition && b.note), { path: ['note'], error: 'closing needs a disposition and a note saying what was done' });
const reviewBody = z.object({ accepted: z.boolean(), note: z.string().trim().min(1, 'say why').max(1000) }).strict();

/** The caller's filters, narrowed to what the caller may see; asking for more is a 403. */
function scopedFilter(req: FastifyRequest, q: z.infer<typeof filterQuery>): Omit<AlertFilter, 'limit'> {
  const c = req.caller;
  if (q.enterprise && !c.sees(q.enterprise)) throw new ApiError('FORBIDDEN', `enterprise ${q.enterprise} is outside your scope`, 'enterprise');
  let regions = q.region ? [q.region] : undefined;
  if (c.role === 'regulator') {
    if (q.region && !c.regions.some((r) => q.region!.startsWith(r))) throw new ApiError('FORBIDDEN', `region ${q.region} is outside your scope`, 'region');
    regions ??= c.regions;
  }
  const enterpriseIds = q.enterprise ? [q.enterprise] : c.role === 'enterprise' ? [c.enterpriseId!] : undefined;
  return { state: q.state, enterpriseIds, regions, severities: q.severity, industries: q.industry ? [q.industry] : undefined, from: q.from, to: q.to };
}

const encodeCursor = (c: { raisedAt: number; id: string }) => Buffer.from(JSON.stringify([c.raisedAt, c.id])).toString('base64url');
function decodeCursor(s: string) {
  try {
    const parsed: unknown = s.length <= 400 ? JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) : null;
    const [raisedAt, id] = Array.isArray(parsed) ? (parsed as unknown[]) : [];
    if (Number.isSafeInteger(raisedAt) && Math.abs(raisedAt as number) <= MAX_TIME && typeof id === 'string' && id.length <= 100) return { raisedAt: raisedAt as number, id };
  } catch {
    /* fall through */
  }
  throw new ApiError('BAD_REQUEST', 'query cursor: not a cursor this API gave', 'cursor');
}

export const alertRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    const inScope = (req: FastifyRequest, id: string, alert: Alert | undefined): Alert => {
      if (!alert) throw new ApiError('NOT_FOUND', `no alert ${id}`);
      if (!req.caller.sees(alert.enterpriseId)) throw new ApiError('FORBIDDEN', `alert ${id} is outside your scope`);
      return alert;
    };
    /** The alert a step is for, as it is now: the book's (an alarm on the board may not be recorded yet), else the record's. */
    const handled = async (req: FastifyRequest, id: string): Promise<Alert> => inScope(req, id, ctx.book.current(id) ?? (await ctx.alerts.get(id))?.alert);
    const handling = async (req: FastifyRequest, id: string) => {
      const alert = await handled(req, id);
      if (!req.caller.handles(alert.enterpriseId)) throw new ApiError('FORBIDDEN', `${req.caller.role} callers cannot handle this alert`);
      return alert;
    };
    const conflict = (e: unknown): never => {
      if (e instanceof AlertError) throw new ApiError(e.code === 'REVIEW_REQUIRED' ? 'REVIEW_REQUIRED' : 'CONFLICT', e.message);
      if (e instanceof AlertNotFound) throw new ApiError('NOT_FOUND', `no alert ${e.message}`);
      if (e instanceof AlertStepPending) throw new ApiError('UNAVAILABLE', e.message);
      throw e;
    };

    /** Alerts as the contract shows them, with who was told of each. */
    const withUnits = async (alerts: Alert[]) => {
      const told = await ctx.toldOf(alerts.map((a) => a.id));
      return alerts.map((a) => alertJson(a, told.get(a.id) ?? []));
    };

    app.get('/alerts', async (req) => {
      const q = parseInput(listQuery, req.query, 'query');
      await ctx.book.settled();
      const { items, next } = await ctx.alerts.list({ ...scopedFilter(req, q), limit: q.limit, cursor: q.cursor ? decodeCursor(q.cursor) : undefined });
      // an alert whose latest steps the record could not take yet (a full disk) as the book holds
      // it, marked so: the duty board after a reload must not show an acknowledged alarm as new
      const held = items.map((a) => ctx.book.unrecordedAlert(a.id) ?? a);
      const json = await withUnits(held);
      return { items: json.map((a, i) => (held[i] !== items[i] ? { ...a, recorded: false } : a)), nextCursor: next ? encodeCursor(next) : null };
    });

    app.get('/alerts/stream', async (req, reply) => {
      const digest = req.callerDigest;
      // pipelined behind another request on its connection: it would be answered only after that
      // one, a stream never, and was counted against its token for good (an outside probe)
      if (!reply.raw.socket) throw new ApiError('BAD_REQUEST', 'a live stream cannot wait behind another request on its connection: open it on a connection of its own');
      const refused = ctx.live.refuses(digest, req.caller.role !== 'enterprise');
      const { perCaller, total } = ctx.live.limits;
      if (refused === 'caller') throw new ApiError('RATE_LIMITED', `this token has as many live streams open as it may (${perCaller}): close one first`);
      if (refused === 'total') throw new ApiError('UNAVAILABLE', `the service follows as many live streams as it can (${total}): try again later`);
      reply.hijack();
      ctx.live.follow(reply.raw, digest, () => ctx.caller(digest));
    });

    app.get('/alerts/export.csv', async (req, reply) => {
      const q = parseInput(filterQuery.extend({ token: z.string().optional() }), req.query, 'query');
      const { token: _t, ...filters } = q;
      const filter = scopedFilter(req, filters);
      await ctx.book.settled();
      const rows: Alert[] = [];
      let cursor: AlertFilter['cursor'];
      // a regulator's export is bounded so one request cannot hold the store for minutes
      while (rows.length < 100_000) {
        const page = await ctx.alerts.list({ ...filter, limit: 1000, cursor });
        rows.push(...page.items);
        if (!page.next) break;
        cursor = page.next;
      }
      const t = (ms: number | null) => (ms === null ? '' : formatCst(ms));
      const csv = stringify(
        rows.map((a) => [a.id, a.enterpriseId, ctx.registry().enterprises.get(a.enterpriseId)?.name ?? '', a.region, a.industry, a.deviceId, a.metric, a.rule, a.severity, a.state, a.acknowledged, t(a.raisedAt), t(a.ackAt), a.ackBy ?? '', t(a.clearedAt), t(a.closedAt), a.closedBy ?? '', a.disposition ?? '', a.closeNote ?? '', a.value ?? '', a.peak ?? '', a.threshold ?? '', a.message, a.pointId ?? '', a.pointName ?? '']),
        {
          header: true,
          columns: ['id', 'enterprise_id', 'enterprise', 'region', 'industry', 'device', 'metric', 'rule', 'severity', 'state', 'acknowledged', 'raised_at_cst', 'ack_at_cst', 'ack_by', 'cleared_at_cst', 'closed_at_cst', 'closed_by', 'disposition', 'close_note', 'value', 'peak', 'threshold', 'message', 'point_id', 'point_name'],
          cast: { boolean: (b) => (b ? 'true' : 'false') },
          // point names, messages and notes are written by enterprises and callers: a cell that
          // starts with = + - @ would be a formula in the regulator's Excel (an outside probe
          // planted a HYPERLINK); it goes out as text, behind a quote. Numbers stay numbers
          escape_formulas: true,
        },
      );
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="alerts-${new Date(ctx.clock()).toISOString().slice(0, 10)}.csv"`)
        .send('\uFEFF' + csv);
    });

    app.get('/alerts/:id', async (req) => {
      const { id } = parseInput(idParams, req.params, 'params');
      await ctx.book.settled();
      const found = await ctx.alerts.get(id);
      // what the book has handled and the record could not take yet (a full disk): the alert as
      // the book holds it, and those steps in its history marked as not yet recorded. An operator
      // whose acknowledgement was kept must not be shown the alert unacknowledged
      const recorded = found?.transitions ?? [];
      // (a retry that has just committed may not have told the book yet: a line is shown once)
      const inRecord = new Set(recorded.map((t) => JSON.stringify(t)));
      const waiting = ctx.book.unrecordedOf(id).filter((t) => !inRecord.has(JSON.stringify(t)));
      const alert = inScope(req, id, (waiting.length ? ctx.book.current(id) : undefined) ?? found?.alert);
      const transitions = [...recorded.map(transitionJson), ...waiting.map((t) => ({ ...transitionJson(t), recorded: false }))];
      // the notification log: every notice for this alert, by channel and unit, with its outcome
      const notifications = (await ctx.notificationsOf(id)).map((n) => ({
        id: n.id,
        unit: n.unitId,
        channel: n.channel,
        status: n.status,
        attempts: n.attempts,
        lastError: n.lastError,
        createdAt: new Date(n.createdAt).toISOString(),
        deliveredAt: n.deliveredAt === null ? null : new Date(n.deliveredAt).toISOString(),
        event: n.body.notice === 'alert' ? n.body.transition.type : n.body.notice,
      }));
      const [json] = await withUnits([alert]);
      return { ...json, history: transitions, notifications };
    });

    app.post('/alerts/:id/ack', async (req) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const body = parseInput(ackBody, req.body, 'body');
      await handling(req, id);
      return (await withUnits([await ctx.book.ack(id, req.caller.name, body.note).catch(conflict)]))[0];
    });

    app.post('/alerts/:id/close', async (req) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const body = parseInput(closeBody, req.body, 'body');
      await handling(req, id);
      return (await withUnits([await ctx.book.close(id, req.caller.name, body.disposition, body.note).catch(conflict)]))[0];
    });

    /**
     * Acknowledge or close several alerts: each is checked and handled as if alone (scope, review,
     * a critical one acknowledged first), and the answer says, per alert, done or why not.
     */
    app.post('/alerts/bulk', async (req) => {
      const body = parseInput(bulkBody, req.body, 'body');
      const results: ({ id: string; ok: true; state: string; acknowledged: boolean } | { id: string; ok: false; error: { code: string; message: string } })[] = [];
      for (const id of new Set(body.ids)) {
        try {
          await handling(req, id);
          const a = await (body.action === 'ack' ? ctx.book.ack(id, req.caller.name, body.note || undefined) : ctx.book.close(id, req.caller.name, body.disposition!, body.note!)).catch(conflict);
          results.push({ id, ok: true, state: a.state, acknowledged: a.acknowledged });
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
          results.push({ id, ok: false, error: { code: e.code, message: e.message } });
        }
      }
      return { done: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length, results };
    });

    /** What the enterprise found and did (处置反馈): the enterprise itself, or an operator. */
    app.post('/alerts/:id/feedback', async (req) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const body = parseInput(feedbackBody, req.body, 'body');
      const alert = await handling(req, id);
      await checkOwnPhotos(ctx.photos, body.photos, alert.enterpriseId);
      return (await withUnits([await ctx.book.feedback(id, req.caller.name, body).catch(conflict)]))[0];
    });

    /** The review (核查): the regulator of the region, or an operator. */
    app.post('/alerts/:id/review', async (req) => {
      const { id } = parseInput(idParams, req.params, 'params');
      const body = parseInput(reviewBody, req.body, 'body');
      const alert = await handled(req, id);
      if (req.caller.role !== 'operator' && req.caller.role !== 'regulator') throw new ApiError('FORBIDDEN', `the township or regulator of the region reviews feedback, not ${req.caller.role} callers`);
      return (await withUnits([await ctx.book.review(alert.id, req.caller.name, body.accepted, body.note).catch(conflict)]))[0];
    });
  };
