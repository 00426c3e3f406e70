import { z } from 'zod';
import { INDICATORS, isMetric } from '../domain/indicators.ts';
import { bareFieldsOf, bareRecord, type Quality, type Reading, type Value } from '../domain/types.ts';
import { LISTED_REJECTS, listedRejects, type Reject, type RejectCode } from './reject-codes.ts';
import { clockSeen, type ClockSeen } from '../rules/device-clock.ts';

/**
 * Telemetry payload → validated readings. A problem with one value costs only that value; a
 * problem with a reading's envelope (ts, shape) costs that reading; the rest of the message is kept.
 */
export interface DecodeLimits {
  maxPayloadBytes: number;
  maxReadingsPerMessage: number;
  maxFutureSkewMs: number;
  /**
   * a ts further back than this is no buffered reading but a clock that lost its time (a reset
   * RTC says 2000 or 1970, a firmware sending seconds says 1970): the reading is kept, as of its
   * arrival, so its alarm is raised now and not filed decades ago, and the device is told
   */
  maxPastMs: number;
}

export interface DeviceScope {
  enterpriseId: string;
  deviceId: string;
  /**
   * The device's points by id (a point without an id is known by its metric): values and
   * qualities are keyed by them. The metric says the type and the physical range; a point may
   * narrow the range.
   */
  points: ReadonlyMap<string, { metric: string; range?: readonly [number, number] }>;
}

/** A reading before seq de-duplication, with its index in the message for error paths. */
export interface DecodedReading {
  index: number;
  reading: Reading;
  /** the ts a resend is known by: the device's own (even when not believed), or null when it gave none */
  seqTs: number | null;
  /** what the reading added to the notes (`refusedPoints[pointsFrom, pointsTo)`, a clock count): a resend takes it back */
  pointsFrom: number;
  pointsTo: number;
  clockNoted: 'behind' | 'right' | null;
  /** the values under names the registry lacks it added to the notes (`unknown`), by type */
  unknownNumbers: number;
  unknownSwitches: number;
}

// `values` and `quality` pass through as JSON.parse made them (own keys only, "__proto__"
// included): copying them into a plain object would let such a key set its prototype
const keyed = z.custom<Record<string, unknown>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object of metric → value');
const envelope = z.object({
  ts: z.union([z.number(), z.string()]).optional(),
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  values: keyed,
  quality: keyed.optional(),
});

const QUALITIES = new Set<string>(['good', 'fault', 'maintenance']);
/** the largest time a Date can hold (ECMA-262 §21.4.1.1) */
const LATEST_DATE = 8.64e15;
/**
 * A value outside its point's physical range is still a reading (the range rule raises a
 * data-quality alert for it); one beyond ten spans outside that range is no measurement at all and
 * would only overflow the arithmetic of rate and baseline rules.
 */
const SPANS_BEYOND_RANGE = 10;

/**
 * What a message says of the device beyond its readings, for the judge's watches
 * (services/pipeline/device-watches.ts): what the readings' own times say of its clock, and the
 * registry points whose values were refused (a point that only ever sends those is blind).
 */
export interface DecodeNotes {
  clock: ClockSeen;
  refusedPoints: [point: string, code: RejectCode][];
  /** readings refused (READING_INVALID) that carried no `values` and no `quality`: nothing measured was lost */
  nothingMeasured: number;
  /**
   * values refused as UNKNOWN_METRIC, by what they could be (a 0 or 1 a switch or a number, text
   * either): a registry point of that type that never had a value may be sent under another
   * name (services/pipeline/device-watches.ts). Readings refused for their time or form add none.
   */
  unknown: UnknownNames;
}

export interface UnknownNames {
  numbers: number;
  switches: number;
}

export const decodeNotes = (): DecodeNotes => ({ clock: clockSeen(), refusedPoints: [], nothingMeasured: 0, unknown: { numbers: 0, switches: 0 } });

/** A resend is no new evidence: what its reading added to the notes is taken back. */
export function unnote(n: DecodeNotes, resent: readonly DecodedReading[]) {
  for (const d of resent) {
    if (d.clockNoted === 'behind') n.clock.behind--;
    else if (d.clockNoted === 'right') n.clock.right--;
    n.unknown.numbers -= d.unknownNumbers;
    n.unknown.switches -= d.unknownSwitches;
  }
  if (!resent.some((d) => d.pointsTo > d.pointsFrom)) return;
  // each reading's entries are a range of their own: marked, then dropped in one pass (a batch of
  // a thousand resends must not cost a thousand passes over a thousand entries)
  const drop = new Uint8Array(n.refusedPoints.length);
  for (const d of resent) drop.fill(1, d.pointsFrom, d.pointsTo);
  let k = 0;
  for (let i = 0; i < n.refusedPoints.length; i++) if (!drop[i]) n.refusedPoints[k++] = n.refusedPoints[i];
  n.refusedPoints.length = k;
}

