import type { FastifyError, FastifyInstance } from 'fastify';
import type { z } from 'zod';

/** Every error an API caller can receive has a stable code (listed in the README). */
export const API_ERRORS = {
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  /** an alert of `routing.reviewFrom` and above closes only through an accepted review */
  REVIEW_REQUIRED: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** cluster mode: the step was taken, but no worker answered in time; it is applied when one does */
  UNAVAILABLE: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Parse request input with a schema; a failure names the first failing field. */
export function parseInput<S extends z.ZodType>(schema: S, data: unknown, where: 'query' | 'body' | 'params'): z.infer<S> {
  const r = schema.safeParse(data ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  // a query parameter is named as the caller wrote it; a body field by its full path
  const field = (where === 'query' ? String(issue.path[0] ?? '') : issue.path.join('.')) || where;
  throw new ApiError('BAD_REQUEST', `${where} ${field}: ${issue.message}`, field);
}

export function installErrorHandler(app: FastifyInstance, count: (status: number) => void) {
  app.setErrorHandler((err: FastifyError | ApiError, req, reply) => {
    let status: number;
    let body: { error: string; message: string; field?: string };
    if (err instanceof ApiError) {
      status = API_ERRORS[err.code];
      body = { error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) };
    } else if ((err as FastifyError).statusCode && (err as FastifyError).statusCode! < 500) {
      status = (err as FastifyError).statusCode!;
      const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 404 ? 'NOT_FOUND' : status === 429 ? 'RATE_LIMITED' : 'BAD_REQUEST';
      body = { error: code, message: err.message };
    } else {
      status = 500;
      req.log.error({ err }, 'request failed');
      body = { error: 'INTERNAL', message: 'internal error' };
    }
    count(status);
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    count(404);
    void reply.status(404).send({ error: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` });
  });
}
