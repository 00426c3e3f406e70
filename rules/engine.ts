import { INDICATORS, METRICS } from '../domain/indicators.ts';
import { clearIsDue, DEFAULT_FLAPPING, noteChange } from './flapping.ts';
import type { DeviceView, LinkEvent, RuleImpl, Verdict, Verdicts } from './kind.ts';
import { arrivedAt, keep, latestData, noValues, valueAt, valuesFrom, type LatestData, type LatestValues, type Slots } from './latest-values.ts';
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
   * the point in its key, `${deviceId}/${ruleId}/${pointId}`, for the instance on a point with an
   * id of its own; null for the plain `${deviceId}/${ruleId}`: the key of its state and its alert
   */
  keyPoint: string | null;
  /** its place in the device's rules, and so in the device's rule states */
  index: number;
  /** the point this instance judges, for rules written for a metric; null for the device's rules */
  pointId: string | null;
  /** triggered by more than one metric: one reading may reach it twice */
  multi: boolean;
}

/**
 * A device's rules as compiled, with nothing of the device in them: one for every device with the
 * same rules and points (a template over a fleet), so at ten thousand devices the rules' code and
 * constants stay in cache and only each device's own state is a memory load away.
 */
interface Layout {
  rules: CompiledRule[];
  byMetric: Map<string, CompiledRule[]>;
  everyReading: CompiledRule[];
  timed: CompiledRule[];
  linked: CompiledRule[];
  /** what each value key (point id) is */
  points: RuleContext;
  /** the points the rules read: where each one's latest value is kept */
  slots: Slots;
  /** a value key's slot and the rules it triggers, in one lookup per value of a reading */
  byKey: Map<string, KeyUse>;
}

/** What a reading's value under one key does: kept in a slot (-1: none), runs these rules. */
interface KeyUse {
  slot: number;
  rules: CompiledRule[];
}

/** Compiled once, never changed while running: what changes lives in the EngineState. */
export interface CompiledDevice {
  enterpriseId: string;
  deviceId: string;
  layout: Layout;
  /** null: the device sets no ranges of its own (nearly every device), and a rule looks up nothing */
  ranges: Record<string, readonly [number, number]> | null;
  reportIntervalS: number;
  flapping: FlappingConfig;
}

/** The key of a rule instance on a device: of its state, and of its alert. */
const keyOf = (device: CompiledDevice, r: CompiledRule) => (r.keyPoint === null ? ruleKey(device.deviceId, r.impl.id) : ruleKey(device.deviceId, r.impl.id, r.keyPoint));

export interface RuleSet {
  devices: Map<string, CompiledDevice>;
}

interface DeviceRuntime {
  enterpriseId: string;
  /** what rules read, kept as one object and updated in place (made at the first look) */
  view: DeviceView | null;
  /** the latest value of each point its rules read, by the slots of its layout */
  values: LatestValues;
  /** values taken from a snapshot, kept once the device's layout is known */
  importedValues: LatestData | null;
  quality: Record<string, Quality>;
  link: 'online' | 'offline' | 'unknown';
  lastHeard: number;
  /**
   * it said `online` and has sent no reading since: another `online` is no sign of life (a
   * device rebooting again and again, or a client that only says online, sends no data: its
   * silence goes on counting from the first)
   */
  onlineWithoutReading: boolean;
  /** the device has reported a quality at some time (so good values must reset it) */
  faulted: boolean;
  /**
   * each rule's state, by its place in `rules`: held bare, so a rule's run reaches its state in
   * one load (at ten thousand devices, every extra object per rule was a cache miss per reading)
   */
  states: unknown[];
  /** the compiled rules `states` is laid out for; another set (a reload) lays it out again */
  rules: CompiledDevice | null;
  /** the set `rules` was found in: a reading of that set's finds its compiled rules here, in one lookup */
  set: RuleSet | null;
  /** states taken from a snapshot, laid out once the device's compiled rules are known */
  imported: (RuleState | null)[] | null;
  /** how many of its keys have an active verdict: none (nearly every device) lets "fine" verdicts pass untouched */
  activeKeys: number;
  /** its rules' keys, made when first needed (by index) */
  keys: string[];
}