/** Emptied for the next message: a judge reuses one, so a message costs no allocation for them. */
export function clearNotes(n: DecodeNotes): DecodeNotes {
  n.clock.ahead = n.clock.behind = n.clock.right = n.clock.worstMs = 0;
  n.refusedPoints.length = 0;
  n.nothingMeasured = 0;
  n.unknown.numbers = n.unknown.switches = 0;
  return n;
}

/**
 * Names one reading may carry in `values` or `quality`: a device has tens of points, a panel
 * hundreds. Walking a reading's names as pairs cost 17 ms at 24 000 (an outside probe's reading,
 * within the payload bound), and each name no point has was a problem listed.
 */
export const MAX_NAMES_PER_READING = 1024;
const moreNamesThan = (o: object, most: number) => {
  let n = 0;
  for (const _ in o) if (++n > most) return true;
  return false;
};

/** problems past LISTED_REJECTS of the message being decoded, by code (one message at a time) */
const UNLISTED = new Map<RejectCode, number>();
/** Past LISTED_REJECTS, a problem is only counted (true): its caller builds nothing for it. */
const onlyCounted = (rejects: Reject[], code: RejectCode) => rejects.length >= LISTED_REJECTS && (UNLISTED.set(code, (UNLISTED.get(code) ?? 0) + 1), true);

/** The problems of a message decoded: those listed one by one, then one counted entry per code. */
export function decodedRejects(rejects: Reject[]): Reject[] {
  const out = listedRejects(rejects, UNLISTED);
  UNLISTED.clear();
  return out;
}

export function decodeTelemetry(payload: Buffer, scope: DeviceScope, now: number, limits: DecodeLimits, notes: DecodeNotes = decodeNotes()) {
  const readings: DecodedReading[] = [];
  const rejects: Reject[] = [];
  UNLISTED.clear();
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
    const pointsFrom = notes.refusedPoints.length;
    const behind = notes.clock.behind;
    const right = notes.clock.right;
    const { numbers, switches } = notes.unknown;
    const r = decodeOne(item, at, scope, now, limits, rejects, notes);
    if (r) {
      const clockNoted = notes.clock.behind > behind ? 'behind' : notes.clock.right > right ? 'right' : null;
      readings.push({ index, reading: r, seqTs: (item as { ts?: unknown }).ts === undefined ? null : (r.sentTs ?? r.ts), pointsFrom, pointsTo: notes.refusedPoints.length, clockNoted, unknownNumbers: notes.unknown.numbers - numbers, unknownSwitches: notes.unknown.switches - switches });
    }
  });
  return { readings, rejects };
}

