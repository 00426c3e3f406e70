import { INDICATORS, METRICS } from '../domain/indicators.ts';
import { clearIsDue, DEFAULT_FLAPPING, noteChange } from './flapping.ts';
import type { DeviceView, LinkEvent, RuleImpl, Verdict } from './kind.ts';
import { buildRule } from './kinds.ts';
import { keyParts, ruleKey } from './keys.ts';
import { compileCondition } from './expression.ts';
import { pointContext, type PointInfo, type RuleContext } from './points.ts';
import type { FlappingConfig, RuleDef } from './schema.ts';
import { bareRecord, type Outcome, type Quality, type Reading, type Severity, type Value } from '../domain/types.ts';

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
  /** the device's points (id, metric, name); without them every point is known by its metric */
  points?: PointInfo[];
  /** point id → physical range of the point */
  ranges?: Record<string, readonly [number, number]>;
  reportIntervalS?: number;
  flapping?: FlappingConfig;
}

interface CompiledRule {
  impl: RuleImpl;
  /** the definition as text: a changed definition means fresh state */
  signature: string;
  /**
   * `${deviceId}/${ruleId}`, or `${deviceId}/${ruleId}/${pointId}` for the instance on a point
   * with an id of its own: the key of its state and of its alert
   */
  key: string;
  /** its place in the device's rules, and so in the device's rule states */
  index: number;
  /** the point this instance judges, for rules written for a metric; null for the device's rules */
  pointId: string | null;
}

/** Compiled once, never changed while running: what changes lives in the EngineState. */
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
  /** what each value key (point id) is */
  points: RuleContext;
}

export interface RuleSet {
  devices: Map<string, CompiledDevice>;
}

interface DeviceRuntime {
  enterpriseId: string;
  /** what rules read, kept as one object and updated in place */
  view: DeviceView;
  latest: Record<string, Value>;
  /** the device's own time of each latest value */
  latestTs: Record<string, number>;
  /** when each latest value arrived */
  latestAt: Record<string, number>;
  quality: Record<string, Quality>;
  link: 'online' | 'offline' | 'unknown';
  lastHeard: number;
  /** the device has reported a quality at some time (so good values must reset it) */
  faulted: boolean;
  /** each rule's state, in the order of the device's compiled rules */
  states: RuleState[];
  /** per rule (by index): the evaluation that last ran it, so a rule triggered by two metrics of one reading runs once */
  lastRun: number[];
}

interface RuleState {
  id: string;
  signature: string;
  s: unknown;
}

interface ActiveVerdict {
  /** the definition of the rule that raised it: a changed rule clears it */
  signature: string;
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
  active: Map<string, ActiveVerdict>;
  changes: Map<string, number[]>;
  baselines: Map<string, Record<string, number>>;
  /** evaluations so far: the number of the one running */
  runs: number;
  /** what the engine is told of the world outside the readings */
  world: World;
}

/** Facts kept outside the engine that rules read: announced maintenance, suspension orders. */
export interface World {
  /** does a maintenance window or silence cover the device then */
  maintenanceAnnounced(enterpriseId: string, deviceId: string, at: number): boolean;
  /** is the enterprise under a suspension order */
  suspended(enterpriseId: string): boolean;
}

const NOTHING_KNOWN: World = { maintenanceAnnounced: () => false, suspended: () => false };

export const newEngineState = (startedAt = 0, world: Partial<World> = {}): EngineState => ({
  startedAt,
  world: { ...NOTHING_KNOWN, ...world },
  runs: 0,
  devices: new Map(),
  active: new Map(),
  changes: new Map(),
  baselines: new Map(),
});


/**
 * The engine state as plain data, to be kept and restored elsewhere (a cluster's partition
 * snapshot): everything the rules remember, without the compiled rules or the world, which the
 * restoring side has of its own. What a rule keeps is data (numbers, arrays, sets, plain objects).
 */
export interface EngineData {
  startedAt: number;
  runs: number;
  devices: [string, Omit<DeviceRuntime, 'view' | 'lastRun'>][];
  active: [string, ActiveVerdict][];
  changes: [string, number[]][];
  baselines: [string, Record<string, number>][];
}

export function exportState(state: EngineState): EngineData {
  return {
    startedAt: state.startedAt,
    runs: state.runs,
    devices: [...state.devices].map(([id, { view: _view, lastRun: _lastRun, ...rt }]) => [id, rt]),
    active: [...state.active],
    changes: [...state.changes],
    baselines: [...state.baselines],
  };
}