/** A rule's state as kept outside the engine: whose it is and for which definition. */
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
  /** active keys of devices the engine has no runtime for yet (restored alerts): counted once it has */
  activeUncounted: Map<string, number>;
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
  devices: new Map(),
  active: new Map(),
  changes: new Map(),
  baselines: new Map(),
  activeUncounted: new Map(),
});


/**
 * The engine state as plain data, to be kept and restored elsewhere (a cluster's partition
 * snapshot): everything the rules remember, without the compiled rules or the world, which the
 * restoring side has of its own. What a rule keeps is data (numbers, arrays, sets, plain objects).
 */
export interface EngineData {
  startedAt: number;
  devices: [string, DeviceData][];
  active: [string, ActiveVerdict][];
  changes: [string, number[]][];
  baselines: [string, Record<string, number>][];
}

/** What a snapshot keeps of a device. */
interface DeviceData extends LatestData {
  enterpriseId: string;
  quality: Record<string, Quality>;
  link: DeviceRuntime['link'];
  lastHeard: number;
  /** absent in snapshots taken before it was kept */
  onlineWithoutReading?: boolean;
  faulted: boolean;
  states: (RuleState | null)[];
}

export function exportState(state: EngineState): EngineData {
  return {
    startedAt: state.startedAt,
    devices: [...state.devices].map(([id, rt]) => {
      const { enterpriseId, quality, link, lastHeard, onlineWithoutReading, faulted } = rt;
      const data: DeviceData = {
        enterpriseId,
        ...(rt.rules ? latestData(rt.rules.layout.slots, rt.values) : (rt.importedValues ?? { latest: bareRecord(), latestTs: bareRecord(), latestAt: bareRecord() })),
        quality,
        link,
        lastHeard,
        onlineWithoutReading,
        faulted,
        states: keptStates(rt),
      };
      return [id, data];
    }),
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
  state.active = new Map(data.active);
  state.changes = new Map(data.changes);
  state.baselines = new Map(data.baselines.map(([id, b]) => [id, Object.assign(bareRecord<number>(), b)]));
  state.devices = new Map();
  for (const [deviceId, d] of data.devices) {
    const quality = Object.assign(bareRecord<Quality>(), d.quality);
    const importedValues = { latest: Object.assign(bareRecord<Value>(), d.latest), latestTs: Object.assign(bareRecord<number>(), d.latestTs), latestAt: Object.assign(bareRecord<number>(), d.latestAt) };
    const { link, lastHeard, faulted, enterpriseId } = d;
    state.devices.set(deviceId, { enterpriseId, view: null, values: new Float64Array(0), importedValues, quality, link, lastHeard, onlineWithoutReading: d.onlineWithoutReading === true, faulted, states: [], rules: null, set: null, imported: d.states, activeKeys: 0, keys: [] });
  }
  state.activeUncounted = new Map();
  for (const key of state.active.keys()) countActive(state, key, 1);
}

/** A device's rule states with whose they are, as a snapshot keeps them. */
function keptStates(rt: DeviceRuntime): (RuleState | null)[] {
  if (!rt.rules) return rt.imported ?? [];
  const device = rt.rules;
  return device.layout.rules.map((r) => (rt.states[r.index] === undefined ? null : { id: keyOf(device, r), signature: r.signature, s: rt.states[r.index] }));
}

/**
 * Lay a device's states out for `device`'s compiled rules: a rule keeps its state when its key and
 * definition are unchanged; a new or changed rule starts afresh.
 */
function layOut(rt: DeviceRuntime, device: CompiledDevice) {
  const old = new Map<string, RuleState>();
  for (const st of keptStates(rt)) if (st) old.set(st.id, st);
  const kept = rt.rules ? latestData(rt.rules.layout.slots, rt.values) : rt.importedValues;
  rt.values = kept ? valuesFrom(device.layout.slots, kept) : noValues(device.layout.slots);
  rt.importedValues = null;
  rt.states = [];
  rt.keys = [];
  rt.imported = null;
  rt.rules = device;
  for (const r of device.layout.rules) {
    const st = old.get(keyOf(device, r));
    if (st && st.signature === r.signature) rt.states[r.index] = st.s;
  }
}

/** What a device's rules read: one object, kept with its runtime and updated in place. */
function viewOf(state: EngineState, rt: DeviceRuntime, deviceId: string): DeviceView {
  const { enterpriseId, quality } = rt;
  return {
    enterpriseId,
    deviceId,
    // the runtime's layout and values may be replaced (a reload): read through it each time
    latest: (key) => valueAt(rt.values, rt.rules?.layout.slots.get(key)),
    arrivedAt: (key) => arrivedAt(rt.values, rt.rules?.layout.slots.get(key)),
    quality,
    link: 'unknown',
    lastHeard: state.startedAt,
    reportIntervalS: 0,
    ranges: null,
    baselines: bareRecord(),
    maintenanceAnnounced: (at) => state.world.maintenanceAnnounced(enterpriseId, deviceId, at),
    suspended: () => state.world.suspended(enterpriseId),
  };
}

export function compileRules(devices: DeviceRules[]): RuleSet {
  const out = new Map<string, CompiledDevice>();
  const layouts = new Map<string, Layout>();
  for (const d of devices) {
    const points = d.points ?? [];
    const defs = d.rules.filter((r) => r.enabled);
    const same = JSON.stringify([defs, points]);
    let layout = layouts.get(same);
    if (!layout) layouts.set(same, (layout = layOutRules(defs, points)));
    out.set(d.deviceId, {
      enterpriseId: d.enterpriseId,
      deviceId: d.deviceId,
      layout,
      ranges: d.ranges && Object.keys(d.ranges).length ? Object.assign(bareRecord<readonly [number, number]>(), d.ranges) : null,
      reportIntervalS: d.reportIntervalS ?? 60,
      flapping: d.flapping ?? DEFAULT_FLAPPING,
    });
  }
  return { devices: out };
}

function layOutRules(defs: RuleDef[], points: PointInfo[]): Layout {
  const rules = instances(defs, points);
  const byMetric = new Map<string, CompiledRule[]>();
  const everyReading: CompiledRule[] = [];
  for (const r of rules) {
    if (!r.impl.onReading) continue;
    if (r.impl.triggers === '*') everyReading.push(r);
    else for (const m of r.impl.triggers) byMetric.set(m, [...(byMetric.get(m) ?? []), r]);
  }
  const slots = new Map<string, number>();
  for (const key of [...points.map((p) => p.id), ...rules.flatMap((r) => (r.impl.triggers === '*' ? [] : r.impl.triggers))]) if (!slots.has(key)) slots.set(key, slots.size);
  const byKey = new Map<string, KeyUse>();
  for (const key of new Set([...slots.keys(), ...byMetric.keys()])) byKey.set(key, { slot: slots.get(key) ?? -1, rules: byMetric.get(key) ?? [] });
  if (rules.length > ranIn.length) ranIn = new Float64Array(rules.length * 2);
  return { rules, byMetric, everyReading, timed: rules.filter((r) => r.impl.onTime), linked: rules.filter((r) => r.impl.onLink), points: pointContext(points), slots, byKey };
}

/**
 * A rule written for a metric runs once per point of it: the threshold of `gas_lel` on a
 * controller with gas-1 and gas-2 is two instances, two states, two alerts. Which metric a rule
 * is "for": the one it judges (threshold, rate, baseline, stuck), or for an interlock the one in
 * its condition that has several points. The device's own rules (offline, gaps, range, fault,
 * maintenance, permissive) run once and see every point.
 */
function instances(defs: RuleDef[], points: PointInfo[]): CompiledRule[] {
  const plain = pointContext(points);
  const out: CompiledRule[] = [];
  for (const def of defs) {
    const metric = judgedMetric(def, plain);
    const only = 'point' in def ? def.point : undefined;
    const place = 'at' in def ? def.at : undefined;
    const targets = metric ? (only !== undefined ? [only] : place !== undefined ? plain.keysAt(metric, place) : plain.keysOf(metric)) : [null];
    const text = JSON.stringify(def);
    for (const pointId of targets) {
      // a point known by its metric keeps the key alerts had before points had ids
      const own = pointId !== null && pointId !== metric;
      const ctx = metric && pointId ? pointContext(points, { metric, point: pointId }) : plain;
      const impl = buildRule(bound(def, ctx), ctx);
      out.push({ impl, signature: text + (own ? `@${pointId}` : ''), keyPoint: own ? pointId : null, index: out.length, pointId, multi: impl.triggers !== '*' && impl.triggers.length > 1 });
    }
  }
  return out;
}

/** The definition with the metrics it names replaced by the points this instance reads. */
function bound(def: RuleDef, ctx: RuleContext): RuleDef {
  if (def.kind === 'threshold' || def.kind === 'rate' || def.kind === 'baseline' || def.kind === 'stuck')
    return { ...def, metric: ctx.keyOf(def.metric), guard: def.guard === undefined ? undefined : ctx.keyOf(def.guard) };
  return def.kind === 'idle' ? { ...def, metric: ctx.keyOf(def.metric) } : def;
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

function runtime(state: EngineState, device: CompiledDevice, set: RuleSet): DeviceRuntime {
  let rt = state.devices.get(device.deviceId);
  if (!rt) {
    const { enterpriseId, deviceId } = device;
    state.devices.set(device.deviceId, (rt = { enterpriseId, view: null, values: noValues(device.layout.slots), importedValues: null, quality: bareRecord<Quality>(), link: 'unknown', lastHeard: state.startedAt, onlineWithoutReading: false, faulted: false, states: [], rules: device, set, imported: null, activeKeys: state.activeUncounted.get(deviceId) ?? 0, keys: [] }));
    state.activeUncounted.delete(deviceId);
  }
  // a new rule set (a reload) or a snapshot taken over since the device was last seen
  if (rt.rules !== device) layOut(rt, device);
  rt.set = set;
  return rt;
}

function view(device: CompiledDevice, rt: DeviceRuntime, state: EngineState): DeviceView {
  const v = (rt.view ??= viewOf(state, rt, device.deviceId));
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
  // the device's runtime names the set its rules came from: one lookup, not two, per reading
  let rt = state.devices.get(reading.deviceId);
  let device: CompiledDevice | undefined;
  if (rt !== undefined && rt.set === set) device = rt.rules!;
  else {
    device = set.devices.get(reading.deviceId);
    if (!device) return NO_OUTCOMES;
    rt = runtime(state, device, set);
  }
  const values = reading.values;
  const quality = reading.quality;
  const byKey = device.layout.byKey;
  // the rules each value triggers, noted as its value is kept: they run once every value is in
  let triggered = 0;
  for (const m in values) {
    // a point no rule reads is not kept; a late (buffered) reading does not overwrite a newer value
    const use = byKey.get(m);
    if (use !== undefined) {
      if (use.slot >= 0) keep(rt.values, use.slot, values[m], reading.ts, now);
      if (use.rules.length) triggeredLists[triggered++] = use.rules;
    }
    // a value sent without a quality is a good one
    if (rt.faulted && !quality?.[m] && m in rt.quality) delete rt.quality[m];
  }
  if (quality) for (const m in quality) (rt.quality[m] = quality[m]), (rt.faulted = true);
  rt.lastHeard = now;
  rt.onlineWithoutReading = false;
  if (rt.link === 'offline') rt.link = 'online';

  // a rule that threw (its error is the caller's) may have left some behind
  if (found.length) found.length = 0;
  const outcomes = found;
  const v = view(device, rt, state);
  const every = device.layout.everyReading;
  for (let i = 0; i < every.length; i++) runRule(state, device, rt, every[i], 0, reading, v, now, outcomes);
  // a rule triggered by two metrics, or by a metric's value and its quality, runs once: only
  // then is the run remembered (most rules have one trigger and most readings no quality)
  const run = ++evaluations;
  const all = quality ? run : 0;
  for (let j = 0; j < triggered; j++) {
    const list = triggeredLists[j];
    for (let i = 0; i < list.length; i++) runRule(state, device, rt, list[i], all || (list[i].multi ? run : 0), reading, v, now, outcomes);
  }
  if (quality)
    for (const m in quality) {
      const list = device.layout.byMetric.get(m);
      if (list) for (let i = 0; i < list.length; i++) runRule(state, device, rt, list[i], run, reading, v, now, outcomes);
    }
  // nearly every reading changes nothing: it gets the one empty answer, not an array of its own
  return found.length ? found.splice(0) : NO_OUTCOMES;
}

/**
 * Scratch of the evaluation running (there is one at a time): the rule lists its values
 * triggered, which of its rules ran (by index, the evaluation's number), its outcomes. Kept here,
 * not per device: at ten thousand devices a per-device array was one more cache miss per reading,
 * and these stay in cache.
 */
const triggeredLists: CompiledRule[][] = [];
/** the outcomes of the evaluation running, handed out in an array of their own only when there are some */
const found: Outcome[] = [];
const NO_OUTCOMES: Outcome[] = Object.freeze([]) as unknown as Outcome[];
let ranIn = new Float64Array(64);
let evaluations = 0;

/**
 * The verdicts of the rule that just ran: one list for the engine, emptied before each rule runs
 * (also after one that threw). Emptied by its count: setting an array's length is a call into the
 * runtime, and nearly every rule run says something.
 */
class VerdictList implements Verdicts {
  items: Verdict[] = [];
  n = 0;
  push(v: Verdict) {
    this.items[this.n++] = v;
  }
}
const verdicts = new VerdictList();
const clearVerdicts = () => {
  verdicts.n = 0;
};

function runRule(state: EngineState, device: CompiledDevice, rt: DeviceRuntime, r: CompiledRule, run: number, reading: Reading, v: DeviceView, now: number, outcomes: Outcome[]) {
  if (run !== 0) {
    if (ranIn[r.index] === run) return;
    ranIn[r.index] = run;
  }
  clearVerdicts();
  rt.states[r.index] = r.impl.onReading!(stateOf(rt, r, now), reading, v, now, verdicts);
  applyAll(state, device, rt, r, reading.ts, outcomes);
}

function applyAll(state: EngineState, device: CompiledDevice, rt: DeviceRuntime, r: CompiledRule, at: number, outcomes: Outcome[]) {
  const { n, items } = verdicts;
  for (let i = 0; i < n; i++) apply(state, device, rt, r, items[i], at, outcomes);
}

/** Time passing: durations, deadlines, silence, and flapping alerts that have settled. */
export function tick(set: RuleSet, state: EngineState, now: number): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const device of set.devices.values()) {
    if (device.layout.timed.length) {
      const rt = runtime(state, device, set);
      const v = view(device, rt, state);
      for (const r of device.layout.timed) {
        clearVerdicts();
        rt.states[r.index] = r.impl.onTime!(stateOf(rt, r, now), now, v, verdicts);
        applyAll(state, device, rt, r, now, outcomes);
      }
    }
  }
  for (const [key, a] of state.active) {
    if (a.heldClear === null) continue;
    const device = set.devices.get(keyParts(key).deviceId);
    if (!device || !clearIsDue(a.heldClear, now, device.flapping)) continue;
    deleteActive(state, key);
    outcomes.push({ ...outcomeBase(device, key, a), change: 'clear', severity: null, at: now, flapping: false, message: '报警已稳定消除 / condition has stayed clear' });
  }
  return outcomes;
}

