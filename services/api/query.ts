import { z } from 'zod';
import { SEVERITIES } from '../../domain/types.ts';

/** Query-string pieces shared by the API's routes. */

/** the latest time a Date can hold (ECMA-262 §21.4.1.1) */
export const MAX_TIME = 8.64e15;
export const time = z
  .string()
  .transform((s, ctx) => {
    // ISO-8601 only: Date.parse alone also reads "-5" or "May 1" as some time
    const ms = s.length > 40 ? NaN : /^\d+$/.test(s) ? Number(s) : /^\d{4}-\d{2}-\d{2}(T|$)/.test(s) ? Date.parse(s) : NaN;
    // bounded to what a Date (and a store's 64-bit time) can hold: out of range is the caller's error
    if (!Number.isFinite(ms) || ms < 0 || ms > MAX_TIME) {
      ctx.addIssue({ code: 'custom', message: 'expected ISO-8601 time or epoch milliseconds between 1970 and the year 275760' });
      return z.NEVER;
    }
    return ms;
  });

export const severityList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.enum(SEVERITIES)).min(1));

/** "30s", "1m", "15m", "1h", "1d" → ms */
export const duration = z
  .string()
  .regex(/^\d{1,15}(ms|s|m|h|d)$/, 'expected a duration such as 10s, 1m, 1h, 1d')
  .transform((s) => {
    const [, n, u] = /^(\d+)(ms|s|m|h|d)$/.exec(s)!;
    return Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[u as 'ms'];
  })
  .refine((ms) => ms >= 1000, 'the window must be at least 1s')
  // a window longer than any period asked for is one bucket; an endless one (400 nines) was a 500
  .refine((ms) => ms <= 366 * 86_400_000, 'the window must be at most 366d');

export const regionCode = z.string().regex(/^\d{2,12}$/, 'a region code is 2–12 digits');
