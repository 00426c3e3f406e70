import type { ThresholdRuleDef } from './schema.ts';
import { severityRank, type Severity } from './types.ts';

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
  /** the last value evaluated and its time; late (buffered) readings older than it are skipped */
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
  return { active: -1, since: {}, peak: null, last: null, lastTs: -Infinity };
}

const enters = (l: Level, v: number) => (l.side === 'above' ? v >= l.value : v <= l.value);
const stays = (l: Level, v: number, deadband: number) =>
  l.side === 'above' ? v >= l.value - deadband : v <= l.value + deadband;
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
  return { active, since, peak, last: v, lastTs: ts };
}

/** Time passing with no new reading: a pending level whose duration has now elapsed is raised. */
export function tickThreshold(rule: CompiledThreshold, state: ThresholdState, now: number): ThresholdState {
  for (let i = rule.levels.length - 1; i > state.active; i--) {
    const s = state.since[i];
    if (s !== undefined && now - s >= rule.forMs) return { ...state, active: i, peak: state.peak ?? state.last };
  }
  return state;
}

/** Earliest time at which tickThreshold could change something, for schedulers; null if never. */
export function nextThresholdDeadline(rule: CompiledThreshold, state: ThresholdState): number | null {
  let next: number | null = null;
  for (let i = state.active + 1; i < rule.levels.length; i++) {
    const s = state.since[i];
    if (s !== undefined && (next === null || s + rule.forMs < next)) next = s + rule.forMs;
  }
  return next;
}
