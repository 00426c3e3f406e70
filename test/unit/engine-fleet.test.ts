import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules, evaluate, exportState, forget, importState, newEngineState, reconcile, seed, tick, type DeviceRules, type EngineState } from '../../rules/engine.ts';
import { ruleSchema, type RuleInput } from '../../rules/schema.ts';
import type { Outcome, Value } from '../../domain/types.ts';

/**
 * Devices with the same rules and points share one compiled layout (and one instance of each
 * rule): what each device remembers, and what its alerts say, must stay its own.
 */
const gas: RuleInput = { id: 'gas', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'major', value: 20 }], deadband: 2, forS: 10 };
const offline: RuleInput = { id: 'offline', kind: 'offline', afterIntervals: 3, severity: 'major' };

function fleet(devices: Partial<DeviceRules>[], rules: RuleInput[] = [gas, offline]) {
  const set = compileRules(devices.map((d, i) => ({ enterpriseId: 'E', deviceId: `D${i}`, rules: rules.map((r) => ruleSchema.parse(r)), ...d })));
  const state = newEngineState(0);
  const read = (deviceId: string, ts: number, values: Record<string, Value>): Outcome[] => evaluate(set, state, { enterpriseId: 'E', deviceId, ts, values }, ts);
  return { set, state, read };
}

const brief = (o: Outcome[]) => o.map((x) => `${x.deviceId} ${x.ruleId} ${x.change}${x.severity ? `:${x.severity}` : ''} ${x.value}`);

describe('a fleet on shared rules', () => {
  it('keeps each device\'s pending duration, value and alert to itself', () => {
    const f = fleet([{}, {}]);
    expect(f.read('D0', 0, { gas_lel: 25 })).toEqual([]);
    expect(f.read('D1', 5_000, { gas_lel: 30 })).toEqual([]);
    // D0 has held 10 s; D1 only 5 s
    expect(brief(tick(f.set, f.state, 10_000))).toEqual(['D0 gas raise:major 25']);
    expect(brief(tick(f.set, f.state, 15_000))).toEqual(['D1 gas raise:major 30']);
    expect(brief(f.read('D1', 16_000, { gas_lel: 5 }))).toEqual(['D1 gas clear 5']);
    expect(f.read('D0', 16_000, { gas_lel: 24 })).toEqual([]);
  });

  it('words each device\'s alert with its own figures when several change at once', () => {
    const f = fleet([{ reportIntervalS: 10 }, { reportIntervalS: 60 }]);
    f.read('D0', 0, { gas_lel: 1 });
    f.read('D1', 0, { gas_lel: 1 });
    const silent = tick(f.set, f.state, 200_000);
    expect(silent.map((o) => [o.deviceId, o.message])).toEqual([
      ['D0', expect.stringContaining('no reading for 200 s (reports every 10 s)')],
      ['D1', expect.stringContaining('no reading for 200 s (reports every 60 s)')],
    ]);
  });

  it('clears an alert restored for a device it has not heard from yet', () => {
    const f = fleet([{}, {}]);
    seed(f.set, f.state, 'D1/gas', 'major', 30, 30);
    expect(brief(f.read('D1', 0, { gas_lel: 3 }))).toEqual(['D1 gas clear 3']);
  });

  it('clears an alert taken over from a snapshot in which its device had not reported', () => {
    // a rule with a verdict on every reading, so the clear needs nothing but the active verdict
    const rise: RuleInput = { id: 'rise', kind: 'rate', metric: 'gas_lel', risingFaster: 1, windowS: 60, severity: 'major' };
    const f = fleet([{}, {}], [rise]);
    f.read('D0', 0, { gas_lel: 1 });
    const signature = f.set.devices.get('D1')!.layout.rules[0].signature;
    const other = newEngineState(0);
    importState(other, { ...exportState(f.state), active: [['D1/rise', { signature, severity: 'major', peak: 9, value: 9, flapping: false, heldClear: null }]] });
    expect(brief(evaluate(f.set, other, { enterpriseId: 'E', deviceId: 'D1', ts: 1000, values: { gas_lel: 3 } }, 1000))).toEqual(['D1 rise clear 0']);
    // and the device that had reported goes on where it was
    expect(evaluate(f.set, other, { enterpriseId: 'E', deviceId: 'D0', ts: 2000, values: { gas_lel: 2 } }, 2000)).toEqual([]);
  });

  it('starts a rule afresh when its alert is closed right after a snapshot was taken over', () => {
    const f = fleet([{}], [{ ...gas, forS: 0 }]);
    expect(brief(f.read('D0', 0, { gas_lel: 25 }))).toEqual(['D0 gas raise:major 25']);
    const other = newEngineState(0);
    importState(other, structuredClone(exportState(f.state)));
    forget(other, 'D0/gas');
    // 19 is inside the deadband of the alarm the rule was in: a rule that forgot it stays quiet
    expect(evaluate(f.set, other, { enterpriseId: 'E', deviceId: 'D0', ts: 1000, values: { gas_lel: 19 } }, 1000)).toEqual([]);
  });

  it('keeps the latest values its rules read across a reload and a snapshot, and not an older one over a newer', () => {
    const level: RuleInput = { id: 'level', kind: 'threshold', metric: 'melt_level', guard: 'casting_active', below: [{ severity: 'critical', value: 10 }], deadband: 1 };
    let f = fleet([{}], [level, offline]);
    f.read('D0', 1000, { casting_active: true });
    // a buffered reading from before does not replace what the device said since
    f.read('D0', 500, { casting_active: false });
    // a reload that changes another rule: the guard's value is still known
    const next = compileRules([{ enterpriseId: 'E', deviceId: 'D0', rules: [level, { ...offline, afterIntervals: 5 }].map((r) => ruleSchema.parse(r)) }]);
    reconcile(next, f.state, 2000);
    const state = newEngineState(0);
    importState(state, structuredClone(exportState(f.state)));
    f = { ...f, set: next, state };
    expect(brief(evaluate(f.set, f.state, { enterpriseId: 'E', deviceId: 'D0', ts: 3000, values: { melt_level: 5 } }, 3000))).toEqual(['D0 level raise:critical 5']);
  });

  it('counts a device the registry gained as silent from then, not from the start of the service', () => {
    const f = fleet([{ reportIntervalS: 10 }]);
    // the service ticks from its start
    expect(tick(f.set, f.state, 0)).toEqual([]);
    const hour = 3_600_000;
    const next = compileRules(['D0', 'D1'].map((deviceId) => ({ enterpriseId: 'E', deviceId, reportIntervalS: 10, rules: [gas, offline].map((r) => ruleSchema.parse(r)) })));
    // an hour in, D1 is registered
    reconcile(next, f.state, hour);
    // D0, never heard since the start: offline; D1 has been known for 29 s of its 30
    expect(brief(tick(next, f.state, hour + 29_000))).toEqual(['D0 offline raise:major 3629']);
    expect(brief(tick(next, f.state, hour + 30_000))).toEqual(['D1 offline raise:major 30']);
  });

  it('compiles one layout for devices with the same rules and points, another for other points', () => {
    const points = [
      { id: 'gas-1', metric: 'gas_lel' },
      { id: 'gas-2', metric: 'gas_lel' },
    ];
    const f = fleet([{}, {}, { points }, { points }]);
    const layout = (id: string) => f.set.devices.get(id)!.layout;
    expect(layout('D0')).toBe(layout('D1'));
    expect(layout('D2')).toBe(layout('D3'));
    expect(layout('D2')).not.toBe(layout('D0'));
    expect(f.read('D2', 0, { 'gas-2': 50 })).toEqual([]);
    expect(tick(f.set, f.state, 10_000).map((o) => o.key)).toEqual(['D2/gas/gas-2']);
  });
});

