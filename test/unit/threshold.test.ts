import { describe, expect, it } from 'vitest';
import { compileRules, evaluate, forget, newEngineState, rememberValue, seed, tick } from '../../rules/engine.ts';
import { thresholdRuleSchema } from '../../rules/schema.ts';
import type { z } from 'zod';

type RuleInput = z.input<typeof thresholdRuleSchema>;
import type { Outcome, Reading, Value } from '../../domain/types.ts';

/** Threshold rules as pure functions: sequences of readings with their own times, no clock. */
function engineFor(rule: RuleInput, ranges?: Record<string, [number, number]>) {
  const set = compileRules([{ enterpriseId: 'E', deviceId: 'D', rules: [thresholdRuleSchema.parse(rule)], ranges }]);
  const state = newEngineState();
  const feed = (ts: number, values: Record<string, Value>, quality?: Reading['quality']) => evaluate(set, state, { enterpriseId: 'E', deviceId: 'D', ts, values, quality });
  return { set, state, feed, tick: (now: number) => tick(set, state, now) };
}

const gas: RuleInput = {
  id: 'gas',
  kind: 'threshold',
  metric: 'gas_lel',
  above: [
    { severity: 'major', value: 20 },
    { severity: 'critical', value: 40 },
  ],
  deadband: 2,
};

/** [value, expected change or '-', expected severity after] per step, one second apart */
type Step = [number, Outcome['change'] | '-', string | null];

const table: [string, RuleInput, Step[]][] = [
  ['raises at exactly the setpoint (≥), not just under', gas, [[19.999, '-', null], [20, 'raise', 'major']]],
  ['rises to the second level within the same alert', gas, [[25, 'raise', 'major'], [40, 'update', 'critical']]],
  ['jumps straight to the second level', gas, [[55, 'raise', 'critical']]],
  ['stays inside the deadband, clears past it', gas, [[21, 'raise', 'major'], [18.5, '-', 'major'], [18, '-', 'major'], [17.99, 'clear', null]]],
  ['falls a level when past that level\'s deadband', gas, [[45, 'raise', 'critical'], [38.5, '-', 'critical'], [37.9, 'update', 'major'], [39, '-', 'major']]],
  ['a worse peak is an update, a better value is not', gas, [[22, 'raise', 'major'], [25, 'update', 'major'], [23, '-', 'major']]],
  [
    'a low rule enters at ≤ and leaves above value + deadband',
    { id: 'flow', kind: 'threshold', metric: 'cooling_water_flow', below: [{ severity: 'critical', value: 30 }], deadband: 2 },
    [[30.01, '-', null], [30, 'raise', 'critical'], [31.9, '-', 'critical'], [32.01, 'clear', null]],
  ],
  [
    'high and low levels on one rule',
    { id: 'o2', kind: 'threshold', metric: 'o2_percent', below: [{ severity: 'major', value: 19.5 }], above: [{ severity: 'major', value: 23.5 }], deadband: 0.2 },
    [[20.9, '-', null], [19.4, 'raise', 'major'], [19.8, 'clear', null], [24, 'raise', 'major']],
  ],
];

