import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';
import { regionCode, time } from '../query.ts';
import { monthOfCst } from '../../../domain/cst.ts';
import { buildMonthly, monthCst, monthlyWorkbook } from '../../reports/monthly.ts';

const monthQuery = z
  .object({
    month: z.string().regex(/^20\d\d-(0[1-9]|1[0-2])$/, 'a month is YYYY-MM').optional(),
    region: regionCode.optional(),
    enterprise: z.string().min(1).optional(),
  })
  .strict();
const INDUSTRY_ZH: Record<string, string> = { dust: '粉尘涉爆', aluminum_casting: '铝加工（深井铸造）', steel: '钢铁冶金', hazchem: '危险化学品', gas_user: '燃气使用', fire: '人员密集场所', building_materials: '建材' };

const summaryQuery = z.object({ from: time.optional(), to: time.optional(), region: regionCode.optional(), enterprise: z.string().min(1).optional() }).strict();
const timelineQuery = summaryQuery.extend({ bucket: z.enum(['hour', 'day']).default('day') });
const BUCKET_MS = { hour: 3_600_000, day: 86_400_000 } as const;
// days and hours as people here count them: from midnight China Standard Time
const CST_OFFSET_MS = 8 * 3_600_000;

export const reportRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    /** The period (default the last 7 days) and the enterprises in the caller's scope that the query names. */
    const scope = (req: FastifyRequest, q: z.infer<typeof summaryQuery>) => {
      const to = q.to ?? ctx.clock();
      const from = q.from ?? to - 7 * 86_400_000;
      if (from >= to) throw new ApiError('BAD_REQUEST', 'query from: must be before to', 'from');
      if (q.region && req.caller.role === 'regulator' && !req.caller.regions.some((r) => q.region!.startsWith(r))) throw new ApiError('FORBIDDEN', `region ${q.region} is outside your scope`, 'region');
      if (q.enterprise && !req.caller.sees(q.enterprise)) throw new ApiError('FORBIDDEN', `enterprise ${q.enterprise} is outside your scope`, 'enterprise');
      const ids = [...ctx.registry().enterprises.values()]
        .filter((e) => req.caller.sees(e.id) && (!q.region || e.region.startsWith(q.region)) && (!q.enterprise || e.id === q.enterprise))
        .map((e) => e.id);
      return { from, to, ids };
    };

    /** Per enterprise in the caller's scope: alerts by severity and rule kind, response times, online rate. */
    app.get('/reports/summary', async (req) => {
      const { from, to, ids } = scope(req, parseInput(summaryQuery, req.query, 'query'));
      await ctx.book.settled();
      const rows = await ctx.summary({ from, to, enterpriseIds: ids });
      return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), items: rows };
    });

    /**
     * Coverage for operators and regulators (default the last 30 days): which enterprises must be
     * connected, which are, which are online, last heard, online rate since first seen.
     */
    app.get('/reports/coverage', async (req) => {
      if (req.caller.role === 'enterprise') throw new ApiError('FORBIDDEN', 'coverage is for operators and regulators');
      const q = parseInput(summaryQuery, req.query, 'query');
      const { from, to, ids } = scope(req, { ...q, from: q.from ?? (q.to ?? ctx.clock()) - 30 * 86_400_000 });
      const items = await ctx.coverage({ from, to, enterpriseIds: ids });
      const must = items.filter((i) => i.mustConnect);
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        totals: { enterprises: items.length, mustConnect: must.length, connected: must.filter((i) => i.connected).length, notConnected: must.filter((i) => !i.connected).length, onlineNow: items.filter((i) => i.online > 0).length },
        items,
      };
    });

    /** The monthly report of the caller's scope (default this month, CST), as JSON or as a workbook. */
    const monthly = async (req: FastifyRequest) => {
      if (req.caller.role === 'enterprise') throw new ApiError('FORBIDDEN', 'the monthly report is for operators and regulators');
      const q = parseInput(monthQuery, req.query, 'query');
      const month = q.month ?? monthOfCst(ctx.clock());
      const period = monthCst(month);
      const { ids } = scope(req, { region: q.region, enterprise: q.enterprise, from: period.from, to: period.to });
      await ctx.book.settled();
      return buildMonthly({ summary: ctx.summary, coverage: ctx.coverage, alertsBetween: (id, from, to) => ctx.alerts.between(id, from, to) }, month, ids);
    };

    app.get('/reports/monthly', async (req) => monthly(req));

    app.get('/reports/monthly.xlsx', async (req, reply) => {
      const report = await monthly(req);
      const book = await monthlyWorkbook(report, { industry: (i) => `${INDUSTRY_ZH[i] ?? i} ${i}` });
      return reply
        .header('content-type', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
        .header('content-disposition', `attachment; filename="monthly-${report.month}.xlsx"`)
        .send(book);
    });

    /** Alerts raised per hour or day (China Standard Time), by industry and severity, in the caller's scope. */
    app.get('/reports/timeline', async (req) => {
      const q = parseInput(timelineQuery, req.query, 'query');
      const { from, to, ids } = scope(req, q);
      if ((to - from) / BUCKET_MS[q.bucket] > 2000) throw new ApiError('BAD_REQUEST', 'query bucket: at most 2000 buckets; choose a shorter period or day buckets', 'bucket');
      await ctx.book.settled();
      const wanted = new Set(ids);
      const rows = (await ctx.alerts.countsOverTime({ from, to, bucketMs: BUCKET_MS[q.bucket], offsetMs: CST_OFFSET_MS })).filter((r) => wanted.has(r.enterpriseId));
      const buckets = new Map<number, { start: string; total: number; byIndustry: Record<string, number>; bySeverity: Record<string, number> }>();
      for (const r of rows) {
        let b = buckets.get(r.bucket);
        if (!b) buckets.set(r.bucket, (b = { start: new Date(r.bucket).toISOString(), total: 0, byIndustry: {}, bySeverity: {} }));
        b.total += r.count;
        b.byIndustry[r.industry] = (b.byIndustry[r.industry] ?? 0) + r.count;
        b.bySeverity[r.severity] = (b.bySeverity[r.severity] ?? 0) + r.count;
      }
      return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucket: q.bucket, items: [...buckets.values()] };
    });
  };