function decodeOne(item: unknown, at: string, scope: DeviceScope, now: number, limits: DecodeLimits, rejects: Reject[], notes: DecodeNotes): Reading | null {
  const { clock } = notes;
  const env = envelope.safeParse(item);
  if (!env.success) {
    const issue = env.error.issues[0];
    rejects.push({ code: 'READING_INVALID', path: join(at, issue.path.join('.')), detail: issue.message });
    // a heartbeat sent as telemetry (a time and a seq, nothing measured) loses nothing
    if (typeof item === 'object' && item !== null && (item as { values?: unknown }).values === undefined && (item as { quality?: unknown }).quality === undefined) notes.nothingMeasured++;
    return null;
  }
  const { ts: rawTs, seq, values: rawValues, quality: rawQuality } = env.data;
  let ts = parseTs(rawTs, now);
  if (ts === null) {
    rejects.push({ code: 'TS_INVALID', path: join(at, 'ts'), detail: String(rawTs) });
    return null;
  }
  if (ts > now + limits.maxFutureSkewMs) {
    clock.ahead++;
    noteWorst(clock, ts - now);
    rejects.push({ code: 'TS_IN_FUTURE', path: join(at, 'ts'), detail: `${new Date(ts).toISOString()} is ${Math.round((ts - now) / 1000)} s ahead of the gateway` });
    return null;
  }
  let sentTs: number | undefined;
  if (ts < now - limits.maxPastMs) {
    clock.behind++;
    noteWorst(clock, ts - now);
    rejects.push({ code: 'TS_TOO_OLD', path: join(at, 'ts'), detail: `${new Date(ts).toISOString()} is ${Math.round((now - ts) / 86_400_000)} days behind the gateway: kept as of its arrival, ${new Date(now).toISOString()}` });
    sentTs = ts;
    ts = now;
  } else clock.right++;
  for (const [field, names] of [['values', rawValues], ['quality', rawQuality]] as const)
    if (names && moreNamesThan(names, MAX_NAMES_PER_READING)) {
      rejects.push({ code: 'READING_INVALID', path: join(at, field), detail: `more than ${MAX_NAMES_PER_READING} names in one reading` });
      return null;
    }
  const accepted = ACCEPTED;
  accepted.length = 0;
  for (const metric in rawValues) {
    if (!Object.hasOwn(rawValues, metric)) continue;
    const v = rawValues[metric];
    const path = rejects.length < LISTED_REJECTS ? join(at, `values.${clip(metric)}`) : '';
    const point = scope.points.get(metric);
    if (!point || !isMetric(point.metric)) {
      if (!onlyCounted(rejects, 'UNKNOWN_METRIC')) rejects.push({ code: 'UNKNOWN_METRIC', path, detail: clip(metric) });
      // what it could be sent for: a 0 or 1 may be a switch (a PLC's), text anything
      if (typeof v === 'boolean' || v === 0 || v === 1 || typeof v === 'string') notes.unknown.switches++;
      if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string') notes.unknown.numbers++;
      continue;
    }
    const ind: { type: string; range?: readonly [number, number] } = INDICATORS[point.metric];
    if (ind.type === 'number' ? typeof v !== 'number' || !Number.isFinite(v) : typeof v !== 'boolean') {
      rejects.push({ code: 'VALUE_INVALID', path, detail: `expected ${ind.type}, got ${clip(safeJson(v))}` });
      notes.refusedPoints.push([metric, 'VALUE_INVALID']);
      continue;
    }
    const envelope = typeof v === 'number' ? envelopeOf(point.range ?? ind.range) : null;
    if (envelope && typeof v === 'number' && (v < envelope[0] || v > envelope[1])) {
      rejects.push({ code: 'VALUE_OUT_OF_RANGE', path, detail: `${v} is far outside the sensor range (accepted: ${envelope[0]} to ${envelope[1]})` });
      notes.refusedPoints.push([metric, 'VALUE_OUT_OF_RANGE']);
      continue;
    }
    accepted.push(metric, v as Value);
  }
  const values = inPointOrder<Value>(scope.points, accepted);
  let quality: Record<string, Quality> | undefined;
  const qualities = QUALITIES_GIVEN;
  qualities.length = 0;
  for (const metric in rawQuality) {
    if (!Object.hasOwn(rawQuality, metric)) continue;
    const q = rawQuality[metric];
    if (typeof q !== 'string' || !QUALITIES.has(q)) {
      if (!onlyCounted(rejects, 'QUALITY_INVALID')) rejects.push({ code: 'QUALITY_INVALID', path: join(at, `quality.${clip(metric)}`), detail: clip(safeJson(q)) });
      continue;
    }
    // a quality counts only for the device's own points: never for a name the registry lacks
    if (!scope.points.has(metric)) {
      if (!onlyCounted(rejects, 'UNKNOWN_METRIC')) rejects.push({ code: 'UNKNOWN_METRIC', path: join(at, `quality.${clip(metric)}`), detail: clip(metric) });
      continue;
    }
    if (Object.hasOwn(values, metric) || q !== 'good') qualities.push(metric, q as Quality);
  }
  if (qualities.length) quality = inPointOrder<Quality>(scope.points, qualities);
  if (accepted.length === 0 && !quality) {
    if (Object.keys(rawValues).length === 0) rejects.push({ code: 'READING_EMPTY', path: join(at, 'values') });
    return null;
  }
  const reading: Reading = { enterpriseId: scope.enterpriseId, deviceId: scope.deviceId, ts, values };
  if (sentTs !== undefined) reading.sentTs = sentTs;
  if (seq !== undefined) reading.seq = seq;
  if (quality) reading.quality = quality;
  return reading;
}

/**
 * An ISO-8601 time (a space for the `T` too, as the platforms write it), with its offset, or
 * without one: then China Standard Time, what a device here keeps. JavaScript would read it in the
 * server's own zone (UTC in the image): eight hours ahead, and every reading refused as TS_IN_FUTURE.
 */
