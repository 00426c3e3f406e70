import { INDICATORS, isMetric } from './indicators.ts';
import type { RuleDef } from './schema.ts';
import {
  compileThreshold,
  initialThresholdState,
  stepThreshold,
  tickThreshold,
  type CompiledThreshold,
  type ThresholdState,
} from './threshold.ts';
import type { Outcome, Reading, Severity, Value } from './types.ts';

/**
 * The rules engine: rules compiled once per device, then evaluated per reading.
 * No I/O and no clock: time comes from the reading or from the caller of `tick`. The state is a
 * plain object owned by the caller and updated in place, so one engine instance can be swapped
 * for another (registry reload) while keeping the state of rules that did not change.
 */
export interface DeviceRules {
  enterpriseId: string;
  deviceId: string;
  rules: RuleDef[];
  /** metric → physical range; values outside it never drive threshold rules */
  ranges?: Record<string, readonly [number, number]>;
}

interface CompiledDevice {
  enterpriseId: string;
  deviceId: string;
  byMetric: Map<string, CompiledThreshold[]>;
  all: CompiledThreshold[];
  ranges: Record<string, readonly [number, number]>;
}

export interface RuleSet {
  devices: Map<string, CompiledDevice>;
}

export interface EngineState {
  rules: Map<string, ThresholdState>;
  /** latest value of every metric per device, for guards */
  latest: Map<string, Record<string, Value>>;
}

export const newEngineState = (): EngineState => ({ rules: new Map(), latest: new Map() });

export const ruleKey = (deviceId: string, ruleId: string) => `${deviceId}/${ruleId}`;

export function compileRules(devices: DeviceRules[]): RuleSet {
  const out = new Map<string, CompiledDevice>();
  for (const d of devices) {
    const all = d.rules.filter((r) => r.enabled).map(compileThreshold);
    const byMetric = new Map<string, CompiledThreshold[]>();
    for (const r of all) {
      byMetric.set(r.def.metric, [...(byMetric.get(r.def.metric) ?? []), r]);
      // a change of the guard must re-evaluate the rules it guards
      if (r.def.guard && r.def.guard !== r.def.metric) byMetric.set(r.def.guard, [...(byMetric.get(r.def.guard) ?? []), r]);
    }
    out.set(d.deviceId, { enterpriseId: d.enterpriseId, deviceId: d.deviceId, byMetric, all, ranges: d.ranges ?? {} });
  }
  return { devices: out };
}

const asNumber = (v: Value | undefined): number | undefined => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

export function evaluate(set: RuleSet, state: EngineState, reading: Reading): Outcome[] {
  const device = set.devices.get(reading.deviceId);
  if (!device) return [];
  const latest = { ...state.latest.get(reading.deviceId), ...reading.values };
  state.latest.set(reading.deviceId, latest);
  const outcomes: Outcome[] = [];
  const seen = new Set<CompiledThreshold>();
  for (const metric of Object.keys(reading.values)) {
    for (const rule of device.byMetric.get(metric) ?? []) {
      if (seen.has(rule)) continue;
      seen.add(rule);
      const o = evaluateRule(device, rule, state, reading, latest);
      if (o) outcomes.push(o);
    }
  }
  return outcomes;
}

function evaluateRule(
  device: CompiledDevice,
  rule: CompiledThreshold,
  state: EngineState,
  reading: Reading,
  latest: Record<string, Value>,
): Outcome | null {
  const { def } = rule;
  const key = ruleKey(device.deviceId, def.id);
  const before = state.rules.get(key) ?? initialThresholdState();
  if (reading.ts < before.lastTs) return null;
  let after: ThresholdState;
  if (def.guard && latest[def.guard] !== true) {
    // outside the guarded operation (no casting run) the rule does not apply: whatever it held clears
    after = { ...initialThresholdState(), lastTs: reading.ts };
  } else {
    const v = asNumber(reading.values[def.metric] ?? (def.guard ? latest[def.metric] : undefined));
    if (v === undefined) return null;
    const quality = reading.quality?.[def.metric];
    if (quality === 'fault' || quality === 'maintenance') return null;
    const range = device.ranges[def.metric];
    if (range && (v < range[0] || v > range[1])) return null;
    after = stepThreshold(rule, before, v, reading.ts);
  }
  state.rules.set(key, after);
  return diff(device, rule, key, before, after, reading.ts);
}