/** The device said online or offline on its status topic (or its last will did). */
export function linkChanged(set: RuleSet, state: EngineState, deviceId: string, link: LinkEvent, at: number): Outcome[] {
  const device = set.devices.get(deviceId);
  if (!device) return [];
  const rt = runtime(state, device, set);
  rt.link = link;
  // a word from a device that said online and sent nothing since is no sign of life: in a reboot
  // loop its last will and its next `online` would otherwise each start its silence again
  if (!rt.onlineWithoutReading) rt.lastHeard = at;
  if (link === 'online') rt.onlineWithoutReading = true;
  const outcomes: Outcome[] = [];
  const v = view(device, rt, state);
  for (const r of device.layout.linked) {
    clearVerdicts();
    rt.states[r.index] = r.impl.onLink!(stateOf(rt, r, at), link, at, v, verdicts);
    applyAll(state, device, rt, r, at, outcomes);
  }
  return outcomes;
}

/**
 * After a restart: a point's last stored value, so a rule that reads it (a guard such as a casting
 * run, an interlock's condition) knows it before the device sends it again. Without it, an alarm
 * still open and still true under a guard was cleared by the first reading after the restart,
 * because the guard was not known to hold. A newer value the engine already has stays.
 */
export function rememberValue(set: RuleSet, state: EngineState, deviceId: string, key: string, value: unknown, ts: number) {
  const device = set.devices.get(deviceId);
  const slot = device?.layout.slots.get(key);
  if (!device || slot === undefined || !Number.isFinite(ts)) return;
  // a store may keep a switch as 1 or 0
  const isSwitch = device.layout.points.names(key).isSwitch;
  const sent = typeof value === 'boolean' ? value : typeof value === 'number' && Number.isFinite(value) ? (isSwitch ? value === 1 : value) : undefined;
  if (sent !== undefined) keep(runtime(state, device, set).values, slot, sent, ts, ts);
}

