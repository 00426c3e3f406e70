import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LoginGuard } from '../../gateway/login-guard.ts';
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
import { hazardRoutes } from './routes/hazards.ts';
import { photoRoutes } from './routes/photos.ts';
import { ackLinkRoutes } from './routes/ack-links.ts';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
    /** the caller's token, as its digest (a stream looks its caller up again by it) */
    callerDigest: string;
  }
}

// built by `npm start` (scripts/build.mjs) from dashboards/web into dist/web: beside the bundle
// (dist/service.mjs) or, run from source, two folders up from this file. Found from where the code
// is, not from the working directory: `node /srv/rm/dist/main.mjs` started elsewhere served no
// dashboards
const DASHBOARD_DIR = [new URL('./web/', import.meta.url), new URL('../../dist/web/', import.meta.url)].map((u) => fileURLToPath(u)).find((d) => existsSync(join(d, 'index.html'))) ?? resolve('dist/web');

/** Routes anyone may call: the health check, Prometheus, and the dashboards' static files. */
const OPEN_ROUTES = new Set(['/api/health', '/metrics']);

/** Parameter names that may carry a credential, however a client spells them. */
const SECRET_NAME = /token|secret|pass|pwd|auth|bearer|key|sign|credential/i;

/**
 * A URL as it may be logged: no token, whatever the parameter is called and however the request
 * spells it. Each part is decoded on its own, so one bad escape elsewhere (`%E0`) cannot keep a
 * percent-encoded token (`/%61ck/%33GLD…`) from being seen for what it is.
 */
export function loggableUrl(url: string): string {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const segments = rawPath.split('/');
  // an acknowledge link's token is in its path (/ack/…, http://host/ack/…, //ack/…)
  if (segments.some((seg) => decodeSafe(seg).toLowerCase() === 'ack')) return '/ack/[redacted]';
  const path = segments.map((seg) => redacted(seg)).join('/');
  if (q < 0) return path;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      const key = eq < 0 ? kv : kv.slice(0, eq);
      if (SECRET_NAME.test(decodeSafe(key.replace(/\+/g, ' ')))) return `${key}=[redacted]`;
      return eq < 0 ? redacted(kv) : `${key}=${redacted(kv.slice(eq + 1))}`;
    });
  return `${path}?${query.join('&')}`;
}

/** A part of a URL, or `[redacted]` where its decoded form holds something shaped like a token. */
function redacted(part: string): string {
  const decoded = decodeSafe(part.replace(/\+/g, ' '));
  ACK_TOKEN.lastIndex = 0;
  return ACK_TOKEN.test(decoded) ? decoded.replace(ACK_TOKEN, '[redacted]') : part;
}

/** 28 characters of base64url standing alone: the shape of an acknowledge token. */
const ACK_TOKEN = /(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])/g;

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    // decoded escape by escape, what cannot be decoded kept as it is
    return s.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => (parseInt(h, 16) < 0x80 ? String.fromCharCode(parseInt(h, 16)) : `%${h}`));
      }
    });
  }
}

