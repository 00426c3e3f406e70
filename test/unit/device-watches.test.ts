import { describe, expect, it } from 'vitest';
import type { Outcome, Reading } from '../../domain/types.ts';
import type { DecodeNotes } from '../../gateway/decode.ts';
import type { RejectCode } from '../../gateway/reject-codes.ts';
import { clockSeen, QUIET_TO_CLEAR_MS, type ClockSeen } from '../../rules/device-clock.ts';
import { DeviceWatches } from '../../services/pipeline/device-watches.ts';

/** The judge's watches of a device beside its rules, through a restart, a close, a registry change and a snapshot. */
const gas = { enterpriseId: 'E', deviceId: 'gas-1' };
const AT = Date.UTC(2026, 11, 6, 8);
/** once the alerts' quiet time is over */
const LATER = AT + QUIET_TO_CLEAR_MS;
type Answer = { accepted: number; rejects: { code: RejectCode }[] };
const TAKEN: Answer = { accepted: 1, rejects: [] };
const REFUSED: Answer = { accepted: 0, rejects: [{ code: 'READING_INVALID' }] };
const AHEAD = { ...clockSeen(), ahead: 1, worstMs: 3_600_000 };
const RIGHT = { ...clockSeen(), right: 1 };
const NONE = clockSeen();
/** the registry's points: gas-1 has gas_lel and a toxic-gas point with an id of its own */
let points = new Map([['gas_lel', { metric: 'gas_lel' }], ['h2s-1', { metric: 'toxic_gas_ppm' }]]);
const watches = () => new DeviceWatches((d, p) => (d === 'gas-1' ? points.get(p) : undefined));
const reading = (values: Record<string, number>): Reading => ({ ...gas, ts: AT, values });

function messages(w: DeviceWatches, list: [ClockSeen, Answer, DecodeNotes['refusedPoints']?, Reading[]?][], at = AT) {
  const out: Outcome[] = [];
  for (const [clock, answer, refusedPoints = [], readings = answer.accepted ? [reading({ gas_lel: 1 })] : []] of list) w.message(gas, { clock, refusedPoints, nothingMeasured: 0, unknown: { numbers: 0, switches: 0 } }, answer, readings, at, out);
  return out.map((o) => `${o.key} ${o.change} ${o.severity}`);
}