/**
 * Take over the state `data` describes, in place (the world and the views' closures keep pointing
 * at `state`). Values keyed by point names from outside are made bare again: data that went
 * through a serializer comes back with prototypes.
 */
export function importState(state: EngineState, data: EngineData) {
  state.startedAt = data.startedAt;
  state.runs = data.runs;
  state.active = new Map(data.active);
  state.changes = new Map(data.changes);
  state.baselines = new Map(data.baselines.map(([id, b]) => [id, Object.assign(bareRecord<number>(), b)]));
  state.devices = new Map();
  for (const [deviceId, rt] of data.devices) {
    const latest = Object.assign(bareRecord<Value>(), rt.latest), latestAt = Object.assign(bareRecord<number>(), rt.latestAt), quality = Object.assign(bareRecord<Quality>(), rt.quality);
    const view = viewOf(state, rt.enterpriseId, deviceId, latest, latestAt, quality);
    state.devices.set(deviceId, { ...rt, view, latest, latestAt, quality, latestTs: Object.assign(bareRecord<number>(), rt.latestTs), lastRun: [] });
  }
}

/** What a device's rules read: one object, kept with its runtime and updated in place. */
function viewOf(state: EngineState, enterpriseId: string, deviceId: string, latest: Record<string, Value>, latestAt: Record<string, number>, quality: Record<string, Quality>): DeviceView {
  return {
    enterpriseId,
    deviceId,
    latest,
    latestAt,
    quality,
    link: 'unknown',
    lastHeard: state.startedAt,
    reportIntervalS: 0,
    ranges: bareRecord(),
    baselines: bareRecord(),
    maintenanceAnnounced: (at) => state.world.maintenanceAnnounced(enterpriseId, deviceId, at),
    suspended: () => state.world.suspended(enterpriseId),
  };
}

export function compileRules(devices: DeviceRules[]): RuleSet {
  const out = new Map<string, CompiledDevice>();
  for (const d of devices) {
    const points = d.points ?? [];
    const rules = instances(d.deviceId, d.rules.filter((r) => r.enabled), points);
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
      ranges: Object.assign(bareRecord<readonly [number, number]>(), d.ranges),
      reportIntervalS: d.reportIntervalS ?? 60,
      flapping: d.flapping ?? DEFAULT_FLAPPING,
      points: pointContext(points),
    });
  }
  return { devices: out };
}

/**
 * A rule written for a metric runs once per point of it: the threshold of `gas_lel` on a
 * controller with gas-1 and gas-2 is two instances, two states, two alerts. Which metric a rule
 * is "for": the one it judges (threshold, rate, baseline, stuck), or for an interlock the one in
 * its condition that has several points. The device's own rules (offline, gaps, range, fault,
 * maintenance, permissive) run once and see every point.
 */
function instances(deviceId: string, defs: RuleDef[], points: PointInfo[]): CompiledRule[] {
  const plain = pointContext(points);
  const out: CompiledRule[] = [];
  for (const def of defs) {
    const metric = judgedMetric(def, plain);
    const only = 'point' in def ? def.point : undefined;
    const place = 'at' in def ? def.at : undefined;
    const targets = metric ? (only !== undefined ? [only] : place !== undefined ? plain.keysAt(metric, place) : plain.keysOf(metric)) : [null];
    for (const pointId of targets) {
      const ctx = metric && pointId ? pointContext(points, { metric, point: pointId }) : plain;
      const bound =
        def.kind === 'threshold' || def.kind === 'rate' || def.kind === 'baseline' || def.kind === 'stuck'
          ? { ...def, metric: ctx.keyOf(def.metric), guard: def.guard === undefined ? undefined : ctx.keyOf(def.guard) }
          : def.kind === 'idle'
            ? { ...def, metric: ctx.keyOf(def.metric) }
            : def;
      // a point known by its metric keeps the key alerts had before points had ids
      const own = pointId !== null && pointId !== metric;
      out.push({
        impl: buildRule(bound, ctx),
        signature: JSON.stringify(def) + (own ? `@${pointId}` : ''),
        key: own ? ruleKey(deviceId, def.id, pointId) : ruleKey(deviceId, def.id),
        index: out.length,
        pointId,
      });
    }
  }
  return out;
}

