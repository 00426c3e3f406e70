import type { Quality, Reading, Severity, Value } from '../domain/types.ts';

/**
 * What every rule kind implements. A rule turns what it sees (a reading, time passing, the device
 * saying it is on- or offline) into verdicts: the severity each of its points should be at now,
 * or null. The engine compares verdicts with what is active and emits raise / update / clear.
 * Rule code has no clock and no I/O: time and data come in as arguments. A rule's state belongs
 * to the engine alone, so a rule may update it in place on its hot path instead of copying it.
 */
export interface Verdict {
  /** the point this verdict is about (per-metric rules); '' for the rule as a whole */
  metric: string;
  severity: Severity | null;
  value: Value | null;
  /** the worst value while active; defaults to value */
  peak?: Value | null;
  threshold: number | null;
  /** built only when the verdict becomes an outcome: most verdicts change nothing */
  message: string | (() => string);
}

/** What a rule may read about its device besides the reading in hand. */
export interface DeviceView {
  enterpriseId: string;
  deviceId: string;
  /** the latest value of a point (including the reading being evaluated) */
  latest(key: string): Value | undefined;
  /** when the latest value of a point arrived at the gateway (ms) */
  arrivedAt(key: string): number | undefined;
  /** latest quality per metric as the device last reported it */
  quality: Record<string, Quality>;
  /** what the device last said on its status topic */
  link: 'online' | 'offline' | 'unknown';
  /** when the gateway last received anything from the device (ms), or when the engine started */
  lastHeard: number;
  reportIntervalS: number;
  /** the physical ranges the device sets for its own points; null when it sets none (nearly every device) */
  ranges: Record<string, readonly [number, number]> | null;
  /** baselines set through the API, per metric */
  baselines: Record<string, number>;
  /** whether a maintenance window or silence registered for the device covers this time */
  maintenanceAnnounced(at: number): boolean;
  /** whether the enterprise is under a suspension order (it must not produce) */
  suspended(): boolean;
}

export type LinkEvent = 'online' | 'offline';

/**
 * A rule's handlers push their verdicts into `out` (the engine's own list, read and emptied as
 * soon as the handler returns) and return the state, updated in place or new. Nothing is
 * allocated on the path where nothing changes, which is nearly every reading: at ten thousand
 * devices, garbage was a quarter of the engine's time. A verdict object may be reused by its rule
 * for the next call: the engine has turned it into an outcome (or dropped it) by then.
 */
export interface RuleImpl<S = unknown> {
  readonly id: string;
  readonly kind: string;
  /** metrics whose arrival re-evaluates the rule, or '*' for every reading */
  readonly triggers: readonly string[] | '*';
  /** one alert per metric of the rule (e.g. impossible value on any analogue point) */
  readonly perMetric: boolean;
  /** the metric named on the rule's alerts when it is not per metric */
  readonly metric: string;
  init(now: number): S;
  onReading?(s: S, r: Reading, d: DeviceView, now: number, out: Verdicts): S;
  onTime?(s: S, now: number, d: DeviceView, out: Verdicts): S;
  onLink?(s: S, link: LinkEvent, at: number, d: DeviceView, out: Verdicts): S;
  /**
   * after a restart: the state that matches an alert still open at this severity. A rule with an
   * alert per point (`perMetric`) is told the point, and the state the points seeded before it
   * made, since one state holds them all. `at`: when the alerts are restored.
   */
  seed?(severity: Severity, peak: Value | null, point: { key: string; state: S | undefined } | undefined, at: number): S;
}

/** Where a rule's handler puts its verdicts: the engine reads them as soon as the handler returns. */
export interface Verdicts {
  push(v: Verdict): void;
}

/**
 * A number a rule's state holds, or null for none. States keep "none" as NaN: a field that only
 * ever holds numbers is updated in place, where one that also holds null boxes every number it is
 * given (a garbage object per reading). States from before keep null, which reads the same.
 */
export const known = (x: number | null): number | null => (x === null || Number.isNaN(x) ? null : x);

/**
 * A verdict a rule fills in and pushes again and again: made once per rule instance, so the
 * common "still fine" answer costs no allocation. Its message reads what the rule last set.
 */
export function reusableVerdict(message: () => string): Verdict {
  return { metric: '', severity: null, value: null, threshold: null, message };
}

/** The points a per-point rule (range, fault) has flagged, with the one an alert still open after a restart names. */
export function flagged(point: { key: string; state: Set<string> | null | undefined } | undefined): Set<string> | null {
  const s = point?.state instanceof Set ? point.state : new Set<string>();
  if (point) s.add(point.key);
  return s.size ? s : null;
}