describe('threshold rule', () => {
  it.each(table)('%s', (_name, rule, steps) => {
    const e = engineFor(rule);
    steps.forEach(([value, change, severity], i) => {
      const out = e.feed(1000 * i, { [rule.metric]: value });
      expect(out.map((o) => o.change), `step ${i} (${value})`).toEqual(change === '-' ? [] : [change]);
      if (out[0]) expect(out[0].severity).toBe(severity);
    });
  });

  it('waits forS before raising; one millisecond short is not enough', () => {
    const e = engineFor({ ...gas, forS: 5 });
    expect(e.feed(0, { gas_lel: 30 })).toEqual([]);
    expect(e.feed(4999, { gas_lel: 31 })).toEqual([]);
    const out = e.feed(5000, { gas_lel: 31 });
    expect(out).toMatchObject([{ change: 'raise', severity: 'major', at: 5000 }]);
  });

  it('restarts the duration when the condition breaks', () => {
    const e = engineFor({ ...gas, forS: 5 });
    e.feed(0, { gas_lel: 30 });
    e.feed(3000, { gas_lel: 10 });
    expect(e.feed(6000, { gas_lel: 30 })).toEqual([]);
    expect(e.feed(10_999, { gas_lel: 30 })).toEqual([]);
    expect(e.feed(11_000, { gas_lel: 30 })).toHaveLength(1);
  });

  it('raises on the clock when the duration elapses with no new reading', () => {
    const e = engineFor({ ...gas, forS: 10 });
    e.feed(0, { gas_lel: 45 });
    expect(e.tick(9999)).toEqual([]);
    expect(e.tick(10_000)).toMatchObject([{ change: 'raise', severity: 'critical', at: 10_000, value: 45, peak: 45 }]);
    expect(e.tick(20_000)).toEqual([]);
  });

  it('raises the lower level first when only it has held long enough', () => {
    const e = engineFor({ ...gas, forS: 10 });
    e.feed(0, { gas_lel: 25 });
    e.feed(5000, { gas_lel: 45 });
    expect(e.feed(10_000, { gas_lel: 45 })).toMatchObject([{ change: 'raise', severity: 'major' }]);
    expect(e.feed(15_000, { gas_lel: 45 })).toMatchObject([{ change: 'update', severity: 'critical' }]);
  });

  it('ignores values a faulted sensor or one in maintenance reports, and impossible values', () => {
    const e = engineFor(gas, { gas_lel: [0, 100] });
    expect(e.feed(0, { gas_lel: 60 }, { gas_lel: 'fault' })).toEqual([]);
    expect(e.feed(1000, { gas_lel: 60 }, { gas_lel: 'maintenance' })).toEqual([]);
    expect(e.feed(2000, { gas_lel: 250 })).toEqual([]);
    expect(e.feed(3000, { gas_lel: 60 })).toHaveLength(1);
  });

  it('skips late (buffered) readings older than the last one evaluated', () => {
    const e = engineFor(gas);
    e.feed(10_000, { gas_lel: 5 });
    expect(e.feed(5000, { gas_lel: 60 })).toEqual([]);
  });

  it('treats switches as 0/1 and reports them as booleans', () => {
    const e = engineFor({ id: 'smoke', kind: 'threshold', metric: 'smoke_alarm', above: [{ severity: 'critical', value: 1 }] });
    expect(e.feed(0, { smoke_alarm: false })).toEqual([]);
    expect(e.feed(1000, { smoke_alarm: true })).toMatchObject([{ change: 'raise', value: true, peak: true }]);
    expect(e.feed(2000, { smoke_alarm: false })).toMatchObject([{ change: 'clear', value: false }]);
  });

  it('applies a guarded rule only while its guard is true, and clears when the guard drops', () => {
    const e = engineFor({ id: 'flow', kind: 'threshold', metric: 'cooling_water_flow', below: [{ severity: 'critical', value: 30 }], guard: 'casting_active' });
    expect(e.feed(0, { casting_active: false, cooling_water_flow: 5 })).toEqual([]);
    expect(e.feed(1000, { casting_active: true })).toMatchObject([{ change: 'raise', value: 5 }]);
    expect(e.feed(2000, { cooling_water_flow: 4 })).toMatchObject([{ change: 'update', peak: 4 }]);
    expect(e.feed(3000, { casting_active: false })).toMatchObject([{ change: 'clear' }]);
  });

  it('continues an alert restored after a restart instead of raising a new one', () => {
    const e = engineFor(gas);
    seed(e.set, e.state, 'D/gas', 'critical', 50, 50);
    expect(e.feed(0, { gas_lel: 45 })).toEqual([]);
    expect(e.feed(1000, { gas_lel: 10 })).toMatchObject([{ change: 'clear' }]);
  });

  it('continues a restored alert on the side it was raised, when the rule has a level of that severity on each side', () => {
    // a tank too full and too empty at one severity; melt too high and too low at another
    const tank: RuleInput = { id: 'tank', kind: 'threshold', metric: 'tank_level', above: [{ severity: 'major', value: 85 }, { severity: 'critical', value: 95 }], below: [{ severity: 'major', value: 10 }], deadband: 2, forS: 5 };
    const full = engineFor(tank);
    seed(full.set, full.state, 'D/tank', 'major', 92, 92);
    expect(full.feed(0, { tank_level: 92 })).toEqual([]);
    expect(full.feed(1000, { tank_level: 84 })).toEqual([]);
    expect(full.feed(2000, { tank_level: 80 })).toMatchObject([{ change: 'clear' }]);
    const empty = engineFor(tank);
    seed(empty.set, empty.state, 'D/tank', 'major', 4, 4);
    expect(empty.feed(0, { tank_level: 5 })).toEqual([]);
    expect(empty.feed(1000, { tank_level: 40 })).toMatchObject([{ change: 'clear' }]);
    const melt = engineFor({ id: 'melt', kind: 'threshold', metric: 'melt_level', above: [{ severity: 'critical', value: 750 }], below: [{ severity: 'critical', value: 450 }], deadband: 10, forS: 1 });
    seed(melt.set, melt.state, 'D/melt', 'critical', 800, 800);
    expect(melt.feed(0, { melt_level: 780 })).toEqual([]);
  });

  it('continues a restored alert under its guard when the guard\'s last stored value is remembered', () => {
    const pressure: RuleInput = { id: 'pressure', kind: 'threshold', metric: 'cooling_water_pressure', guard: 'casting_active', below: [{ severity: 'critical', value: 0.2 }], deadband: 0.02, forS: 1 };
    const remembered = engineFor(pressure);
    seed(remembered.set, remembered.state, 'D/pressure', 'critical', 0.1, 0.1);
    // a store keeps a switch as 1
    rememberValue(remembered.set, remembered.state, 'D', 'casting_active', 1, -5000);
    expect(remembered.feed(0, { cooling_water_pressure: 0.1 })).toEqual([]);
    expect(remembered.feed(1000, { casting_active: false, cooling_water_pressure: 0.1 })).toMatchObject([{ change: 'clear' }]);
    // without it the guard is not known to hold, and the alarm is taken back at the first reading
    const forgotten = engineFor(pressure);
    seed(forgotten.set, forgotten.state, 'D/pressure', 'critical', 0.1, 0.1);
    expect(forgotten.feed(0, { cooling_water_pressure: 0.1 })).toMatchObject([{ change: 'clear' }]);
  });

  it('remembers a stored value only when it is newer than what the engine has, and only for points its rules read', () => {
    const pressure: RuleInput = { id: 'pressure', kind: 'threshold', metric: 'cooling_water_pressure', guard: 'casting_active', below: [{ severity: 'critical', value: 0.2 }], deadband: 0.02 };
    const e = engineFor(pressure);
    e.feed(1000, { casting_active: false });
    rememberValue(e.set, e.state, 'D', 'casting_active', true, 500);
    rememberValue(e.set, e.state, 'D', 'no_such_point', 1, 2000);
    rememberValue(e.set, e.state, 'NO-DEVICE', 'casting_active', true, 2000);
    rememberValue(e.set, e.state, 'D', 'cooling_water_pressure', Number.NaN, 2000);
    expect(e.feed(2000, { cooling_water_pressure: 0.1 })).toEqual([]);
  });

  it('starts afresh when an alert is closed while its condition holds', () => {
    const e = engineFor(gas);
    const [o] = e.feed(0, { gas_lel: 45 });
    forget(e.state, o.key);
    expect(e.feed(1000, { gas_lel: 45 })).toMatchObject([{ change: 'raise' }]);
  });
});