export function setBaseline(state: EngineState, deviceId: string, metric: string, value: number) {
  state.baselines.set(deviceId, Object.assign(bareRecord<number>(), state.baselines.get(deviceId), { [metric]: value }));
}

/**
 * After a restart, the alerts that were open tell the engine where each rule stood, so a
 * still-high value continues the open alert and the deadband keeps working. `at`: when they are
 * restored; `flapping`: the alert was held open for flapping.
 */
export function seed(set: RuleSet, state: EngineState, key: string, severity: Severity, peak: Value | null, value: Value | null, at = state.startedAt, flapping = false) {
  const { deviceId, metric: point } = keyParts(key);
  const device = set.devices.get(deviceId);
  const r = device && ruleOf(device, key);
  if (!device || !r) return;
  const rt = runtime(state, device, set);
  setActive(state, key, { signature: r.signature, severity, peak, value, flapping, heldClear: null });
  // an alert held open for flapping stays held across a restart: its next clear is held as if
  // the changes that made it flap had just been seen, instead of clearing (and alarming again)
  if (flapping) state.changes.set(key, Array.from({ length: Math.max(0, device.flapping.changes - 1) }, () => at));
  if (r.impl.seed) rt.states[r.index] = r.impl.seed(severity, peak, r.impl.perMetric && point !== undefined ? { key: point, state: rt.states[r.index] } : undefined, at);
}