const ISO_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?$/i;

function parseIso(text: string): number {
  const m = text.length <= 64 ? ISO_TIME.exec(text) : null;
  if (!m) return NaN;
  // a day the month does not have (02-30) is no time: Date would roll it into the next month
  const [y, mo, d] = m[1].split('-').map(Number);
  // setUTCFullYear, not Date.UTC: that reads years 0–99 as 1900–1999
  const day = new Date(0);
  day.setUTCFullYear(y, mo - 1, d);
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return NaN;
  const offset = m[3] === undefined ? '+08:00' : m[3].toUpperCase() === 'Z' ? 'Z' : `${m[3].slice(0, 3)}:${m[3].slice(-2)}`;
  return Date.parse(`${m[1]}T${m[2]}${offset}`);
}

function parseTs(ts: number | string | undefined, now: number): number | null {
  if (ts === undefined) return now;
  const ms = typeof ts === 'number' ? ts : parseIso(ts);
  // bounded to what a Date can hold, so nothing downstream (ISO strings, stores) can throw on it
  return Number.isFinite(ms) && ms >= -LATEST_DATE && ms <= LATEST_DATE ? Math.round(ms) : null;
}

/** the wrong time furthest from the gateway's, of a message */
function noteWorst(clock: ClockSeen, offsetMs: number) {
  if (Math.abs(offsetMs) > Math.abs(clock.worstMs)) clock.worstMs = offsetMs;
}

function envelopeOf(range: readonly [number, number] | undefined): [number, number] | null {
  if (!range) return null;
  const span = range[1] - range[0];
  return [range[0] - SPANS_BEYOND_RANGE * span, range[1] + SPANS_BEYOND_RANGE * span];
}

/** what one reading's values and qualities accepted, name and value in turn, in the order sent (decode is synchronous: one of each serves every call) */
const ACCEPTED: (string | Value)[] = [];
const QUALITIES_GIVEN: (string | Quality)[] = [];

/** each point's place in its device's registry entry, found once per registry */
const PLACES = new WeakMap<ReadonlyMap<string, unknown>, Map<string, number>>();
const placesOf = (points: ReadonlyMap<string, unknown>) => {
  let at = PLACES.get(points);
  if (!at || at.size !== points.size) PLACES.set(points, (at = new Map([...points.keys()].map((name, i) => [name, i]))));
  return at;
};
/** from 20 names on, V8 keeps an object as a hash table whatever is done */
const FIELDS_AT_MOST = 19;

/**
 * The accepted names and values as a record with no prototype (`bareFieldsOf`), in the order of the
 * device's registry points, not the order sent: each order of names is a layout of its own, and a
 * device sending its points in ever-changing orders made each reading cost 13-21 % more than with
 * the hash tables before (the probe's finding), where now every order of one set of points is one
 * layout. Past FIELDS_AT_MOST names a hash table, in the order sent.
 */
function inPointOrder<T>(points: ReadonlyMap<string, unknown>, pairs: (string | T)[]): Record<string, T> {
  const n = pairs.length;
  if (n > FIELDS_AT_MOST * 2) {
    const out = bareRecord<T>();
    for (let i = 0; i < n; i += 2) out[pairs[i] as string] = pairs[i + 1] as T;
    return out;
  }
  const at = placesOf(points);
  // nearly always sent in the registry's order already; else put in it (insertion sort, a few names)
  for (let i = 2; i < n; i += 2) {
    const name = pairs[i] as string;
    const place = at.get(name)!;
    if (at.get(pairs[i - 2] as string)! < place) continue;
    const value = pairs[i + 1];
    let j = i - 2;
    for (; j >= 0 && at.get(pairs[j] as string)! > place; j -= 2) (pairs[j + 2] = pairs[j]), (pairs[j + 3] = pairs[j + 1]);
    pairs[j + 2] = name;
    pairs[j + 3] = value;
  }
  return bareFieldsOf<T>(pairs);
}

/** A name or value from outside, cut to a length that fits a reject answer and a log line. */
const clip = (s: string) => (s.length > 64 ? `${s.slice(0, 64)}…` : s);

/**
 * A value as a refusal tells it back. An array or object is named, not written out: writing out
 * one nested 5 000 deep took 95 ms a message, most of it overflowing the stack (an outside probe).
 */
function safeJson(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object' && v !== null) return 'an object';
  return JSON.stringify(v) ?? String(v);
}

const join = (at: string, rest: string) => (at && rest ? `${at}.${rest}` : at || rest);
