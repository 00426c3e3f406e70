import { metricNames } from './describe.ts';
import { clearIsDue, DEFAULT_FLAPPING, noteChange } from './flapping.ts';
import type { DeviceView, LinkEvent, RuleImpl, Verdict } from './kind.ts';
import { buildRule } from './kinds.ts';
import type { FlappingConfig, RuleDef } from './schema.ts';
import type { Outcome, Quality, Reading, Severity, Value } from './types.ts';

/**
 * The rules engine: rules compiled once per device, then run per reading, per clock tick and per
 * device status change. No I/O and no clock: time comes from the readings and from the `now`
 * the caller passes. The state is a plain object owned by the caller and updated in place, so a
 * new rule set (registry reload) can take over the state of the rules that did not change.
 */
export interface DeviceRules {
  enterpriseId: string;
  deviceId: string;
  rules: RuleDef[];
  /** metric → physical range of the point */
  ranges?: Record<string, readonly [number, number]>;
  reportIntervalS?: number;
  flapping?: FlappingConfig;
}

interface CompiledRule {
  impl: RuleImpl;
  /** the definition as text: a changed definition means fresh state */
  signature: string;
}

interface CompiledDevice {
  enterpriseId: string;
  deviceId: string;
  rules: CompiledRule[];
  byMetric: Map<string, CompiledRule[]>;
  everyReading: CompiledRule[];
  timed: CompiledRule[];
  linked: CompiledRule[];
  ranges: Record<string, readonly [number, number]>;
  reportIntervalS: number;
  flapping: FlappingConfig;
}

export interface RuleSet {
  devices: Map<string, CompiledDevice>;
}

interface DeviceRuntime {
  latest: Record<string, Value>;
  /** the device's own time of each latest value */
  latestTs: Record<string, number>;
  /** when each latest value arrived */
  latestAt: Record<string, number>;
  quality: Record<string, Quality>;
  link: 'online' | 'offline' | 'unknown';
  lastHeard: number;
}

interface ActiveVerdict {
  severity: Severity;
  peak: Value | null;
  value: Value | null;
  flapping: boolean;
  /** a clear held back because the key flaps: since when */
  heldClear: number | null;
}

export interface EngineState {
  startedAt: number;
  devices: Map<string, DeviceRuntime>;
  rules: Map<string, { s: unknown; signature: string }>;
  active: Map<string, ActiveVerdict>;
  changes: Map<string, number[]>;
  baselines: Map<string, Record<string, number>>;
}

export const newEngineState = (startedAt = 0): EngineState => ({
  startedAt,
  devices: new Map(),
  rules: new Map(),
  active: new Map(),
  changes: new Map(),
  baselines: new Map(),
});

export const ruleKey = (deviceId: string, ruleId: string) => `${deviceId}/${ruleId}`;

export function compileRules(devices: DeviceRules[]): RuleSet {
  const out = new Map<string, CompiledDevice>();
  for (const d of devices) {
    const rules = d.rules.filter((r) => r.enabled).map((def) => ({ impl: buildRule(def), signature: JSON.stringify(def) }));
    const byMetric = new Map<string, CompiledRule[]>();
    const everyReading: CompiledRule[] = [];
    for (const r of rules) {
      if (!r.impl.onReading) continue;
      if (r.impl.triggers === '*') everyReading.push(r);
      else for (const m of r.impl.triggers) byMetric.set(m, [...(byMetric.get(m) ?? []), r]);
    }
    out.set(d.deviceId, {
      enterpriseId: d.enterpriseId,
      deviceId: d.deviceId,
      rules,
      byMetric,
      everyReading,
      timed: rules.filter((r) => r.impl.onTime),
      linked: rules.filter((r) => r.impl.onLink),
      ranges: d.ranges ?? {},
      reportIntervalS: d.reportIntervalS ?? 60,
      flapping: d.flapping ?? DEFAULT_FLAPPING,
    });
  }
  return { devices: out };
}

function runtime(state: EngineState, deviceId: string): DeviceRuntime {
  let rt = state.devices.get(deviceId);
  if (!rt) state.devices.set(deviceId, (rt = { latest: {}, latestTs: {}, latestAt: {}, quality: {}, link: 'unknown', lastHeard: state.startedAt }));
  return rt;
}

function view(device: CompiledDevice, rt: DeviceRuntime, state: EngineState): DeviceView {
  return {
    enterpriseId: device.enterpriseId,
    deviceId: device.deviceId,
    latest: rt.latest,
    latestAt: rt.latestAt,
    quality: rt.quality,
    link: rt.link,
    lastHeard: rt.lastHeard,
    reportIntervalS: device.reportIntervalS,
    ranges: device.ranges,
    baselines: state.baselines.get(device.deviceId) ?? {},
  };
}

