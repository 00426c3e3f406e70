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
  /** latest value per metric (including the reading being evaluated) */
  latest: Record<string, Value>;
  /** when each metric last arrived at the gateway (ms) */
  latestAt: Record<string, number>;
  /** latest quality per metric as the device last reported it */
  quality: Record<string, Quality>;
  /** what the device last said on its status topic */
  link: 'online' | 'offline' | 'unknown';
  /** when the gateway last received anything from the device (ms), or when the engine started */
  lastHeard: number;
  reportIntervalS: number;
  ranges: Record<string, readonly [number, number]>;
  /** baselines set through the API, per metric */
  baselines: Record<string, number>;
  /** whether a maintenance window or silence registered for the device covers this time */
  maintenanceAnnounced(at: number): boolean;
  /** whether the enterprise is under a suspension order (it must not produce) */
  suspended(): boolean;
}

export type LinkEvent = 'online' | 'offline';

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
  onReading?(s: S, r: Reading, d: DeviceView, now: number): [S, Verdict[]];
  onTime?(s: S, now: number, d: DeviceView): [S, Verdict[]];
  onLink?(s: S, link: LinkEvent, at: number, d: DeviceView): [S, Verdict[]];
  /** after a restart: the state that matches an alert still open at this severity */
  seed?(severity: Severity, peak: Value | null): S;
}

/** No verdict: one shared empty list, since most evaluations change nothing. */
export const NO_VERDICTS: Verdict[] = Object.freeze([]) as unknown as Verdict[];
export const none = <S>(s: S): [S, Verdict[]] => [s, NO_VERDICTS];