describe('the count of active alerts per device (what lets a quiet device skip the lookups)', () => {
  const rules = [
    gas,
    { id: 'shutoff', kind: 'interlock', when: 'gas_lel >= 40', expect: { gas_shutoff_valve_closed: true }, withinS: 3 },
    { id: 'rise', kind: 'rate', metric: 'gas_lel', risingFaster: 5, windowS: 10, severity: 'major' },
    { id: 'off', kind: 'offline', afterIntervals: 3 },
  ] satisfies RuleInput[];
  const withoutRise = rules.filter((r) => r.id !== 'rise');
  const device = fc.constantFrom('D0', 'D1', 'D2');
  const event = fc.oneof(
    fc.record({ type: fc.constant('reading' as const), device, dt: fc.integer({ min: 0, max: 4000 }), gas: fc.double({ min: 0, max: 80, noNaN: true }), valve: fc.boolean() }),
    fc.record({ type: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 20_000 }) }),
    fc.record({ type: fc.constant('forget' as const), which: fc.nat() }),
    fc.record({ type: fc.constant('reload' as const), drop: fc.boolean() }),
    fc.record({ type: fc.constant('snapshot' as const) }),
  );
  const counted = (state: EngineState) => {
    const seen = new Map<string, number>();
    for (const key of state.active.keys()) seen.set(key.split('/')[0], (seen.get(key.split('/')[0]) ?? 0) + 1);
    return [...state.devices].map(([id, rt]) => [id, rt.activeKeys, seen.get(id) ?? 0]);
  };

  it('always equals the active verdicts of the device, through reloads, forgets and snapshots', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 120 }), (events) => {
        const compile = (r: RuleInput[]) => compileRules(['D0', 'D1', 'D2'].map((deviceId) => ({ enterpriseId: 'E', deviceId, rules: r.map((x) => ruleSchema.parse(x)), reportIntervalS: 5 })));
        let set = compile(rules);
        let state = newEngineState(0);
        let now = 0;
        for (const e of events) {
          if (e.type === 'reading') {
            now += e.dt;
            evaluate(set, state, { enterpriseId: 'E', deviceId: e.device, ts: now, values: { gas_lel: e.gas, gas_shutoff_valve_closed: e.valve } }, now);
          } else if (e.type === 'tick') tick(set, state, (now += e.dt));
          else if (e.type === 'forget') {
            const keys = [...state.active.keys()];
            if (keys.length) forget(state, keys[e.which % keys.length]);
          } else if (e.type === 'reload') {
            set = compile(e.drop ? withoutRise : rules);
            reconcile(set, state, now);
          } else {
            const next = newEngineState(0);
            importState(next, structuredClone(exportState(state)));
            state = next;
          }
          for (const [id, count, active] of counted(state)) expect(count, `${id} after ${e.type}`).toBe(active);
        }
      }),
      { numRuns: 300 },
    );
  });
});