/** The rule instance an alert key belongs to: the instance with that key, or the per-point rule. */
function ruleOf(device: CompiledDevice, key: string): CompiledRule | undefined {
  const exact = device.layout.rules.find((r) => keyOf(device, r) === key);
  if (exact) return exact;
  const { ruleId } = keyParts(key);
  return device.layout.rules.find((r) => r.impl.perMetric && r.impl.id === ruleId);
}

/** An alert closed by a person while its condition still holds: the rule starts afresh. */
export function forget(state: EngineState, key: string) {
  deleteActive(state, key);
  state.changes.delete(key);
  const { deviceId, ruleId } = keyParts(key);
  const rt = state.devices.get(deviceId);
  if (!rt) return;
  if (rt.rules) {
    const r = ruleOf(rt.rules, key);
    if (r) rt.states[r.index] = undefined;
    return;
  }
  // taken from a snapshot and not laid out yet: the instance's own state, else (a per-point
  // rule's key) the rule's
  const own = rt.imported?.findIndex((st) => st?.id === key) ?? -1;
  const i = own >= 0 ? own : (rt.imported?.findIndex((st) => st?.id === ruleKey(deviceId, ruleId)) ?? -1);
  if (i >= 0) rt.imported![i] = null;
}

/** What an alarm clears with when its device left the registry, or its enterprise */
export const DEVICE_GONE = '设备已不在登记中 / the device is no longer in the registry';
export const DEVICE_MOVED = '设备已移至其他企业 / the device moved to another enterprise';

