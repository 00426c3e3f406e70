import { describe, expect, it } from 'vitest';
import { compileRules, evaluate, forget, newEngineState, reconcile, seed } from '../../rules/engine.ts';
import { ruleSchema, type RuleInput } from '../../rules/schema.ts';
import { changes } from '../support/engine.ts';

/** The engine with points of their own: a rule for a metric runs once per point of it. */
const points = [
  { id: 'gas-1', metric: 'gas_lel', name: '1号灶台' },
  { id: 'gas-2', metric: 'gas_lel', name: '2号灶台' },
  { id: 'gas_shutoff_valve_closed', metric: 'gas_shutoff_valve_closed' },
];
const lel: RuleInput = { id: 'gas-lel', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'major', value: 20 }], deadband: 2 };
const set = (rules: RuleInput[] = [lel]) => compileRules([{ enterpriseId: 'E', deviceId: 'D', rules: rules.map((r) => ruleSchema.parse(r)), points }]);
const read = (s: ReturnType<typeof set>, state: ReturnType<typeof newEngineState>, ts: number, values: Record<string, number | boolean>) => evaluate(s, state, { enterpriseId: 'E', deviceId: 'D', ts, values });

describe('points with ids in the engine', () => {
  it('judges each point of the metric on its own, one key and one alert each, named after the point', () => {
    const s = set();
    const state = newEngineState();
    const [o] = read(s, state, 0, { 'gas-1': 5, 'gas-2': 25 });
    expect(o).toMatchObject({ change: 'raise', key: 'D/gas-lel/gas-2', metric: 'gas_lel', pointId: 'gas-2', pointName: '2号灶台' });
    expect(o.message).toMatch(/^2号灶台 可燃气体浓度 ≥ 20 %LEL \/ combustible gas \(2号灶台\)/);
    expect(read(s, state, 1000, { 'gas-1': 25 }).map((x) => [x.change, x.pointId])).toEqual([['raise', 'gas-1']]);
    expect(read(s, state, 2000, { 'gas-2': 1 }).map((x) => [x.change, x.pointId])).toEqual([['clear', 'gas-2']]);
  });

  it('keeps a point known by its metric on the key it always had', () => {
    const s = compileRules([{ enterpriseId: 'E', deviceId: 'D', rules: [ruleSchema.parse(lel)], points: [{ id: 'gas_lel', metric: 'gas_lel' }] }]);
    expect(read(s, newEngineState(), 0, { gas_lel: 25 })).toMatchObject([{ key: 'D/gas-lel', pointId: 'gas_lel', pointName: null }]);
  });

  it('a rule naming a point judges only it', () => {
    const s = set([{ ...lel, id: 'gas-2-low', point: 'gas-2', above: [{ severity: 'warning', value: 10 }] } as RuleInput]);
    const state = newEngineState();
    expect(read(s, state, 0, { 'gas-1': 15, 'gas-2': 15 }).map((x) => x.key)).toEqual(['D/gas-2-low/gas-2']);
  });

  it('seeds, forgets and carries over the state of each instance by its own key', () => {
    const s = set();
    const state = newEngineState();
    seed(s, state, 'D/gas-lel/gas-2', 'major', 25, 25);
    // still high after a restart: the same alert goes on, nothing is raised again
    expect(read(s, state, 0, { 'gas-2': 24 })).toEqual([]);
    expect(changes(read(s, state, 1000, { 'gas-2': 1 }))).toEqual(['clear']);
    read(s, state, 2000, { 'gas-1': 30 });
    // a person closes gas-1's alert while the gas is still there: gas-1 starts afresh, gas-2 untouched
    forget(state, 'D/gas-lel/gas-1');
    expect(changes(read(s, state, 3000, { 'gas-1': 30 }))).toEqual(['raise:major']);
    // the same rules again (a registry reload): every instance keeps its state
    const next = set();
    expect(reconcile(next, state, 4000)).toEqual([]);
    expect(read(next, state, 5000, { 'gas-1': 29 })).toEqual([]);
    expect(changes(read(next, state, 6000, { 'gas-1': 2 }))).toEqual(['clear']);
  });
});
