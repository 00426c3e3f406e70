import { z } from 'zod';
import { INDICATORS, isMetric } from '../rules/indicators.ts';
import type { Quality, Reading, Value } from '../rules/types.ts';
import type { Reject } from './reject-codes.ts';

/**
 * Telemetry payload → validated readings. A problem with one value costs only that value; a
 * problem with a reading's envelope (ts, shape) costs that reading; the rest of the message is kept.
 */
export interface DecodeLimits {
  maxPayloadBytes: number;
  maxReadingsPerMessage: number;
  maxFutureSkewMs: number;
}

export interface DeviceScope {
  enterpriseId: string;
  deviceId: string;
  metrics: ReadonlySet<string>;
}

/** A reading before seq de-duplication, with its index in the message for error paths. */
export interface DecodedReading {
  index: number;
  reading: Reading;
  /** the device gave its own ts (rather than the gateway stamping "now") */
  deviceTs: boolean;
}

const envelope = z.object({
  ts: z.union([z.number(), z.string()]).optional(),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  values: z.record(z.string(), z.unknown()),
  quality: z.record(z.string(), z.unknown()).optional(),
});

const QUALITIES = new Set<string>(['good', 'fault', 'maintenance']);
const EARLIEST_TS = Date.UTC(2000, 0, 1);

export function decodeTelemetry(payload: Buffer, scope: DeviceScope, now: number, limits: DecodeLimits) {
  const readings: DecodedReading[] = [];
  const rejects: Reject[] = [];
  if (payload.length > limits.maxPayloadBytes) {
    rejects.push({ code: 'PAYLOAD_TOO_LARGE', detail: `${payload.length} bytes, at most ${limits.maxPayloadBytes}` });
    return { readings, rejects };
  }
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    rejects.push({ code: 'PAYLOAD_NOT_JSON', detail: (e as Error).message });
    return { readings, rejects };
  }
  const batch = Array.isArray(body);
  const items: unknown[] = batch ? (body as unknown[]) : [body];
  if (items.length > limits.maxReadingsPerMessage) {
    rejects.push({ code: 'TOO_MANY_READINGS', detail: `${items.length} readings, at most ${limits.maxReadingsPerMessage}` });
    return { readings, rejects };
  }
  if (batch ? items.length === 0 : typeof body !== 'object' || body === null) {
    rejects.push({ code: 'PAYLOAD_INVALID', detail: 'expected {"values": {...}} or a non-empty array of them' });
    return { readings, rejects };
  }
  items.forEach((item, index) => {
    const at = batch ? `[${index}]` : '';
    const r = decodeOne(item, at, scope, now, limits, rejects);
    if (r) readings.push({ index, reading: r, deviceTs: (item as { ts?: unknown }).ts !== undefined });
  });
  return { readings, rejects };
}

function decodeOne(item: unknown, at: string, scope: DeviceScope, now: number, limits: DecodeLimits, rejects: Reject[]): Reading | null {
  const env = envelope.safeParse(item);
  if (!env.success) {
    const issue = env.error.issues[0];
    rejects.push({ code: 'READING_INVALID', path: join(at, issue.path.join('.')), detail: issue.message });
    return null;
  }
  const { ts: rawTs, seq, values: rawValues, quality: rawQuality } = env.data;
  const ts = parseTs(rawTs, now);
  if (ts === null) {
    rejects.push({ code: 'TS_INVALID', path: join(at, 'ts'), detail: String(rawTs) });
    return null;
  }
  if (ts > now + limits.maxFutureSkewMs) {
    rejects.push({ code: 'TS_IN_FUTURE', path: join(at, 'ts'), detail: `${new Date(ts).toISOString()} is ${Math.round((ts - now) / 1000)} s ahead of the gateway` });
    return null;
  }
  const values: Record<string, Value> = {};
  for (const [metric, v] of Object.entries(rawValues)) {
    const path = join(at, `values.${metric}`);
    if (!scope.metrics.has(metric) || !isMetric(metric)) {
      rejects.push({ code: 'UNKNOWN_METRIC', path, detail: metric });
      continue;
    }
    const want = INDICATORS[metric].type;
    if (want === 'number' ? typeof v !== 'number' || !Number.isFinite(v) : typeof v !== 'boolean') {
      rejects.push({ code: 'VALUE_INVALID', path, detail: `expected ${want}, got ${JSON.stringify(v)?.slice(0, 40)}` });
      continue;
    }
    values[metric] = v as Value;
  }
  let quality: Record<string, Quality> | undefined;
  for (const [metric, q] of Object.entries(rawQuality ?? {})) {
    if (typeof q !== 'string' || !QUALITIES.has(q)) {
      rejects.push({ code: 'QUALITY_INVALID', path: join(at, `quality.${metric}`), detail: String(q).slice(0, 40) });
      continue;
    }
    if (metric in values || (scope.metrics.has(metric) && q !== 'good')) (quality ??= {})[metric] = q as Quality;
  }
  if (Object.keys(values).length === 0 && !quality) {
    if (Object.keys(rawValues).length === 0) rejects.push({ code: 'READING_EMPTY', path: join(at, 'values') });
    return null;
  }
  const reading: Reading = { enterpriseId: scope.enterpriseId, deviceId: scope.deviceId, ts, values };
  if (seq !== undefined) reading.seq = seq;
  if (quality) reading.quality = quality;
  return reading;
}

function parseTs(ts: number | string | undefined, now: number): number | null {
  if (ts === undefined) return now;
  const ms = typeof ts === 'number' ? ts : /^\d{4}-\d{2}-\d{2}T/.test(ts) ? Date.parse(ts) : NaN;
  return Number.isFinite(ms) && ms >= EARLIEST_TS ? Math.round(ms) : null;
}

const join = (at: string, rest: string) => (at && rest ? `${at}.${rest}` : at || rest);
