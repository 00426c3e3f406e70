/** Plain data shared by the rules engine and everything around it. No I/O lives in rules/. */
export const SEVERITIES = ['info', 'warning', 'major', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export type Quality = 'good' | 'fault' | 'maintenance';

/** a count as a snapshot from elsewhere may hold it: a whole number, 0 or more */
export const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER;

/**
 * An object keyed by names that came from outside (metrics, points): no prototype, so a name such
 * as "toString" or "__proto__" finds nothing that was not put there.
 */
export const bareRecord = <T>(): Record<string, T> => Object.create(null) as Record<string, T>;

/**
 * The same, for the few names of one reading (its values, its qualities), which the rules, the
 * judge and the stores read by name and walk on every reading. `Object.create(null)` makes a hash
 * table (V8's dictionary mode); an empty object whose prototype is then set to null keeps a fixed
 * layout, shared by the readings with the same points. Made and walked twice, a reading of eight
 * values took 520 ns against 1 000, and the rules 2.2 µs against 2.85 µs per reading at ten
 * thousand devices. Only for names the registry knows: every new set of names is a new layout.
 */
const bareFields = <T>(): Record<string, T> => Object.setPrototypeOf({}, null) as Record<string, T>;

/**
 * `bareFields` filled from `[name, value, name, value, …]`, in that order. Each field first holds
 * null, then its value: a field whose first value is a number keeps its numbers unboxed, and then
 * every read of it by name boxes the number afresh. The rules, the judge and the store read a
 * reading's values by name, through one piece of code for the layouts of every kind of device, so
 * such reads are generic and each one made garbage: 16 bytes per value per read, over 200 bytes
 * a reading. A field made holding null keeps the number the reading was parsed into, and a read
 * hands out that same number.
 */
export function bareFieldsOf<T>(pairs: readonly (string | T)[]): Record<string, T> {
  const out = bareFields<T | null>();
  const n = pairs.length;
  for (let i = 0; i < n; i += 2) out[pairs[i] as string] = null;
  for (let i = 0; i < n; i += 2) out[pairs[i] as string] = pairs[i + 1] as T;
  return out as Record<string, T>;
}

/** A plain object's own entry for a name that may come from outside (never an inherited member). */
export const ownEntry = <T>(r: Record<string, T> | undefined, name: string): T | undefined => (r && Object.hasOwn(r, name) ? r[name] : undefined);
export type Value = number | boolean;

/** One validated reading from one device: several metrics at one instant. */
export interface Reading {
  enterpriseId: string;
  deviceId: string;
  /** epoch milliseconds, the device's own time (kept for buffered readings) */
  ts: number;
  /**
   * the time the device gave, when the gateway took the reading as of its arrival instead (a
   * clock far behind: `gateway.maxPastS`); a resend is still known by it
   */
  sentTs?: number;
  seq?: number;
  values: Record<string, Value>;
  quality?: Record<string, Quality>;
}

/**
 * What a rule says about one point when its verdict changes: a severity (raised, or moved to
 * another level) or null (the condition is gone). `update` carries a worse peak while active.
 */
export interface Outcome {
  /** stable identity of the rule on this point: one open alert per key */
  key: string;
  change: 'raise' | 'update' | 'clear';
  ruleId: string;
  ruleKind: string;
  enterpriseId: string;
  deviceId: string;
  /** the catalogue metric of the point (or '' / '_device' for a rule on the device as a whole) */
  metric: string;
  /** the point: its id (a point without one is known by its metric), and its name if it has one */
  pointId?: string | null;
  pointName?: string | null;
  severity: Severity | null;
  value: Value | null;
  /** the worst value seen while the condition held */
  peak: Value | null;
  threshold: number | null;
  /** when the verdict changed: the reading's time, or the clock's for time-driven changes */
  at: number;
  message: string;
  /** the condition comes and goes so often that the alert is held open */
  flapping?: boolean;
}