/**
 * A new rule set takes over: rules that are gone or whose definition changed lose their state,
 * and their active verdicts clear; everything else carries on as it was. A device gone from the
 * registry, or now another enterprise's (`previous`: the set before, which knew it), has its
 * active verdicts cleared too, as its enterprise's, saying so: they stayed active, no reading
 * could clear them, and a device later under its id, another enterprise's, cleared and raised
 * that enterprise's alarms.
 */
export function reconcile(next: RuleSet, state: EngineState, now: number, previous?: RuleSet): Outcome[] {
  const outcomes: Outcome[] = [];
  for (const [key, a] of state.active) {
    const { deviceId } = keyParts(key);
    const device = next.devices.get(deviceId);
    const was = previous?.devices.get(deviceId);
    // a device another enterprise's now (moved in the file) is another device: its alarms were the first one's
    const moved = device !== undefined && was !== undefined && was.enterpriseId !== device.enterpriseId;
    const rule = device && !moved ? ruleOf(device, key) : undefined;
    if (rule && rule.signature === a.signature) continue;
    deleteActive(state, key);
    if (device && !moved) outcomes.push({ ...outcomeBase(device, key, a), change: 'clear', severity: null, at: now, flapping: false, message: '规则已修改或删除 / the rule was changed or removed' });
    else if (was) outcomes.push({ ...outcomeBase(was, key, a), change: 'clear', severity: null, at: now, flapping: false, message: moved ? DEVICE_MOVED : DEVICE_GONE });
  }
  for (const [deviceId, rt] of state.devices) {
    const device = next.devices.get(deviceId);
    // moved: it starts afresh for its new enterprise, as a device the registry gained (below)
    if (device && device.enterpriseId !== rt.enterpriseId) state.devices.delete(deviceId);
    else if (device) {
      // the same compiled rules (the device unchanged in the registry) are laid out already
      if (rt.rules !== device || rt.imported || rt.importedValues) layOut(rt, device);
      rt.set = next;
    } else (rt.states = []), (rt.rules = null), (rt.set = null), (rt.imported = null);
  }
  // a device the registry gained has been silent since now, not since the service started (an
  // outside probe: a device registered after 14 minutes was "offline, no reading for 848 s" at once)
  for (const device of next.devices.values()) if (!state.devices.has(device.deviceId)) runtime(state, device, next).lastHeard = now;
  return outcomes;
}