/** A reading, received at `now` (its own `ts` may be older: a flushed buffer). */
export function evaluate(set: RuleSet, state: EngineState, reading: Reading, now: number = reading.ts): Outcome[] {
  const device = set.devices.get(reading.deviceId);
  if (!device) return [];
  const rt = runtime(state, reading.deviceId);
  for (const [m, v] of Object.entries(reading.values)) {
    // a late (buffered) reading must not overwrite a newer value
    if (reading.ts >= (rt.latestTs[m] ?? -Infinity)) {
      rt.latest[m] = v;
      rt.latestTs[m] = reading.ts;
      rt.latestAt[m] = now;
    }
    if (!reading.quality?.[m]) delete rt.quality[m];
  }
  for (const [m, q] of Object.entries(reading.quality ?? {})) rt.quality[m] = q;
  rt.lastHeard = now;
  if (rt.link === 'offline') rt.link = 'online';

  const todo = new Set<CompiledRule>(device.everyReading);
  for (const m of Object.keys(reading.values)) for (const r of device.byMetric.get(m) ?? []) todo.add(r);
  for (const m of Object.keys(reading.quality ?? {})) for (const r of device.byMetric.get(m) ?? []) todo.add(r);
  const outcomes: Outcome[] = [];
  const v = view(device, rt, state);
  for (const r of todo) {
    const [s, verdicts] = r.impl.onReading!(stateOf(state, device, r, now), reading, v, now);
    state.rules.set(ruleKey(device.deviceId, r.impl.id), { s, signature: r.signature });
    for (const verdict of verdicts) apply(state, device, r.impl, verdict, reading.ts, outcomes);
  }
  return outcomes;
}

/** Time passing: durations, deadlines, silence, and flapping alerts that have settled. */
export function tick(set: RuleSet, state: EngineState, now: number): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const device of set.devices.values()) {
    if (device.timed.length) {
      const v = view(device, runtime(state, device.deviceId), state);
      for (const r of device.timed) {
        const before = stateOf(state, device, r, now);
        const [s, verdicts] = r.impl.onTime!(before, now, v);
        if (s !== before) state.rules.set(ruleKey(device.deviceId, r.impl.id), { s, signature: r.signature });
        for (const verdict of verdicts) apply(state, device, r.impl, verdict, now, outcomes);
      }
    }
  }
  for (const [key, a] of state.active) {
    if (a.heldClear === null) continue;
    const deviceId = key.slice(0, key.indexOf('/'));
    const device = set.devices.get(deviceId);
    if (!device || !clearIsDue(a.heldClear, now, device.flapping)) continue;
    state.active.delete(key);
    outcomes.push({ ...outcomeBase(device, key, a), change: 'clear', severity: null, at: now, flapping: false, message: '报警已稳定消除 / condition has stayed clear' });
  }
  return outcomes;
}

/** The device said online or offline on its status topic (or its last will did). */
export function linkChanged(set: RuleSet, state: EngineState, deviceId: string, link: LinkEvent, at: number): Outcome[] {
  const device = set.devices.get(deviceId);
  if (!device) return [];
  const rt = runtime(state, deviceId);
  rt.link = link;
  rt.lastHeard = at;
  const outcomes: Outcome[] = [];
  const v = view(device, rt, state);
  for (const r of device.linked) {
    const [s, verdicts] = r.impl.onLink!(stateOf(state, device, r, at), link, at, v);
    state.rules.set(ruleKey(deviceId, r.impl.id), { s, signature: r.signature });
    for (const verdict of verdicts) apply(state, device, r.impl, verdict, at, outcomes);
  }
  return outcomes;
}

export function setBaseline(state: EngineState, deviceId: string, metric: string, value: number) {
  state.baselines.set(deviceId, { ...state.baselines.get(deviceId), [metric]: value });
}

/**
 * After a restart, the alerts that were open tell the engine where each rule stood, so a
 * still-high value continues the open alert and the deadband keeps working.
 */
export function seed(set: RuleSet, state: EngineState, key: string, severity: Severity, peak: Value | null, value: Value | null) {
  const [deviceId, ruleId] = key.split('/');
  const r = set.devices.get(deviceId)?.rules.find((x) => x.impl.id === ruleId);
  if (!r) return;
  state.active.set(key, { severity, peak, value, flapping: false, heldClear: null });
  if (r.impl.seed) state.rules.set(ruleKey(deviceId, ruleId), { s: r.impl.seed(severity, peak), signature: r.signature });
}

/** An alert closed by a person while its condition still holds: the rule starts afresh. */
export function forget(state: EngineState, key: string) {
  state.active.delete(key);
  state.changes.delete(key);
  const [deviceId, ruleId] = key.split('/');
  state.rules.delete(ruleKey(deviceId, ruleId));
}

