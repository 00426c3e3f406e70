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
const AT = Date.UTC(2026, 11, 6, 8);
const LATER = AT + QUIET_TO_CLEAR_MS + 60_000;

function feed(silent: string[][], state?: MisnamedState, from = state ? LATER : AT) {
  const outcomes: Outcome[] = [];
  for (const [i, s] of silent.entries()) {
    const step = watchPointNames(state, s, device, from + i * 1000);
    state = step.state;
    if (step.outcome) outcomes.push(step.outcome);
  }
  return { outcomes, state };
}

describe('the misnamed-points watch', () => {
  it('raises a major alert at the third fault in a row, naming the silent registry points; a good message in between starts again', () => {
    expect(feed([['gas-1'], ['gas-1'], [], ['gas-1'], ['gas-1']]).outcomes).toEqual([]);
    const { outcomes, state } = feed(Array(MISNAMED_TO_RAISE + 1).fill(['gas-2', 'gas-1']));
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ key: 'ctl-1/points-misnamed', change: 'raise', ruleId: 'points-misnamed', ruleKind: 'misnamed', enterpriseId: 'E', deviceId: 'ctl-1', metric: '_device', severity: 'major', value: 2, at: AT + 2000 });
    expect(outcomes[0].message).toContain('registry points gas-1, gas-2 have had no value for 3 report intervals');
    expect(outcomes[0].message).toContain('UNKNOWN_METRIC');
    expect(state).toMatchObject({ raised: true, faults: 4 });
    // at most five points named
    expect(feed(Array(3).fill(['a', 'b', 'c', 'd', 'e', 'f', 'g'])).state?.silent).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('clears at the third message in a row without a fault, no sooner than the quiet time after the last', () => {
    const raised = feed(Array(3).fill(['gas-1'])).state!;
    // three good messages at once: still within the quiet time
    const soon = feed(Array(MATCHED_TO_CLEAR).fill([]), raised, AT + 3000);
    expect(soon.outcomes).toEqual([]);
    const { outcomes, state } = feed([[]], soon.state, LATER);
    expect(outcomes).toMatchObject([{ change: 'clear', severity: null, value: null }]);
    expect(state).toBeUndefined();
    // a fault in between starts the count again
    expect(feed([[], [], ['gas-1'], [], []], raised).outcomes).toEqual([]);
    // nothing is kept of a device that is fine
    expect(feed([['gas-1'], []]).state).toBeUndefined();
  });

  it('clears when the device leaves the registry, takes an open alert back after a restart, and keeps only states from a snapshot', () => {
    const raised = feed(Array(3).fill(['gas-1'])).state!;
    expect(misnamedGone(raised, 'ctl-1', LATER)).toMatchObject({ key: 'ctl-1/points-misnamed', change: 'clear' });
    expect(misnamedGone(feed([['gas-1']]).state!, 'ctl-1', LATER)).toBeNull();
    const seeded = misnamedFromOpenAlert('E', AT);
    expect(feed(Array(3).fill([]), seeded).outcomes).toMatchObject([{ change: 'clear' }]);
    expect(misnamedStateFromSnapshot(JSON.parse(JSON.stringify(raised)))).toEqual(raised);
    for (const bad of [null, 7, { ...raised, faults: -1 }, { ...raised, lastFaultAt: 'x' }, { ...raised, silent: ['a', 'b', 'c', 'd', 'e', 'f'] }, { ...raised, silent: [''] }, { ...raised, enterpriseId: 'x'.repeat(201) }]) expect(misnamedStateFromSnapshot(bad)).toBeUndefined();
  });
});