/** The rule's state, made fresh when the rule is new or its definition changed (laid out afresh). */
function stateOf(rt: DeviceRuntime, r: CompiledRule, now: number): unknown {
  const st = rt.states[r.index];
  return st !== undefined ? st : (rt.states[r.index] = r.impl.init(now));
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
  return { metric: device.layout.points.names(key).metric, pointId: id, pointName: device.layout.points.names(id).label };
}

/** Compare a verdict with what is active and say what changed. */
function apply(state: EngineState, device: CompiledDevice, rt: DeviceRuntime, r: CompiledRule, v: Verdict, at: number, out: Outcome[]) {
  // the common case: nothing holds on a device with nothing held, decided without a key
  if (v.severity === null && rt.activeKeys === 0) return;
  const impl = r.impl;
  const key = impl.perMetric ? ruleKey(device.deviceId, impl.id, v.metric) : (rt.keys[r.index] ??= keyOf(device, r));
  const prev = state.active.get(key);
  if (v.severity === null && (!prev || prev.heldClear !== null)) return;
  const pointKey = impl.perMetric ? v.metric : impl.metric;
  const isSwitch = SWITCHES.has(metricOf(device, pointKey));
  // switches are evaluated as 0/1 but reported as the booleans the device sent
  const value = asSent(v.value, isSwitch);
  // what an outcome says of the change (`changed`) is built only when there is one: a device with
  // an alert open hears "still so" from its rules on every reading

  if (v.severity === null) {
    const { history, flapping } = noteChange(state.changes.get(key), at, device.flapping);
    state.changes.set(key, history);
    if (flapping) {
      // hold the clear: the alert stays open, marked flapping, until it settles
      setActive(state, key, { ...prev!, flapping: true, heldClear: at });
      // the clear's own words ("back to normal") would misdescribe an alert held open
      if (!prev!.flapping) out.push({ ...changed(device, r, key, pointKey, v, at), change: 'update', severity: prev!.severity, value, peak: prev!.peak, flapping: true, message: '报警频繁跳变，保持打开直至稳定 / alert is flapping: held open until it settles' });
      return;
    }
    deleteActive(state, key);
    out.push({ ...changed(device, r, key, pointKey, v, at), change: 'clear', severity: null, value, peak: prev!.peak, flapping: false, message: text(v.message) });
    return;
  }
  const peak = v.peak !== undefined ? asSent(v.peak, isSwitch) : (prev?.peak ?? value);
  if (!prev) {
    state.changes.set(key, noteChange(state.changes.get(key), at, device.flapping).history);
    setActive(state, key, { signature: r.signature, severity: v.severity, peak, value, flapping: false, heldClear: null });
    out.push({ ...changed(device, r, key, pointKey, v, at), change: 'raise', severity: v.severity, value, peak, flapping: false, message: text(v.message) });
    return;
  }
  const resumed = prev.heldClear !== null;
  if (resumed) state.changes.set(key, noteChange(state.changes.get(key), at, device.flapping).history);
  if (prev.severity === v.severity && prev.peak === peak && !resumed) return;
  setActive(state, key, { signature: r.signature, severity: v.severity, peak, value, flapping: prev.flapping, heldClear: null });
  // back in alarm after a held clear: the alert says the condition again
  if (prev.severity !== v.severity || prev.peak !== peak || resumed) out.push({ ...changed(device, r, key, pointKey, v, at), change: 'update', severity: v.severity, value, peak, flapping: prev.flapping, message: text(v.message) });
}