function judgedMetric(def: RuleDef, points: RuleContext): string | null {
  switch (def.kind) {
    case 'threshold':
    case 'rate':
    case 'baseline':
    case 'stuck':
    case 'idle':
      return def.metric;
    case 'interlock': {
      const names = compileCondition(def.when).names;
      // at a place: the metric of the condition measured there; else the one with several points
      return (def.at !== undefined ? names[0] : names.find((m) => points.keysOf(m).length > 1)) ?? null;
    }
    default:
      return null;
  }
}

function runtime(state: EngineState, device: CompiledDevice): DeviceRuntime {
  let rt = state.devices.get(device.deviceId);
  if (!rt) {
    const latest = bareRecord<Value>(), latestAt = bareRecord<number>(), quality = bareRecord<Quality>();
    const { enterpriseId, deviceId } = device;
    const view = viewOf(state, enterpriseId, deviceId, latest, latestAt, quality);
    state.devices.set(device.deviceId, (rt = { enterpriseId, view, latest, latestTs: bareRecord<number>(), latestAt, quality, link: 'unknown', lastHeard: state.startedAt, faulted: false, states: [], lastRun: [] }));
  }
  return rt;
}

function view(device: CompiledDevice, rt: DeviceRuntime, state: EngineState): DeviceView {
  const v = rt.view;
  v.link = rt.link;
  v.lastHeard = rt.lastHeard;
  // the rule set may have been replaced (registry reload) since the last look
  v.reportIntervalS = device.reportIntervalS;
  v.ranges = device.ranges;
  v.baselines = state.baselines.get(device.deviceId) ?? NO_BASELINES;
  return v;
}

const NO_BASELINES: Record<string, number> = bareRecord();

/** A reading, received at `now` (its own `ts` may be older: a flushed buffer). */
export function evaluate(set: RuleSet, state: EngineState, reading: Reading, now: number = reading.ts): Outcome[] {
  const device = set.devices.get(reading.deviceId);
  if (!device) return [];
  const rt = runtime(state, device);
  const values = reading.values;
  const quality = reading.quality;
  for (const m in values) {
    // a late (buffered) reading must not overwrite a newer value
    const ts = rt.latestTs[m];
    if (ts === undefined || reading.ts >= ts) {
      rt.latest[m] = values[m];
      rt.latestTs[m] = reading.ts;
      rt.latestAt[m] = now;
    }
    // a value sent without a quality is a good one
    if (rt.faulted && !quality?.[m] && m in rt.quality) delete rt.quality[m];
  }
  if (quality) for (const m in quality) (rt.quality[m] = quality[m]), (rt.faulted = true);
  rt.lastHeard = now;
  if (rt.link === 'offline') rt.link = 'online';

  const outcomes: Outcome[] = [];
  const v = view(device, rt, state);
  const run = ++state.runs;
  const every = device.everyReading;
  for (let i = 0; i < every.length; i++) runRule(state, device, rt, every[i], run, reading, v, now, outcomes);
  for (const m in values) {
    const list = device.byMetric.get(m);
    if (list) for (let i = 0; i < list.length; i++) runRule(state, device, rt, list[i], run, reading, v, now, outcomes);
  }
  if (quality)
    for (const m in quality) {
      const list = device.byMetric.get(m);
      if (list) for (let i = 0; i < list.length; i++) runRule(state, device, rt, list[i], run, reading, v, now, outcomes);
    }
  return outcomes;
}

/** The verdicts of the rule that just ran: one list for the engine, emptied before each rule runs (also after one that threw). */
const verdicts: Verdict[] = [];

function runRule(state: EngineState, device: CompiledDevice, rt: DeviceRuntime, r: CompiledRule, run: number, reading: Reading, v: DeviceView, now: number, outcomes: Outcome[]) {
  // a rule triggered by two metrics of one reading runs once
  if (rt.lastRun[r.index] === run) return;
  rt.lastRun[r.index] = run;
  const held = stateOf(rt, r, now);
  verdicts.length = 0;
  held.s = r.impl.onReading!(held.s, reading, v, now, verdicts);
  applyAll(state, device, r, reading.ts, outcomes);
}

function applyAll(state: EngineState, device: CompiledDevice, r: CompiledRule, at: number, outcomes: Outcome[]) {
  const n = verdicts.length;
  for (let i = 0; i < n; i++) apply(state, device, r, verdicts[i], at, outcomes);
}

