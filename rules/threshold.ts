import type { ThresholdRuleDef } from './schema.ts';
import { describeMetric, numeric } from './describe.ts';
import { BY_METRIC, type RuleContext, type PointNames } from './points.ts';
import { known, reusableVerdict, type DeviceView, type RuleImpl, type Verdict, type Verdicts } from './kind.ts';
import type { Reading } from '../domain/types.ts';
import { severityRank, type Severity } from '../domain/types.ts';

/**
 * Threshold rule: several levels above and/or below, hysteresis and a minimum duration.
 *
 * - A level is entered when the value reaches its setpoint (>= for above, <= for below): a gas
 *   detector alarms *at* its setpoint (GB/T 50493-2019).
 * - A level is left only when the value is back past the setpoint by more than the deadband.
 * - Raising to a level needs its entry condition to have held for `forS` seconds; falling to a
 *   lower level or clearing is immediate (the deadband is what stops chatter).
 */
export interface Level {
  side: 'above' | 'below';
  severity: Severity;
  value: number;
}

export interface ThresholdState {
  /** index into the compiled levels of the level in force, or -1 */
  active: number;
  /** level index → since when (ms) its entry condition has held without a break */
  since: Record<number, number>;
  /** the worst value seen while active */
  peak: number | null;
  /** how many levels are pending (entered, waiting for forS) */
  pendingCount: number;
  /** the last value evaluated (none: NaN, see `known`) and its time; late (buffered) readings older than it are skipped */
  last: number | null;
  lastTs: number;
}

export interface CompiledThreshold {
  def: ThresholdRuleDef;
  /** sorted least to most severe, so a higher index always wins */
  levels: Level[];
  forMs: number;
}

export function compileThreshold(def: ThresholdRuleDef): CompiledThreshold {
  const levels: Level[] = [
    ...(def.above ?? []).map((l) => ({ side: 'above' as const, ...l })),
    ...(def.below ?? []).map((l) => ({ side: 'below' as const, ...l })),
  ].sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
  return { def, levels, forMs: def.forS * 1000 };
}

export function initialThresholdState(): ThresholdState {
  return { active: -1, since: {}, pendingCount: 0, peak: null, last: NaN, lastTs: -Infinity };
}

const enters = (l: Level, v: number) => (l.side === 'above' ? v >= l.value : v <= l.value);
const stays = (l: Level, v: number, deadband: number) =>
  l.side === 'above' ? v >= l.value - deadband : v <= l.value + deadband;
function entersAny(levels: readonly Level[], v: number): boolean {
  for (let i = 0; i < levels.length; i++) if (enters(levels[i], v)) return true;
  return false;
}
const worse = (side: Level['side'], a: number, b: number) => (side === 'above' ? a > b : a < b);

/** The level the rule should be at after seeing `v` at `ts`, and its new state. */
export function stepThreshold(rule: CompiledThreshold, state: ThresholdState, v: number, ts: number): ThresholdState {
  const { levels, forMs } = rule;
  const current = state.active >= 0 ? levels[state.active] : undefined;
  const since: Record<number, number> = {};
  let held = -1;
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (enters(l, v)) since[i] = state.since[i] ?? ts;
    // a level at or under the one in force, on the same side, is kept while inside the deadband
    if (current && i <= state.active && l.side === current.side && stays(l, v, rule.def.deadband)) held = i;
  }
  let active = held;
  for (let i = levels.length - 1; i > active; i--) {
    if (since[i] !== undefined && ts - since[i] >= forMs) {
      active = i;
      break;
    }
  }
  const side = active >= 0 ? levels[active].side : undefined;
  let peak: number | null = null;
  if (side) {
    const wasSameSide = current?.side === side && state.peak !== null;
    peak = wasSameSide && !worse(side, v, state.peak!) ? state.peak : v;
  }
  return { active, since, pendingCount: Object.keys(since).length, peak, last: v, lastTs: ts };
}