/** What every outcome of a verdict says: whose alert, which point, against what threshold, when. */
function changed(device: CompiledDevice, r: CompiledRule, key: string, pointKey: string, v: Verdict, at: number) {
  const impl = r.impl;
  return { key, ruleId: impl.id, ruleKind: impl.kind, enterpriseId: device.enterpriseId, deviceId: device.deviceId, ...pointOf(device, pointKey, impl.perMetric ? null : r.pointId), threshold: v.threshold, at };
}

/** The catalogue metric of a value key the rules name ('' and '_device' for the device itself). */
function metricOf(device: CompiledDevice, key: string): string {
  return key === '' || key === '_device' ? key : device.layout.points.names(key).metric;
}

/** Set a key's active verdict, counted on its device (apply's fast path reads the count). */
function setActive(state: EngineState, key: string, a: ActiveVerdict) {
  if (!state.active.has(key)) countActive(state, key, 1);
  state.active.set(key, a);
}

function deleteActive(state: EngineState, key: string) {
  if (state.active.delete(key)) countActive(state, key, -1);
}

function countActive(state: EngineState, key: string, by: 1 | -1) {
  const { deviceId } = keyParts(key);
  const rt = state.devices.get(deviceId);
  if (rt) rt.activeKeys += by;
  else state.activeUncounted.set(deviceId, (state.activeUncounted.get(deviceId) ?? 0) + by);
}

const SWITCHES = new Set<string>(METRICS.filter((m) => INDICATORS[m].type === 'boolean'));

function asSent(x: Value | null | undefined, isSwitch: boolean): Value | null {
  if (x === undefined || x === null) return null;
  return isSwitch && typeof x === 'number' ? x === 1 : x;
}
