import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { ApiError, parseInput } from '../errors.ts';

const idParam = z.object({ id: z.string().min(1) });
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(100) }).strict();

/**
 * Upstream platforms: whether data are getting through, what waits, what was given up. An
 * enterprise sees the uplinks that carry its own data; dead letters are for the monitoring centre
 * and regulators, and only the centre puts them back in the queue.
 */
export const uplinkRoutes =
  (ctx: ApiContext): FastifyPluginAsync =>
  async (app) => {
    const uplinkFor = (id: string) => {
      const u = ctx.uplinks.get(id);
      if (!u) throw new ApiError('NOT_FOUND', `no uplink ${id}`);
      return u;
    };

    app.get('/uplinks', async (req) => {
      const visible = ctx.uplinks.status().filter((u) => req.caller.role === 'operator' || u.enterprises.some((e) => req.caller.sees(e)));
      return { items: visible.map((u) => ({ ...u, enterprises: u.enterprises.filter((e) => req.caller.sees(e)) })) };
    });

    app.get('/uplinks/:id/dead-letters', async (req) => {
      if (req.caller.role === 'enterprise') throw new ApiError('FORBIDDEN', 'dead letters are for operators and regulators');
      const { id } = parseInput(idParam, req.params, 'params');
      const { limit } = parseInput(listQuery, req.query, 'query');
      const items = await uplinkFor(id).deadLetters(limit);
      return { items: items.filter((d) => req.caller.sees(d.enterpriseId)) };
    });

    app.post('/uplinks/:id/dead-letters/requeue', async (req) => {
      if (req.caller.role !== 'operator') throw new ApiError('FORBIDDEN', 'only the monitoring centre requeues dead letters');
      const { id } = parseInput(idParam, req.params, 'params');
      const requeued = await uplinkFor(id).requeue();
      ctx.audit.append(req.caller.name, 'uplink.requeued', id, { requeued });
      return { requeued };
    });

    app.post('/uplinks/:id/retry', async (req) => {
      if (req.caller.role !== 'operator') throw new ApiError('FORBIDDEN', 'only the monitoring centre retries an uplink');
      const { id } = parseInput(idParam, req.params, 'params');
      uplinkFor(id).retryNow();
      return { ok: true };
    });
  };