/** Let time pass: rules whose duration has elapsed since their last reading are raised now. */
export function tick(set: RuleSet, state: EngineState, now: number): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const device of set.devices.values()) {
    for (const rule of device.all) {
      if (rule.forMs === 0) continue;
      const key = ruleKey(device.deviceId, rule.def.id);
      const before = state.rules.get(key);
      if (!before) continue;
      const after = tickThreshold(rule, before, now);
      if (after === before) continue;
      state.rules.set(key, after);
      const o = diff(device, rule, key, before, after, now);
      if (o) outcomes.push(o);
    }
  }
  return outcomes;
}

/**
 * After a restart, the alerts that were open tell the engine which level each rule was at, so
 * the deadband keeps working and a still-high value does not raise a second alert.
 */
export function seed(set: RuleSet, state: EngineState, deviceId: string, ruleId: string, severity: Severity, peak: number | null) {
  const rule = set.devices.get(deviceId)?.all.find((r) => r.def.id === ruleId);
  if (!rule) return;
  const active = rule.levels.findLastIndex((l) => l.severity === severity);
  if (active >= 0) state.rules.set(ruleKey(deviceId, ruleId), { ...initialThresholdState(), active, peak });
}

/** An alert closed by a person while its condition still holds: start the rule afresh. */
export function forget(state: EngineState, key: string) {
  state.rules.delete(key);
}

function diff(
  device: CompiledDevice,
  rule: CompiledThreshold,
  key: string,
  before: ThresholdState,
  after: ThresholdState,
  at: number,
): Outcome | null {
  const was = before.active >= 0 ? rule.levels[before.active] : undefined;
  const now = after.active >= 0 ? rule.levels[after.active] : undefined;
  let change: Outcome['change'];
  if (!was && !now) return null;
  else if (!was) change = 'raise';
  else if (!now) change = 'clear';
  else if (was !== now || before.peak !== after.peak) change = 'update';
  else return null;
  const level = now ?? was!;
  // switches are evaluated as 0/1 but reported as the booleans the device sent
  const isSwitch = isMetric(rule.def.metric) && INDICATORS[rule.def.metric].type === 'boolean';
  const out = (v: number | null): Value | null => (v === null || !isSwitch ? v : v === 1);
  return {
    key,
    change,
    ruleId: rule.def.id,
    ruleKind: rule.def.kind,
    enterpriseId: device.enterpriseId,
    deviceId: device.deviceId,
    metric: rule.def.metric,
    severity: now?.severity ?? null,
    value: out(after.last),
    peak: out(now ? after.peak : before.peak),
    threshold: level.value,
    at,
    message: rule.def.message ?? describe(rule.def.metric, level.side, level.value, now !== undefined),
  };
}

function describe(metric: string, side: 'above' | 'below', threshold: number, holding: boolean): string {
  const ind = isMetric(metric) ? INDICATORS[metric] : undefined;
  const zh = ind?.zh ?? metric;
  const en = ind?.en ?? metric;
  const unit = ind?.unit ? ` ${ind.unit}` : '';
  if (ind?.type === 'boolean') return holding ? `${zh}报警 / ${en}` : `${zh}恢复 / ${en} back to normal`;
  const op = side === 'above' ? '≥' : '≤';
  return holding
    ? `${zh} ${op} ${threshold}${unit} / ${en} ${op} ${threshold}${unit}`
    : `${zh}恢复正常 / ${en} back within ${threshold}${unit}`;
}
