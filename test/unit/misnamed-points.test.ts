import { describe, expect, it } from 'vitest';
import type { Outcome, Reading } from '../../domain/types.ts';
import { decodeNotes, type DecodeNotes } from '../../gateway/decode.ts';
import { TelemetryIntake } from '../../gateway/ingest.ts';
import { MATCHED_TO_CLEAR, MISNAMED_TO_RAISE, misnamedFromOpenAlert, misnamedGone, misnamedStateFromSnapshot, watchPointNames, type MisnamedState } from '../../gateway/misnamed-points.ts';
import { clockSeen, QUIET_TO_CLEAR_MS } from '../../rules/device-clock.ts';
import { DeviceWatches } from '../../services/pipeline/device-watches.ts';

/**
 * A point sent under a name the registry lacks while the registry's point stays silent: raised
 * (major) at the third such message in a row, cleared at the third without one, after the quiet time.
 */
const device = { enterpriseId: 'E', deviceId: 'ctl-1' };
/** the pure steps below come a second apart: a report interval of half a second lets the third fault raise */
const reporting = { ...device, reportIntervalS: 0.5 };
const AT = Date.UTC(2026, 11, 6, 8);
const LATER = AT + QUIET_TO_CLEAR_MS + 60_000;

/** a fault naming its silent points, a good message, or one that says nothing (`neither`) */
type Step = string[] | 'good' | 'neither';
function feed(steps: Step[], state?: MisnamedState, from = state ? LATER : AT) {
  const outcomes: Outcome[] = [];
  for (const [i, s] of steps.entries()) {
    const step = typeof s === 'string' ? watchPointNames(state, s, [], reporting, from + i * 1000) : watchPointNames(state, 'fault', s, reporting, from + i * 1000);
    state = step.state;
    if (step.outcome) outcomes.push(step.outcome);
  }
  return { outcomes, state };
}