/** Time passing: durations, deadlines, silence, and flapping alerts that have settled. */
export function tick(set: RuleSet, state: EngineState, now: number): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const device of set.devices.values()) {
    if (device.timed.length) {
      const rt = runtime(state, device);
      const v = view(device, rt, state);
      for (const r of device.timed) {
        const held = stateOf(rt, r, now);
        verdicts.length = 0;
        held.s = r.impl.onTime!(held.s, now, v, verdicts);
        applyAll(state, device, r, now, outcomes);
      }
    }
  }
  for (const [key, a] of state.active) {
    if (a.heldClear === null) continue;
    const device = set.devices.get(keyParts(key).deviceId);
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
  const rt = runtime(state, device);
  rt.link = link;
  rt.lastHeard = at;
  const outcomes: Outcome[] = [];
  const v = view(device, rt, state);
  for (const r of device.linked) {
    const held = stateOf(rt, r, at);
    verdicts.length = 0;
    held.s = r.impl.onLink!(held.s, link, at, v, verdicts);
    applyAll(state, device, r, at, outcomes);
  }
  return outcomes;
}

export function setBaseline(state: EngineState, deviceId: string, metric: string, value: number) {
  state.baselines.set(deviceId, Object.assign(bareRecord<number>(), state.baselines.get(deviceId), { [metric]: value }));
}

/**
 * After a restart, the alerts that were open tell the engine where each rule stood, so a
 * still-high value continues the open alert and the deadband keeps working.
 */
export function seed(set: RuleSet, state: EngineState, key: string, severity: Severity, peak: Value | null, value: Value | null, flapping?: { at: number }) {
  const device = set.devices.get(keyParts(key).deviceId);
  const r = device && ruleOf(device, key);
  if (!device || !r) return;
  state.active.set(key, { signature: r.signature, severity, peak, value, flapping: flapping !== undefined, heldClear: null });
  // an alert held open for flapping stays held across a restart: its next clear is held as if
  // the changes that made it flap had just been seen, instead of clearing (and alarming again)
  if (flapping) state.changes.set(key, Array.from({ length: Math.max(0, device.flapping.changes - 1) }, () => flapping.at));
  if (r.impl.seed) runtime(state, device).states[r.index] = { id: r.key, signature: r.signature, s: r.impl.seed(severity, peak) };
}

/** The rule instance an alert key belongs to: the instance with that key, or the per-point rule. */
function ruleOf(device: CompiledDevice, key: string): CompiledRule | undefined {
  const exact = device.rules.find((r) => r.key === key);
  if (exact) return exact;
  const { ruleId } = keyParts(key);
  return device.rules.find((r) => r.impl.perMetric && r.impl.id === ruleId);
}

/** An alert closed by a person while its condition still holds: the rule starts afresh. */
export function forget(state: EngineState, key: string) {
  state.active.delete(key);
  state.changes.delete(key);
  const { deviceId, ruleId } = keyParts(key);
  const rt = state.devices.get(deviceId);
  if (!rt) return;
  // the instance's own state, else (a per-point rule's key) the rule's
  let i = rt.states.findIndex((st) => st?.id === key);
  if (i < 0) i = rt.states.findIndex((st) => st?.id === ruleKey(deviceId, ruleId));
  if (i >= 0) delete rt.states[i];
}

/**
 * A new rule set takes over: rules that are gone or whose definition changed lose their state,
 * and their active verdicts clear; everything else carries on as it was.
 */
export function reconcile(next: RuleSet, state: EngineState, now: number): Outcome[] {
  for (const [deviceId, rt] of state.devices) {
    const device = next.devices.get(deviceId);
    const old = new Map(rt.states.filter(Boolean).map((st) => [st.id, st]));
    rt.states = [];
    if (!device) continue;
    for (const r of device.rules) {
      const st = old.get(r.key);
      if (st && st.signature === r.signature) rt.states[r.index] = st;
    }
  }
  const outcomes: Outcome[] = [];
  for (const [key, a] of state.active) {
    const device = next.devices.get(keyParts(key).deviceId);
    const rule = device && ruleOf(device, key);
    if (rule && rule.signature === a.signature) continue;
    state.active.delete(key);
    if (device) outcomes.push({ ...outcomeBase(device, key, a), change: 'clear', severity: null, at: now, flapping: false, message: '规则已修改或删除 / the rule was changed or removed' });
  }
  return outcomes;
}

/** The rule's state holder, made fresh when the rule is new or its definition changed. */
function stateOf(rt: DeviceRuntime, r: CompiledRule, now: number): RuleState {
  const st = rt.states[r.index];
  if (st !== undefined && st.signature === r.signature) return st;
  const fresh = { id: r.key, signature: r.signature, s: r.impl.init(now) };
  rt.states[r.index] = fresh;
  return fresh;
}