export async function buildApi(ctx: ApiContext, logger: Logger, rateLimitPerMin = 3000, loginFailuresPerMin = 30): Promise<FastifyInstance> {
  const app = Fastify({
    // the service's own logger; a request is logged by method, path and address only: headers
    // carry tokens, and the request line can carry ?token= (EventSource cannot send headers)
    loggerInstance: logger.child(
      { part: 'api' },
      { serializers: { req: (req: FastifyRequest) => ({ method: req.method, url: loggableUrl(req.url), remoteAddress: req.ip }), res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }) } },
    ) as unknown as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    // requests are logged at debug (below): at info the log is for what happens to alerts
    logController: new LogController({ disableRequestLogging: true }),
    // the registry's ids may contain dots; keep route matching strict and simple
    routerOptions: { ignoreTrailingSlash: true },
  });
  installErrorHandler(app, (status) => ctx.metrics.apiErrors.inc({ status: String(status) }));
  // at its start (a hijacked live stream has no end to log), and with its answer
  app.addHook('onRequest', async (req) => req.log.debug({ req }, 'incoming request'));
  // a control character in the path (%00) names nothing, and a database refuses to look it up
  app.addHook('onRequest', async (req) => {
    const params = req.params as Record<string, unknown> | undefined;
    if (params && Object.values(params).some((v) => typeof v === 'string' && /[\u0000-\u001f\u007f]/.test(v))) throw new ApiError('BAD_REQUEST', 'the path holds a control character', 'path');
  });
  app.addHook('onResponse', async (req, reply) => req.log.debug({ res: reply, ms: Math.round(reply.elapsedTime) }, 'request completed'));
  await app.register(fastifyHelmet, {
    // the dashboards load their own scripts and styles only; SSE and the API are same-origin
    // no upgrade-insecure-requests: on a plain-HTTP LAN address it would send the dashboards' own
    // scripts and forms to an https:// that does not exist (TLS is a reverse proxy's, with HSTS)
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], upgradeInsecureRequests: null } },
  });
  await app.register(fastifyRateLimit, {
    max: rateLimitPerMin,
    timeWindow: '1 minute',
    // per caller: the token when there is one (hashed, never the token itself), else the address
    keyGenerator: (req) => {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      return m ? `t:${tokenDigest(m[1])}` : `a:${req.ip}`;
    },
    allowList: (req) => OPEN_ROUTES.has(req.routeOptions.url ?? ''),
    errorResponseBuilder: (_req, c) => ({ statusCode: 429, error: 'RATE_LIMITED', message: `at most ${c.max} requests a minute; try again in ${Math.ceil(c.ttl / 1000)} s` }),
  });
  app.decorateRequest('caller', null as unknown as Caller);

  // wrong tokens from one address are a password guess: after a few, that address waits
  const guard = new LoginGuard({ windowS: 60, maxFailuresPerAddress: loginFailuresPerMin, maxFailuresPerUsername: Number.MAX_SAFE_INTEGER, banS: 300 });

  /**
   * Every /api route but health needs a bearer token from the registry. Decided by the route
   * that will run (the router decodes the path, so `/%61pi/…` is `/api/…`), never by the raw URL.
   */
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const route = req.routeOptions.url;
    if (route === undefined || OPEN_ROUTES.has(route) || !route.startsWith('/api/')) return;
    const now = ctx.clock();
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    // EventSource cannot send headers: the live stream also takes ?token=
    const query = req.query as Record<string, unknown> | undefined;
    const fromQuery = route === '/api/alerts/stream' && typeof query?.token === 'string' ? query.token : null;
    const token = m?.[1] ?? fromQuery;
    if (!token) throw new ApiError('UNAUTHORIZED', 'send Authorization: Bearer <token>');
    const digest = tokenDigest(token);
    // a banned address keeps those who used their token from it before (a centre behind one NAT)
    const admitted = guard.admits(digest, req.ip, now);
    if (!admitted.ok) throw new ApiError('RATE_LIMITED', `too many failed logins from this address; try again in ${Math.ceil((admitted.until - now) / 1000)} s`);
    const caller = ctx.caller(digest);
    if (!caller) {
      for (const key of guard.fail(req.ip, undefined, now)) req.log.warn({ key }, 'too many failed API logins: address banned for a while');
      ctx.audit.append('anonymous', 'login.api.refused', req.ip, { route });
      throw new ApiError('UNAUTHORIZED', 'unknown token');
    }
    guard.succeed(digest, req.ip, now);
    req.caller = caller;
    req.callerDigest = digest;
  });

  await app.register(systemRoutes(ctx));
  await app.register(alertRoutes(ctx), { prefix: '/api' });
  await app.register(telemetryRoutes(ctx), { prefix: '/api' });
  await app.register(enterpriseRoutes(ctx), { prefix: '/api' });
  await app.register(silenceRoutes(ctx), { prefix: '/api' });
  await app.register(reportRoutes(ctx), { prefix: '/api' });
  await app.register(uplinkRoutes(ctx), { prefix: '/api' });
  await app.register(hazardRoutes(ctx), { prefix: '/api' });
  await app.register(photoRoutes(ctx), { prefix: '/api' });
  await app.register(ackLinkRoutes(ctx));
  if (existsSync(DASHBOARD_DIR)) await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: '/' });
  return app;
}
