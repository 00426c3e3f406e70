import { describe, expect, it } from 'vitest';
import { TelemetryIntake } from '../../gateway/ingest.ts';
import { checkSeq } from '../../gateway/sequence.ts';

const scope = { enterpriseId: 'E', deviceId: 'D', points: new Map(['gas_lel', 'gas_shutoff_valve_closed', 'toxic_gas_ppm'].map((metric) => [metric, { metric }])) };
const limits = { maxPayloadBytes: 4096, maxReadingsPerMessage: 3, maxFutureSkewMs: 60_000, maxPastMs: 365 * 86_400_000 };
const NOW = Date.UTC(2026, 10, 22, 8, 0, 0);
const take = (body: unknown, intake = new TelemetryIntake(limits)) => intake.take(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), scope, NOW);

describe('telemetry decoding', () => {
  it('lists the first 100 problems of a message and counts the rest by code, in values, qualities and duplicates alike', () => {
    const big = new TelemetryIntake({ ...limits, maxPayloadBytes: 1 << 20, maxReadingsPerMessage: 1000 });
    const values = Object.fromEntries([...Array.from({ length: 1000 }, (_, i) => [`u${i}`, 1]), ['gas_lel', 2]]);
    const quality = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`q${i}`, 'fault']));
    const { readings, rejects } = big.take(Buffer.from(JSON.stringify({ seq: 1, values, quality })), scope, NOW);
    expect(readings).toHaveLength(1);
    expect(rejects).toHaveLength(101);
    expect(rejects.slice(0, 100).every((r) => r.code === 'UNKNOWN_METRIC' && r.path?.startsWith('values.u') && r.count === undefined)).toBe(true);
    expect(rejects[100]).toEqual({ code: 'UNKNOWN_METRIC', count: 1400 });
    // past the listed ones, the pipeline's own problems (duplicates) are counted the same way
    const again = big.take(Buffer.from(JSON.stringify(Array.from({ length: 150 }, () => ({ seq: 1, values: { gas_lel: 1 } })))), scope, NOW);
    expect(again.rejects).toHaveLength(101);
    expect(again.rejects[100]).toEqual({ code: 'DUPLICATE_SEQ', count: 50 });
  });

  it('names an array or object sent as a value or a quality, however deep, instead of writing it out', () => {
    const deep = `${'['.repeat(20_000)}1${']'.repeat(20_000)}`;
    const big = new TelemetryIntake({ ...limits, maxPayloadBytes: 1 << 20 });
    const { rejects } = big.take(Buffer.from(`{"values":{"gas_lel":${deep},"gas_shutoff_valve_closed":{"on":true}},"quality":{"gas_lel":[1,2]}}`), scope, NOW);
    expect(rejects).toEqual([
      { code: 'VALUE_INVALID', path: 'values.gas_lel', detail: 'expected number, got an array of 1' },
      { code: 'VALUE_INVALID', path: 'values.gas_shutoff_valve_closed', detail: 'expected boolean, got an object' },
      { code: 'QUALITY_INVALID', path: 'quality.gas_lel', detail: 'an array of 2' },
    ]);
  });

  it('refuses a reading of more than 1 024 names in its values or its qualities, whole', () => {
    const big = new TelemetryIntake({ ...limits, maxPayloadBytes: 1 << 20 });
    const names = (n: number, v: unknown) => Object.fromEntries([...Array.from({ length: n - 1 }, (_, i) => [`u${i}`, v]), ['gas_lel', v === 'fault' ? 'fault' : 2]]);
    expect(big.take(Buffer.from(JSON.stringify({ values: names(1025, 1) })), scope, NOW)).toEqual({ readings: [], rejects: [{ code: 'READING_INVALID', path: 'values', detail: 'more than 1024 names in one reading' }] });
    expect(big.take(Buffer.from(JSON.stringify({ values: { gas_lel: 1 }, quality: names(1025, 'fault') })), scope, NOW).rejects).toEqual([{ code: 'READING_INVALID', path: 'quality', detail: 'more than 1024 names in one reading' }]);
    // at the bound, the reading is judged name by name
    expect(big.take(Buffer.from(JSON.stringify({ values: names(1024, 1) })), scope, NOW).readings).toHaveLength(1);
  });

  it('accepts one reading, stamping "now" when ts is missing', () => {
    expect(take({ values: { gas_lel: 3.5, gas_shutoff_valve_closed: false } })).toEqual({
      readings: [{ enterpriseId: 'E', deviceId: 'D', ts: NOW, values: { gas_lel: 3.5, gas_shutoff_valve_closed: false } }],
      rejects: [],
    });
  });

  it('keeps values and qualities in records with no prototype, whatever the points are named', () => {
    // points named as Object's members: a value under each is its own, and nothing else is inherited
    const named = { ...scope, points: new Map(['__proto__', 'toString', 'constructor', 'gas_lel'].map((id) => [id, { metric: 'gas_lel' }])) };
    const { readings, rejects } = new TelemetryIntake(limits).take(Buffer.from('{"values":{"__proto__":1,"toString":2,"gas_lel":3},"quality":{"constructor":"fault"}}'), named, NOW);
    expect(rejects).toEqual([]);
    const [{ values, quality }] = readings;
    expect([Object.getPrototypeOf(values), Object.getPrototypeOf(quality)]).toEqual([null, null]);
    expect(Object.keys(values)).toEqual(['__proto__', 'toString', 'gas_lel']);
    expect([values.__proto__, values.toString, values.constructor, values.hasOwnProperty]).toEqual([1, 2, undefined, undefined]);
    expect({ ...quality }).toEqual({ constructor: 'fault' });
    expect(quality!.toString).toBe(undefined);
  });

  it("keeps values in the order of the device's registry points, whatever order they are sent in", () => {
    // one layout per set of points: a device sending its points in ever-changing orders made a new one for each
    const many = { ...scope, points: new Map(Array.from({ length: 24 }, (_, i) => [`p${i}`, { metric: 'gas_lel' }])) };
    const intake = new TelemetryIntake({ ...limits, maxReadingsPerMessage: 10 });
    const keysOf = (names: string[], points = scope) => {
      const { readings, rejects } = intake.take(Buffer.from(JSON.stringify({ values: Object.fromEntries(names.map((n, i) => [n, points === scope && n === 'gas_shutoff_valve_closed' ? true : i])) })), points, NOW);
      expect(rejects).toEqual([]);
      return Object.keys(readings[0].values);
    };
    expect(keysOf(['toxic_gas_ppm', 'gas_shutoff_valve_closed', 'gas_lel'])).toEqual(['gas_lel', 'gas_shutoff_valve_closed', 'toxic_gas_ppm']);
    expect(keysOf(['gas_shutoff_valve_closed', 'toxic_gas_ppm'])).toEqual(['gas_shutoff_valve_closed', 'toxic_gas_ppm']);
    const shuffled = ['p7', 'p3', 'p12', 'p0', 'p18', 'p5'];
    expect(keysOf(shuffled, many)).toEqual(['p0', 'p3', 'p5', 'p7', 'p12', 'p18']);
    // twenty names and more: every value kept (V8 makes a hash table of it whatever the order)
    const all = Array.from({ length: 24 }, (_, i) => `p${23 - i}`);
    expect(keysOf(all, many).sort()).toEqual([...all].sort());
    // a refused value keeps its place in the rejects, which stay in the order sent
    const { rejects } = intake.take(Buffer.from('{"values":{"toxic_gas_ppm":"x","gas_lel":"y"}}'), scope, NOW);
    expect(rejects.map((r) => r.path)).toEqual(['values.toxic_gas_ppm', 'values.gas_lel']);
  });

  it('reads ts as epoch ms or ISO-8601 with an offset, and keeps old (buffered) times', () => {
    const { readings } = take([
      { ts: NOW - 86_400_000, values: { gas_lel: 1 } },
      { ts: '2026-11-22T16:00:00+08:00', values: { gas_lel: 2 } },
    ]);
    expect(readings.map((r) => r.ts)).toEqual([NOW - 86_400_000, NOW]);
  });

  it('reads a time without an offset as China Standard Time, and one written with a space as the platforms write it', () => {
    // 16:00 in Beijing is NOW (08:00 UTC): read in the server's zone (UTC) it was 8 hours ahead, refused
    for (const ts of ['2026-11-22T16:00:00', '2026-11-22 16:00:00', '2026-11-22T16:00', '2026-11-22 16:00:00.000', '2026-11-22T08:00:00Z', '2026-11-22T16:00:00+0800', '2026-11-22T09:00:00+01:00'])
      expect(take({ ts, values: { gas_lel: 1 } }).readings.map((r) => r.ts), ts).toEqual([NOW]);
    for (const ts of ['2026-11-22', '2026-11-22T25:00:00', '22/11/2026 16:00', '2026-11-22T16:00:00 junk', `2026-11-22T16:00:00${'0'.repeat(60)}`, '2026-02-30T00:00:00', '2026-02-29 08:00:00', '2026-04-31T12:00+08:00', '2026-13-01T00:00:00Z'])
      expect(take({ ts, values: { gas_lel: 1 } }).rejects[0], ts).toMatchObject({ code: 'TS_INVALID' });
  });

  it('refuses a ts beyond the allowed skew but not one inside it', () => {
    expect(take({ ts: NOW + 60_000, values: { gas_lel: 1 } }).rejects).toEqual([]);
    expect(take({ ts: NOW + 60_001, values: { gas_lel: 1 } }).rejects[0]).toMatchObject({ code: 'TS_IN_FUTURE', path: 'ts' });
    expect(take({ ts: '22/11/2026', values: { gas_lel: 1 } }).rejects[0]).toMatchObject({ code: 'TS_INVALID' });
  });

  it('takes a reading from a clock that lost its time as of its arrival, says so, and still knows its resend', () => {
    // a reset RTC (2000-01-01), no RTC at all (1970: ts 12), a firmware sending seconds (1970 too), and
    // just past the horizon; a buffered reading just inside it keeps its own time
    const intake = new TelemetryIntake(limits);
    for (const ts of ['2000-01-01T00:00:05Z', 12, Math.floor(NOW / 1000), NOW - limits.maxPastMs - 1, '0050-06-01T00:00:00Z']) {
      const { readings, rejects } = take({ ts, seq: 7, values: { gas_lel: 60 } }, new TelemetryIntake(limits));
      expect(readings.map((r) => r.ts)).toEqual([NOW]);
      expect(rejects).toMatchObject([{ code: 'TS_TOO_OLD', path: 'ts' }]);
    }
    expect(take({ ts: NOW - limits.maxPastMs, values: { gas_lel: 1 } }).readings[0].ts).toBe(NOW - limits.maxPastMs);
    // its resend (same seq, same wrong time) is a duplicate; the next reading is not
    const sent = { ts: '2000-01-01T00:00:05Z', seq: 1, values: { gas_lel: 60 } };
    expect(take(sent, intake).readings).toHaveLength(1);
    expect(take(sent, intake).rejects.map((r) => r.code)).toEqual(['TS_TOO_OLD', 'DUPLICATE_SEQ']);
    expect(take({ ...sent, seq: 2, ts: '2000-01-01T00:00:15Z' }, intake).readings).toHaveLength(1);
    // not stored after all: its resend is taken
    intake.forgetSeqs('D', take({ ...sent, seq: 3, ts: '2000-01-01T00:00:25Z' }, intake).readings);
    expect(take({ ...sent, seq: 3, ts: '2000-01-01T00:00:25Z' }, intake).readings).toHaveLength(1);
  });

  it('costs a bad value only that value, and a bad envelope only that reading', () => {
    const { readings, rejects } = take([{ values: { gas_lel: 5, toxic_gas_ppm: 'x', nope: 1 } }, { seq: -1, values: { gas_lel: 1 } }, { values: { gas_lel: 7 } }]);
    expect(readings.map((r) => r.values)).toEqual([{ gas_lel: 5 }, { gas_lel: 7 }]);
    expect(rejects.map((r) => [r.code, r.path])).toEqual([
      ['VALUE_INVALID', '[0].values.toxic_gas_ppm'],
      ['UNKNOWN_METRIC', '[0].values.nope'],
      ['READING_INVALID', '[1].seq'],
    ]);
  });

  it('refuses oversized payloads and batches before parsing them further', () => {
    expect(take('x'.repeat(5000)).rejects).toEqual([{ code: 'PAYLOAD_TOO_LARGE', detail: '5000 bytes, at most 4096' }]);
    expect(take([{ values: {} }, { values: {} }, { values: {} }, { values: {} }]).rejects[0].code).toBe('TOO_MANY_READINGS');
  });

  it('keeps a fault quality for a point that sent no value', () => {
    const { readings } = take({ values: { gas_lel: 1 }, quality: { toxic_gas_ppm: 'fault', gas_lel: 'good' } });
    expect(readings[0].quality).toEqual({ toxic_gas_ppm: 'fault', gas_lel: 'good' });
  });

  it('de-duplicates by seq across messages', () => {
    const intake = new TelemetryIntake(limits);
    expect(take({ ts: NOW - 1000, seq: 5, values: { gas_lel: 1 } }, intake).rejects).toEqual([]);
    expect(take({ ts: NOW - 1000, seq: 5, values: { gas_lel: 1 } }, intake).rejects[0]).toMatchObject({ code: 'DUPLICATE_SEQ' });
    expect(take({ ts: NOW, seq: 8, values: { gas_lel: 1 } }, intake).rejects).toEqual([]);
    expect(intake.gaps).toBe(2);
    // a flushed buffer fills the gap later, out of order, once each
    expect(take([{ ts: NOW - 500, seq: 6, values: { gas_lel: 1 } }, { ts: NOW - 400, seq: 7, values: { gas_lel: 1 } }], intake).rejects).toEqual([]);
  });
});

describe('seq window', () => {
  it('tells a resend (same ts) from a restarted counter (new ts)', () => {
    let { tracker } = checkSeq(undefined, 1, 1000);
    for (let s = 2; s <= 10; s++) tracker = checkSeq(tracker, s, 1000 * s).tracker;
    expect(checkSeq(tracker, 3, 3000).verdict).toEqual({ accept: false });
    const restarted = checkSeq(tracker, 1, 99_000);
    expect(restarted.verdict).toEqual({ accept: true, gap: 0, reset: true });
    expect(checkSeq(restarted.tracker, 2, 100_000).verdict).toMatchObject({ accept: true, reset: false });
  });

  it('treats a number far below the window as a counter reset', () => {
    const { tracker } = checkSeq(undefined, 100_000, null);
    expect(checkSeq(tracker, 0, null).verdict).toMatchObject({ accept: true, reset: true });
  });
});