const text = (m: Verdict['message']) => (typeof m === 'function' ? m() : m);

function outcomeBase(device: CompiledDevice, key: string, a: { peak: Value | null; value: Value | null }) {
  const { ruleId, metric: pointKey } = keyParts(key);
  const rule = ruleOf(device, key);
  return {
    key,
    ruleId,
    ruleKind: rule?.impl.kind ?? 'unknown',
    enterpriseId: device.enterpriseId,
    deviceId: device.deviceId,
    ...pointOf(device, rule?.impl.perMetric ? (pointKey ?? '') : (rule?.impl.metric ?? pointKey ?? ''), rule?.pointId ?? pointKey ?? null),
    value: a.value,
    peak: a.peak,
    threshold: null,
  };
}

/**
 * What an outcome says of its point: the catalogue metric (routing, units and texts go by it),
 * and the point itself. `key` is the value key the rule names; `pointId` the instance's point.
 */
function pointOf(device: CompiledDevice, key: string, pointId: string | null): { metric: string; pointId: string | null; pointName: string | null } {
  if (key === '' || key === '_device') return { metric: key, pointId: null, pointName: null };
  const id = pointId ?? key;
  return { metric: device.points.names(key).metric, pointId: id, pointName: device.points.names(id).label };
}

/** Compare a verdict with what is active and say what changed. */
function apply(state: EngineState, device: CompiledDevice, r: CompiledRule, v: Verdict, at: number, out: Outcome[]) {
  const impl = r.impl;
  const key = impl.perMetric ? ruleKey(device.deviceId, impl.id, v.metric) : r.key;
  const prev = state.active.get(key);
  // the common case: nothing held, nothing holds
  if (v.severity === null && (!prev || prev.heldClear !== null)) return;
  const point = impl.perMetric ? pointOf(device, v.metric, null) : pointOf(device, impl.metric, r.pointId);
  const isSwitch = SWITCHES.has(point.metric);
  // switches are evaluated as 0/1 but reported as the booleans the device sent
  const value = asSent(v.value, isSwitch);
  const base = { key, ruleId: impl.id, ruleKind: impl.kind, enterpriseId: device.enterpriseId, deviceId: device.deviceId, ...point, threshold: v.threshold, at };

  if (v.severity === null) {
    const { history, flapping } = noteChange(state.changes.get(key), at, device.flapping);
    state.changes.set(key, history);
    if (flapping) {
      // hold the clear: the alert stays open, marked flapping, until it settles
      state.active.set(key, { ...prev!, flapping: true, heldClear: at });
      // the clear's own words ("back to normal") would misdescribe an alert held open
      if (!prev!.flapping) out.push({ ...base, change: 'update', severity: prev!.severity, value, peak: prev!.peak, flapping: true, message: '报警频繁跳变，保持打开直至稳定 / alert is flapping: held open until it settles' });
      return;
    }
    state.active.delete(key);
    out.push({ ...base, change: 'clear', severity: null, value, peak: prev!.peak, flapping: false, message: text(v.message) });
    return;
  }
  const peak = v.peak !== undefined ? asSent(v.peak, isSwitch) : (prev?.peak ?? value);
  if (!prev) {
    state.changes.set(key, noteChange(state.changes.get(key), at, device.flapping).history);
    state.active.set(key, { signature: r.signature, severity: v.severity, peak, value, flapping: false, heldClear: null });
    out.push({ ...base, change: 'raise', severity: v.severity, value, peak, flapping: false, message: text(v.message) });
    return;
  }
  const resumed = prev.heldClear !== null;
  if (resumed) state.changes.set(key, noteChange(state.changes.get(key), at, device.flapping).history);
  if (prev.severity === v.severity && prev.peak === peak && !resumed) return;
  state.active.set(key, { signature: r.signature, severity: v.severity, peak, value, flapping: prev.flapping, heldClear: null });
  // back in alarm after a held clear: the alert says the condition again
  if (prev.severity !== v.severity || prev.peak !== peak || resumed) out.push({ ...base, change: 'update', severity: v.severity, value, peak, flapping: prev.flapping, message: text(v.message) });
}

const SWITCHES = new Set<string>(METRICS.filter((m) => INDICATORS[m].type === 'boolean'));

function asSent(x: Value | null | undefined, isSwitch: boolean): Value | null {
  if (x === undefined || x === null) return null;
  return isSwitch && typeof x === 'number' ? x === 1 : x;
}