describe('the device watches', () => {
  it('raises and clears each alert from the messages, the clock and the refusals on their own', () => {
    const w = watches();
    expect(messages(w, [[AHEAD, REFUSED], [AHEAD, REFUSED], [AHEAD, REFUSED]])).toEqual(['gas-1/device-clock raise major', 'gas-1/readings-refused raise major']);
    expect(messages(w, [[RIGHT, TAKEN], [RIGHT, TAKEN], [RIGHT, TAKEN]])).toEqual([]);
    expect(messages(w, [[RIGHT, TAKEN]], LATER)).toEqual(['gas-1/device-clock clear null', 'gas-1/readings-refused clear null']);
  });

  it("raises on a point whose values are refused while the device's others are read, with its metric and id; clears once they are taken", () => {
    const w = watches();
    const broken: [ClockSeen, Answer, DecodeNotes['refusedPoints']] = [NONE, { accepted: 1, rejects: [{ code: 'VALUE_OUT_OF_RANGE' }] }, [['h2s-1', 'VALUE_OUT_OF_RANGE']]];
    expect(messages(w, [broken, broken])).toEqual([]);
    // a message without the point says nothing of it
    expect(messages(w, [[NONE, TAKEN]])).toEqual([]);
    const out: Outcome[] = [];
    w.message(gas, { clock: NONE, refusedPoints: broken[2], nothingMeasured: 0, unknown: { numbers: 0, switches: 0 } }, broken[1], [reading({ gas_lel: 1 })], AT, out);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ key: 'gas-1/readings-refused/h2s-1', metric: 'toxic_gas_ppm', pointId: 'h2s-1', severity: 'major', ruleId: 'readings-refused' });
    expect(out[0].message).toContain('point h2s-1');
    expect(out[0].message).toContain('VALUE_OUT_OF_RANGE');
    // a message refused whole is the device's alert, not the point's
    expect(messages(w, [[NONE, { accepted: 0, rejects: [{ code: 'VALUE_INVALID' }] }, [['h2s-1', 'VALUE_INVALID']]]])).toEqual([]);
    const fixed: [ClockSeen, Answer, [], Reading[]] = [NONE, TAKEN, [], [reading({ gas_lel: 1, 'h2s-1': 3 })]];
    expect(messages(w, [fixed, fixed, fixed], LATER)).toEqual(['gas-1/readings-refused/h2s-1 clear null']);
    expect(w.export().refusedPoints).toEqual([]);
  });

  it('takes open alerts back after a restart, so right messages clear them; leaves alone keys that are not its own', () => {
    const w = watches();
    w.seed(
      [
        { key: 'gas-1/device-clock', state: 'active', severity: 'warning' },
        { key: 'gas-1/readings-refused', state: 'active', severity: 'major' },
        { key: 'gas-1/readings-refused/gas_lel', state: 'active', severity: 'major' },
        { key: 'gas-1/readings-refused/not-a-point', state: 'active', severity: 'major' },
        { key: 'gas-1/gas-lel', state: 'active', severity: 'critical' },
        { key: 'gas-1/toxic-gas/h2s-1', state: 'active', severity: 'critical' },
        { key: 'gone-1/readings-refused', state: 'active', severity: 'major' },
        { key: 'gas-2/device-clock', state: 'cleared', severity: 'warning' },
      ],
      (d) => (d === 'gas-1' || d === 'gas-2' ? 'E' : undefined),
      AT,
    );
    expect(w.export()).toMatchObject({ clocks: [['gas-1', { raised: 'behind' }]], refused: [['gas-1', { raised: true }]], refusedPoints: [['gas-1/gas_lel', { raised: true, point: { key: 'gas_lel', metric: 'gas_lel' } }]] });
    expect(messages(w, [[RIGHT, TAKEN], [RIGHT, TAKEN], [RIGHT, TAKEN]], LATER)).toEqual(['gas-1/device-clock clear null', 'gas-1/readings-refused clear null', 'gas-1/readings-refused/gas_lel clear null']);
  });

  it('watches afresh after a close while the fault held, clears for a device or point gone, and comes back from a snapshot', () => {
    const w = watches();
    messages(w, [[AHEAD, REFUSED], [AHEAD, REFUSED], [AHEAD, REFUSED]]);
    expect(w.forget('gas-1/readings-refused')).toBe(true);
    expect(w.forget('gas-1/gas-lel')).toBe(false);
    expect(w.forget('gas-1/toxic-gas/h2s-1')).toBe(false);
    expect(messages(w, [[AHEAD, REFUSED], [AHEAD, REFUSED]])).toEqual([]);
    expect(messages(w, [[AHEAD, REFUSED]])).toEqual(['gas-1/readings-refused raise major']);
    const broken: [ClockSeen, Answer, DecodeNotes['refusedPoints']] = [NONE, { accepted: 1, rejects: [{ code: 'VALUE_INVALID' }] }, [['h2s-1', 'VALUE_INVALID']]];
    expect(messages(w, [broken, broken, broken], LATER)).toEqual(['gas-1/readings-refused clear null', 'gas-1/readings-refused/h2s-1 raise major']);

    const copy = watches();
    copy.import(JSON.parse(JSON.stringify(w.export())));
    expect(copy.export()).toEqual(w.export());
    copy.import({ clocks: [['x', { nope: 1 }], 'junk', [7, {}]] as never, refused: undefined, refusedPoints: [['gas-1/h2s-1', { ...w.export().refusedPoints![0][1], point: { key: 'other', metric: 'x' } }], ['a/b/c', {}]] as never });
    expect(copy.export()).toEqual({ clocks: [], refused: [], refusedPoints: [] });

    // the point leaves the registry: its alert clears; then the device does
    const out: Outcome[] = [];
    points = new Map([['gas_lel', { metric: 'gas_lel' }]]);
    w.registryChanged(() => true, AT, out);
    expect(out.map((o) => `${o.key} ${o.change}`)).toEqual(['gas-1/readings-refused/h2s-1 clear']);
    w.registryChanged(() => false, AT, out);
    expect(out.map((o) => `${o.key} ${o.change}`).slice(1)).toEqual(['gas-1/device-clock clear']);
    expect(w.export()).toEqual({ clocks: [], refused: [], refusedPoints: [] });
  });
});
