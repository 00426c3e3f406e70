import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';
import { regionCode, time } from '../query.ts';

const summaryQuery = z.object({ from: time.optional(), to: time.optional(), region: regionCode.optional(), enterprise: z.string().min(1).optional() }).strict();

export const reportRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    /** Per enterprise in the caller's scope: alerts by severity and rule kind, response times, online rate. */
    app.get('/reports/summary', async (req) => {
      const q = parseInput(summaryQuery, req.query, 'query');
      const to = q.to ?? ctx.clock();
      const from = q.from ?? to - 7 * 86_400_000;
      if (from >= to) throw new ApiError('BAD_REQUEST', 'query from: must be before to', 'from');
      if (q.region && req.caller.role === 'regulator' && !req.caller.regions.some((r) => q.region!.startsWith(r))) throw new ApiError('FORBIDDEN', `region ${q.region} is outside your scope`, 'region');
      if (q.enterprise && !req.caller.sees(q.enterprise)) throw new ApiError('FORBIDDEN', `enterprise ${q.enterprise} is outside your scope`, 'enterprise');
      const ids = [...ctx.registry().enterprises.values()]
        .filter((e) => req.caller.sees(e.id) && (!q.region || e.region.startsWith(q.region)) && (!q.enterprise || e.id === q.enterprise))
        .map((e) => e.id);
      await ctx.book.settled();
      const rows = await ctx.summary({ from, to, enterpriseIds: ids });
      return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), items: rows };
    });
  };