describe('the misnamed-points watch', () => {
  it('raises a major alert at the third fault without a good message between, naming the silent registry points', () => {
    expect(feed([['gas-1'], ['gas-1'], 'good', ['gas-1'], ['gas-1']]).outcomes).toEqual([]);
    // messages that say nothing (a gateway sending one message per sensor) do not start it again
    const { outcomes, state } = feed([['gas-2', 'gas-1'], 'neither', 'neither', ['gas-2', 'gas-1'], 'neither', ['gas-2', 'gas-1'], ['gas-1']]);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ key: 'ctl-1/points-misnamed', change: 'raise', ruleId: 'points-misnamed', ruleKind: 'misnamed', enterpriseId: 'E', deviceId: 'ctl-1', metric: '_device', severity: 'major', value: 2, at: AT + 5000 });
    expect(outcomes[0].message).toContain('registry points gas-1, gas-2 have never had a value');
    expect(outcomes[0].message).toContain('UNKNOWN_METRIC');
    expect(state).toMatchObject({ raised: true, faults: 4 });
    // at most five points named
    expect(feed(Array(3).fill(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).state?.silent).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('raises no sooner than three report intervals after the first fault: a point heard by name now and then is heard again by then', () => {
    const slow = { ...device, reportIntervalS: 10 };
    let state: MisnamedState | undefined;
    const at = (ms: number) => {
      const step = watchPointNames(state, 'fault', ['gas-1'], slow, AT + ms);
      state = step.state;
      return step.outcome?.change ?? null;
    };
    expect([at(0), at(1000), at(2000), at(29_999)]).toEqual([null, null, null, null]);
    expect(at(30_000)).toBe('raise');
    expect(state).toMatchObject({ firstFaultAt: AT, faults: 5 });
  });

  it('clears at the third good message in a row, no sooner than the quiet time after the last fault', () => {
    const raised = feed(Array(3).fill(['gas-1'])).state!;
    // three good messages at once: still within the quiet time
    const soon = feed(Array(MATCHED_TO_CLEAR).fill('good'), raised, AT + 3000);
    expect(soon.outcomes).toEqual([]);
    const { outcomes, state } = feed(['good'], soon.state, LATER);
    expect(outcomes).toMatchObject([{ change: 'clear', severity: null, value: null }]);
    expect(state).toBeUndefined();
    // a fault in between starts the count again; a message that says nothing does not count
    expect(feed(['good', 'good', ['gas-1'], 'good', 'neither', 'good'], raised).outcomes).toEqual([]);
    // nothing is kept of a device that is fine
    expect(feed([['gas-1'], 'good']).state).toBeUndefined();
  });

  it('clears when the device leaves the registry, takes an open alert back after a restart, and keeps only states from a snapshot', () => {
    const raised = feed(Array(3).fill(['gas-1'])).state!;
    expect(misnamedGone(raised, 'ctl-1', LATER)).toMatchObject({ key: 'ctl-1/points-misnamed', change: 'clear' });
    expect(misnamedGone(feed([['gas-1']]).state!, 'ctl-1', LATER)).toBeNull();
    const seeded = misnamedFromOpenAlert('E', AT);
    expect(feed(Array(3).fill('good'), seeded).outcomes).toMatchObject([{ change: 'clear' }]);
    expect(misnamedStateFromSnapshot(JSON.parse(JSON.stringify(raised)))).toEqual(raised);
    for (const bad of [null, 7, { ...raised, faults: -1 }, { ...raised, lastFaultAt: 'x' }, { ...raised, silent: ['a', 'b', 'c', 'd', 'e', 'f'] }, { ...raised, silent: [''] }, { ...raised, enterpriseId: 'x'.repeat(201) }]) expect(misnamedStateFromSnapshot(bad)).toBeUndefined();
  });
});

describe('decode and the watches: names the registry lacks', () => {
  // (reportIntervalS 0: the watches' tests below send their messages at one time)
  const scope = { enterpriseId: 'E', deviceId: 'ctl-1', reportIntervalS: 0, points: new Map([['gas-1', { metric: 'gas_lel' }], ['power_kw', { metric: 'power_kw' }], ['smoke', { metric: 'smoke_alarm' }]]) };
  const limits = { maxPayloadBytes: 65536, maxReadingsPerMessage: 10, maxFutureSkewMs: 300_000, maxPastMs: 365 * 86_400_000 };

  it('notes the values under unknown names by what they could be, also in a reading refused for its names alone, and takes a resend\'s back', () => {
    const intake = new TelemetryIntake(limits);
    const take = (body: unknown) => {
      const notes = decodeNotes();
      intake.take(Buffer.from(JSON.stringify(body)), scope, AT, notes);
      return notes.unknown;
    };
    // a 0 or 1 may be a switch (a PLC's), text anything
    expect(take({ seq: 1, values: { gas1: 12, power_kw: 3, rssi: -70, door: true, text: 'x', valve: 0, nothing: null } })).toEqual({ numbers: 4, switches: 3 });
    // a gateway sending one message per sensor: the misnamed sensor's message has nothing taken
    expect(take({ seq: 2, values: { gas1: 12 } })).toEqual({ numbers: 1, switches: 0 });
    // a reading refused for its time says nothing of names
    expect(take({ seq: 9, ts: 'yesterday', values: { gas1: 12 } })).toEqual({ numbers: 0, switches: 0 });
    // the resend of seq 1 beside a new reading: only the new one counts
    expect(take([{ seq: 1, values: { gas1: 12, power_kw: 3 } }, { seq: 3, values: { power_kw: 3, lel: 5 } }])).toEqual({ numbers: 1, switches: 0 });
  });

  it('finds a registry point of the same type as the unknown names that never had a value, and nothing on devices that are fine', () => {
    const valued = new Set<string>();
    const w = new DeviceWatches((_d, p) => scope.points.get(p), { device: () => scope, hasValue: (_d, p) => valued.has(p) });
    const NO_NAMES = { numbers: 0, switches: 0 };
    const message = (values: Record<string, number | boolean>, unknown: DecodeNotes['unknown'], o: { at?: number; quality?: Record<string, 'fault'>; refused?: DecodeNotes['refusedPoints'] } = {}) => {
      const out: Outcome[] = [];
      const reading: Reading = { ...device, ts: o.at ?? AT, values, ...(o.quality ? { quality: o.quality } : {}) };
      w.message(device, { clock: clockSeen(), refusedPoints: o.refused ?? [], nothingMeasured: 0, unknown }, { accepted: 1, rejects: [] }, [reading], o.at ?? AT, out);
      for (const k of Object.keys(values)) valued.add(k);
      return out.filter((o) => o.ruleId === 'points-misnamed').map((o) => `${o.change}${o.message.includes(' gas-1') ? ' gas-1' : ''}${o.message.includes('smoke') ? ' smoke' : ''}`);
    };
    const gasAsGas1 = { numbers: 1, switches: 0 };
    // one message per sensor: gas-1 under another name, then the power, then the switch; the
    // third fault raises, naming gas-1 only (no unknown switch: the silent switch is not named)
    const round = () => [...message({}, gasAsGas1), ...message({ power_kw: 3 }, NO_NAMES), ...message({ smoke: false }, NO_NAMES)];
    valued.clear();
    expect([...round(), ...round(), ...round()]).toEqual(['raise gas-1']);
    // gas-1 under its name (the firmware fixed): good messages clear it after the quiet time
    expect([...message({ 'gas-1': 5 }, NO_NAMES), ...message({ power_kw: 3 }, NO_NAMES), ...message({ power_kw: 3 }, NO_NAMES, { at: LATER })]).toEqual(['clear']);

    // devices that are fine: extra diagnostics beside points that all had values
    for (let i = 0; i < 5; i++) expect(message({ power_kw: 3 }, { numbers: 2, switches: 1 }, { at: LATER + i })).toEqual([]);
    // a point never sent yet whose value is refused (a broken sensor) or marked faulty is named right
    valued.delete('gas-1');
    for (let i = 0; i < 4; i++) expect(message({ power_kw: 3 }, gasAsGas1, { at: LATER + i, refused: [['gas-1', 'VALUE_OUT_OF_RANGE']] })).toEqual([]);
    for (let i = 0; i < 4; i++) expect(message({ power_kw: 3 }, gasAsGas1, { at: LATER + i, quality: { 'gas-1': 'fault' } })).toEqual([]);
    // a switch sent under another name, the registry's switch never heard: named
    valued.delete('smoke');
    valued.add('gas-1');
    expect([0, 1, 2].flatMap((i) => message({ power_kw: 3 }, { numbers: 0, switches: 1 }, { at: LATER + i }))).toEqual(['raise smoke']);
    expect(w.export().misnamed).toMatchObject([['ctl-1', { raised: true, silent: ['smoke'] }]]);
  });

  it("raises for a gateway whose misnamed sensor's messages are refused whole, and not for points heard by name now and then", () => {
    const valued = new Set<string>();
    const w = new DeviceWatches((_d, p) => scope.points.get(p), { device: () => scope, hasValue: (_d, p) => valued.has(p) });
    const send = (values: Record<string, number | boolean>, unknown: DecodeNotes['unknown'], o: { quality?: Record<string, 'fault'>; refused?: DecodeNotes['refusedPoints'] } = {}) => {
      const out: Outcome[] = [];
      const taken = Object.keys(values).length > 0 || o.quality !== undefined;
      const readings: Reading[] = taken ? [{ ...device, ts: AT, values, ...(o.quality ? { quality: o.quality } : {}) }] : [];
      w.message(device, { clock: clockSeen(), refusedPoints: o.refused ?? [], nothingMeasured: 0, unknown }, { accepted: readings.length, rejects: [] }, readings, AT, out);
      for (const k of Object.keys(values)) valued.add(k);
      return out.filter((x) => x.ruleId === 'points-misnamed').map((x) => x.change);
    };
    const NONE = { numbers: 0, switches: 0 };
    // gas1 alone in its message (refused whole), then the power, then the switch
    const round = () => [...send({}, { numbers: 1, switches: 0 }), ...send({ power_kw: 3 }, NONE), ...send({ smoke: false }, NONE)];
    expect([...round(), ...round(), ...round()]).toEqual(['raise']);

    // another device: rssi beside gas-1 whose sensor reports a fault, or 65535, one message in four
    const other = new DeviceWatches((_d, p) => scope.points.get(p), { device: () => scope, hasValue: (_d, p) => p === 'power_kw' || p === 'smoke' });
    const out: Outcome[] = [];
    for (let i = 0; i < 12; i++) {
      const quality = i % 8 === 6 ? { 'gas-1': 'fault' as const } : undefined;
      const refused: DecodeNotes['refusedPoints'] = i % 8 === 2 ? [['gas-1', 'VALUE_OUT_OF_RANGE']] : [];
      const reading: Reading = { ...device, ts: AT + i, values: { power_kw: 3 }, ...(quality ? { quality } : {}) };
      other.message(device, { clock: clockSeen(), refusedPoints: refused, nothingMeasured: 0, unknown: { numbers: 1, switches: 0 } }, { accepted: 1, rejects: [] }, [reading], AT + i, out);
    }
    expect(out.filter((x) => x.ruleId === 'points-misnamed')).toEqual([]);
    expect(other.export().named).toEqual([['ctl-1', ['gas-1']]]);
  });
});