/**
 * A new rule set takes over: rules that are gone or whose definition changed lose their state,
 * and their active verdicts clear; everything else carries on as it was.
 */
export function reconcile(next: RuleSet, state: EngineState, now: number): Outcome[] {
  const live = new Map<string, string>();
  for (const device of next.devices.values()) for (const r of device.rules) live.set(ruleKey(device.deviceId, r.impl.id), r.signature);
  const dropped = new Set<string>();
  for (const [key, st] of state.rules) {
    if (live.get(key) === st.signature) continue;
    state.rules.delete(key);
    dropped.add(key);
  }
  const outcomes: Outcome[] = [];
  for (const [key, a] of state.active) {
    const [deviceId, ruleId] = key.split('/');
    const rk = ruleKey(deviceId, ruleId);
    if (live.has(rk) && !dropped.has(rk)) continue;
    state.active.delete(key);
    const device = next.devices.get(deviceId);
    if (device) outcomes.push({ ...outcomeBase(device, key, a), change: 'clear', severity: null, at: now, flapping: false, message: '规则已修改或删除 / the rule was changed or removed' });
  }
  return outcomes;
}

function stateOf(state: EngineState, device: CompiledDevice, r: CompiledRule, now: number): unknown {
  const key = ruleKey(device.deviceId, r.impl.id);
  const st = state.rules.get(key);
  if (st && st.signature === r.signature) return st.s;
  const s = r.impl.init(now);
  state.rules.set(key, { s, signature: r.signature });
  return s;
}

function outcomeBase(device: CompiledDevice, key: string, a: { peak: Value | null; value: Value | null }) {
  const parts = key.split('/');
  return {
    key,
    ruleId: parts[1],
    ruleKind: device.rules.find((r) => r.impl.id === parts[1])?.impl.kind ?? 'unknown',
    enterpriseId: device.enterpriseId,
    deviceId: device.deviceId,
    metric: parts[2] ?? device.rules.find((r) => r.impl.id === parts[1])?.impl.metric ?? '',
    value: a.value,
    peak: a.peak,
    threshold: null,
  };
}

/** Compare a verdict with what is active and say what changed. */
function apply(state: EngineState, device: CompiledDevice, impl: RuleImpl, v: Verdict, at: number, out: Outcome[]) {
  const key = impl.perMetric ? `${device.deviceId}/${impl.id}/${v.metric}` : `${device.deviceId}/${impl.id}`;
  const metric = impl.perMetric ? v.metric : impl.metric;
  const prev = state.active.get(key);
  // switches are evaluated as 0/1 but reported as the booleans the device sent
  const asSent = (x: Value | null | undefined): Value | null => (x === undefined ? null : metricNames(metric).isSwitch && typeof x === 'number' ? x === 1 : x);
  const value = asSent(v.value);
  const base = { key, ruleId: impl.id, ruleKind: impl.kind, enterpriseId: device.enterpriseId, deviceId: device.deviceId, metric, threshold: v.threshold, at, message: v.message };

  if (v.severity === null) {
    if (!prev || prev.heldClear !== null) return;
    const { history, flapping } = noteChange(state.changes.get(key), at, device.flapping);
    state.changes.set(key, history);
    if (flapping) {
      // hold the clear: the alert stays open, marked flapping, until it settles
      state.active.set(key, { ...prev, flapping: true, heldClear: at });
      if (!prev.flapping) out.push({ ...base, change: 'update', severity: prev.severity, value, peak: prev.peak, flapping: true, message: `报警频繁跳变 / alert is flapping: ${v.message}` });
      return;
    }
    state.active.delete(key);
    out.push({ ...base, change: 'clear', severity: null, value, peak: prev.peak, flapping: false });
    return;
  }
  const peak = v.peak !== undefined ? asSent(v.peak) : (prev?.peak ?? value);
  if (!prev) {
    const { history } = noteChange(state.changes.get(key), at, device.flapping);
    state.changes.set(key, history);
    state.active.set(key, { severity: v.severity, peak, value, flapping: false, heldClear: null });
    out.push({ ...base, change: 'raise', severity: v.severity, value, peak, flapping: false });
    return;
  }
  const resumed = prev.heldClear !== null;
  if (resumed) state.changes.set(key, noteChange(state.changes.get(key), at, device.flapping).history);
  if (prev.severity === v.severity && prev.peak === peak && !resumed) return;
  state.active.set(key, { severity: v.severity, peak, value, flapping: prev.flapping, heldClear: null });
  if (prev.severity !== v.severity || prev.peak !== peak) out.push({ ...base, change: 'update', severity: v.severity, value, peak, flapping: prev.flapping });
}