/**
 * The level an alert still open after a restart stands at: of the levels at its severity, the one
 * its worst value is on the side of. A rule may have a level of one severity on each side (a tank
 * too full and too empty, melt too high and too low): taking the last of them put a full tank's
 * alarm on the "too low" level, and the next reading, still too full, cleared it.
 */
function seededLevel(rule: CompiledThreshold, severity: Severity, worst: number | null): number {
  const { levels, def } = rule;
  let found = -1;
  for (let i = 0; i < levels.length; i++) {
    if (levels[i].severity !== severity) continue;
    if (worst !== null && stays(levels[i], worst, def.deadband)) return i;
    found = i;
  }
  return found;
}

/** Time passing with no new reading: a pending level whose duration has now elapsed is raised. */
export function tickThreshold(rule: CompiledThreshold, state: ThresholdState, now: number): ThresholdState {
  for (let i = rule.levels.length - 1; i > state.active; i--) {
    const s = state.since[i];
    if (s !== undefined && now - s >= rule.forMs) return { ...state, active: i, peak: state.peak ?? known(state.last) };
  }
  return state;
}

// --- as a rule kind -------------------------------------------------------------------------

export function thresholdRule(def: ThresholdRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<ThresholdState> {
  const rule = compileThreshold(def);
  const names = ctx.names(def.metric);
  // one verdict for this rule, filled in each time: the level in force decides its words
  let said: Level | undefined;
  const verdict = reusableVerdict(() => rule.def.message ?? describeMetric(names, said ? `${said.side === 'above' ? '≥' : '≤'} ${said.value}` : null, (said ?? rule.levels[0]).value));
  const tell = (s: ThresholdState, out: Verdicts) => {
    said = s.active >= 0 ? rule.levels[s.active] : undefined;
    verdict.severity = said?.severity ?? null;
    verdict.value = known(s.last);
    verdict.peak = s.peak;
    verdict.threshold = said ? said.value : null;
    out.push(verdict);
  };
  const usable = (r: Reading, d: DeviceView): number | undefined => {
    const v = numeric(r.values[def.metric] ?? (def.guard ? d.latest(def.metric) : undefined));
    if (v === undefined) return undefined;
    const q = r.quality?.[def.metric];
    if (q === 'fault' || q === 'maintenance') return undefined;
    const range = d.ranges?.[def.metric];
    return range && (v < range[0] || v > range[1]) ? undefined : v;
  };
  return {
    id: def.id,
    kind: 'threshold',
    metric: def.metric,
    perMetric: false,
    triggers: def.guard ? [def.metric, def.guard] : [def.metric],
    init: initialThresholdState,
    seed(severity, peak) {
      const worst = typeof peak === 'number' ? peak : peak === true ? 1 : null;
      return { ...initialThresholdState(), active: seededLevel(rule, severity, worst), peak: worst };
    },
    onReading(s, r, d, _now, out) {
      if (r.ts < s.lastTs) return s;
      if (def.guard && d.latest(def.guard) !== true) {
        // outside the guarded operation (no casting run) the rule does not apply
        const was = s.active;
        if (was >= 0 || s.pendingCount > 0) s = initialThresholdState();
        else (s.last = NaN), (s.peak = null);
        s.lastTs = r.ts;
        if (was >= 0) tell(s, out);
        return s;
      }
      const v = usable(r, d);
      if (v === undefined) return s;
      if (s.active < 0 && s.pendingCount === 0 && !entersAny(rule.levels, v)) {
        // idle and staying idle: the common case, updated in place
        s.last = v;
        s.lastTs = r.ts;
        return s;
      }
      const next = stepThreshold(rule, s, v, r.ts);
      // nothing held and nothing holds: no verdict to compare (the common case, kept cheap)
      if (!(next.active < 0 && s.active < 0)) tell(next, out);
      return next;
    },
    onTime(s, now, _d, out) {
      if (rule.forMs === 0) return s;
      const next = tickThreshold(rule, s, now);
      if (next !== s) tell(next, out);
      return next;
    },
  };
}