describe('decode and the watches: names the registry lacks', () => {
  const scope = { enterpriseId: 'E', deviceId: 'ctl-1', points: new Map([['gas-1', { metric: 'gas_lel' }], ['power_kw', { metric: 'power_kw' }], ['smoke', { metric: 'smoke_alarm' }]]) };
  const limits = { maxPayloadBytes: 65536, maxReadingsPerMessage: 10, maxFutureSkewMs: 300_000, maxPastMs: 365 * 86_400_000 };

  it('notes the values under unknown names by type, only beside readings taken, and takes a resend\'s back', () => {
    const intake = new TelemetryIntake(limits);
    const take = (body: unknown) => {
      const notes = decodeNotes();
      intake.take(Buffer.from(JSON.stringify(body)), scope, AT, notes);
      return notes.unknown;
    };
    expect(take({ seq: 1, values: { gas1: 12, power_kw: 3, rssi: -70, door: true, text: 'x' } })).toEqual({ numbers: 2, switches: 1 });
    // a reading refused whole is the readings-refused watch's
    expect(take({ seq: 2, values: { gas1: 12 } })).toEqual({ numbers: 0, switches: 0 });
    // the resend of seq 1 beside a new reading: only the new one counts
    expect(take([{ seq: 1, values: { gas1: 12, power_kw: 3 } }, { seq: 3, values: { power_kw: 3, lel: 1 } }])).toEqual({ numbers: 1, switches: 0 });
  });

  it('finds a silent point of the same type as the unknown names, by the last values and the report interval', () => {
    const lastAt = new Map<string, number>();
    const w = new DeviceWatches((d, p) => scope.points.get(p), { device: () => ({ points: scope.points, reportIntervalS: 10 }), lastValueAt: (_d, p) => lastAt.get(p) });
    const message = (values: Record<string, number | boolean>, unknown: DecodeNotes['unknown'], at = AT, ts = at) => {
      const out: Outcome[] = [];
      const reading: Reading = { ...device, ts, values };
      w.message(device, { clock: clockSeen(), refusedPoints: [], nothingMeasured: 0, unknown }, { accepted: 1, rejects: [] }, [reading], at, out);
      return out.map((o) => `${o.change} ${o.message.includes('gas-1') ? 'gas-1' : ''}${o.message.includes('smoke') ? ' smoke' : ''}`);
    };
    const gasAsGas1 = { numbers: 1, switches: 0 };
    // a number under an unknown name and gas-1 never heard: the third raises, naming gas-1 only
    // (the silent switch is no number; power_kw is in the message)
    expect([...message({ power_kw: 3 }, gasAsGas1), ...message({ power_kw: 3 }, gasAsGas1), ...message({ power_kw: 3 }, gasAsGas1)]).toEqual(['raise gas-1']);
    // gas-1 arrives under its name (the firmware fixed): no fault; cleared after the quiet time
    lastAt.set('gas-1', AT);
    expect([...message({ 'gas-1': 5, power_kw: 3 }, { numbers: 0, switches: 0 }), ...message({ 'gas-1': 5 }, { numbers: 0, switches: 0 })]).toEqual([]);
    expect(message({ 'gas-1': 5 }, { numbers: 0, switches: 0 }, LATER)).toEqual(['clear ']);
    // the device's clock a day behind (kept, within maxPastS): its points are timed by that clock
    const DAY = 86_400_000;
    lastAt.set('gas-1', AT - DAY + 5000);
    lastAt.set('smoke', AT - DAY + 5000);
    expect([0, 1, 2, 3].flatMap((i) => message({ power_kw: 3 }, { numbers: 1, switches: 1 }, AT + i, AT - DAY + 10_000 + i))).toEqual([]);
    // extra diagnostics beside complete readings: gas-1 heard within three intervals, no fault
    lastAt.set('gas-1', LATER);
    lastAt.set('smoke', LATER);
    for (let i = 1; i <= 5; i++) expect(message({ power_kw: 3 }, { numbers: 1, switches: 0 }, LATER + i * 10_000)).toEqual([]);
    // gas-1 silent past three intervals again (a firmware update renamed it)
    const renamed = LATER + 31_000;
    expect([0, 1, 2].flatMap((i) => message({ power_kw: 3 }, gasAsGas1, renamed + i))).toEqual(['raise gas-1']);
    expect(w.export().misnamed).toMatchObject([['ctl-1', { raised: true, silent: ['gas-1'] }]]);
    // a switch sent under another name, its registry switch silent: named beside gas-1
    const after = renamed + 60_000;
    expect([0, 1, 2].flatMap((i) => message({ power_kw: 3 }, { numbers: 1, switches: 1 }, after + i))).toEqual([]);
    expect(w.export().misnamed).toMatchObject([['ctl-1', { raised: true, silent: ['gas-1', 'smoke'] }]]);
  });
});
