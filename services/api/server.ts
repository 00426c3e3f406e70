import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { tokenDigest, type Caller } from './callers.ts';
import type { ApiContext } from './context.ts';
import { ApiError, installErrorHandler } from './errors.ts';
import { alertRoutes } from './routes/alerts.ts';
import { enterpriseRoutes } from './routes/enterprises.ts';
import { systemRoutes } from './routes/system.ts';
import { telemetryRoutes } from './routes/telemetry.ts';
import { silenceRoutes } from './routes/silences.ts';
import { reportRoutes } from './routes/reports.ts';
import { uplinkRoutes } from './routes/uplinks.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

// built by `npm start` (scripts/build.mjs) from dashboards/web; resolved from the working
// directory, the same whether the service runs from source or from the bundle in dist/
const DASHBOARD_DIR = resolve('dist/web');

export async function buildApi(ctx: ApiContext, logLevel: string, rateLimitPerMin = 3000): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: logLevel, redact: ['req.headers.authorization'] },
    bodyLimit: 64 * 1024,
    // the registry's ids may contain dots; keep route matching strict and simple
    routerOptions: { ignoreTrailingSlash: true },
  });
  installErrorHandler(app, (status) => ctx.metrics.apiErrors.inc({ status: String(status) }));
  await app.register(fastifyHelmet, {
    // the dashboards load their own scripts and styles only; SSE and the API are same-origin
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'] } },
  });
  await app.register(fastifyRateLimit, {
    max: rateLimitPerMin,
    timeWindow: '1 minute',
    // per caller: the token when there is one (hashed, never the token itself), else the address
    keyGenerator: (req) => {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      return m ? `t:${tokenDigest(m[1])}` : `a:${req.ip}`;
    },
    allowList: (req) => req.url === '/api/health' || req.url === '/metrics',
    errorResponseBuilder: (_req, c) => ({ statusCode: 429, error: 'RATE_LIMITED', message: `at most ${c.max} requests a minute; try again in ${Math.ceil(c.ttl / 1000)} s` }),
  });
  app.decorateRequest('caller', null as unknown as Caller);

  /** Every /api route but health needs a bearer token from the registry. */
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (!req.url.startsWith('/api/') || req.url.startsWith('/api/health')) return;
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    // EventSource cannot send headers: the live stream also takes ?token=
    const token = m?.[1] ?? (req.url.startsWith('/api/alerts/stream') ? new URL(req.url, 'http://x').searchParams.get('token') : null);
    if (!token) throw new ApiError('UNAUTHORIZED', 'send Authorization: Bearer <token>');
    const caller = ctx.caller(tokenDigest(token));
    if (!caller) throw new ApiError('UNAUTHORIZED', 'unknown token');
    req.caller = caller;
  });

  await app.register(systemRoutes(ctx));
  await app.register(alertRoutes(ctx), { prefix: '/api' });
  await app.register(telemetryRoutes(ctx), { prefix: '/api' });
  await app.register(enterpriseRoutes(ctx), { prefix: '/api' });
  await app.register(silenceRoutes(ctx), { prefix: '/api' });
  await app.register(reportRoutes(ctx), { prefix: '/api' });
  await app.register(uplinkRoutes(ctx), { prefix: '/api' });
  if (existsSync(DASHBOARD_DIR)) await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: '/' });
  return app;
}
