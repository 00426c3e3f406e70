import { bareRecord, type Value } from '../domain/types.ts';

/**
 * The latest value of each point a device's rules read, with when it was measured and when it
 * arrived: one typed array per device, four numbers per point at the point's slot in the device's
 * layout. At ten thousand devices this is one or two cache lines per reading, where an object per
 * point was a cache miss per value and a boxed number kept per value (a garbage object each).
 */
export type LatestValues = Float64Array;

/** The points a layout keeps values of, each with its slot. */
export type Slots = ReadonlyMap<string, number>;

const WIDTH = 4;
// what the first number of a slot says
const NONE = 0;
const NUMBER = 1;
const SWITCH = 2;

export const noValues = (slots: Slots): LatestValues => new Float64Array(slots.size * WIDTH);

/** Keep `x`, measured at `ts` and arrived at `at`, unless the slot holds a newer one (a flushed buffer). */
export function keep(values: LatestValues, slot: number, x: Value, ts: number, at: number) {
  const o = slot * WIDTH;
  if (values[o] !== NONE && ts < values[o + 2]) return;
  values[o] = typeof x === 'boolean' ? SWITCH : NUMBER;
  values[o + 1] = x === true ? 1 : x === false ? 0 : x;
  values[o + 2] = ts;
  values[o + 3] = at;
}

export function valueAt(values: LatestValues, slot: number | undefined): Value | undefined {
  if (slot === undefined) return undefined;
  const o = slot * WIDTH;
  const kind = values[o];
  return kind === NUMBER ? values[o + 1] : kind === SWITCH ? values[o + 1] === 1 : undefined;
}

/** When the latest value of the point arrived (ms), if there is one. */
export function arrivedAt(values: LatestValues, slot: number | undefined): number | undefined {
  return slot === undefined || values[slot * WIDTH] === NONE ? undefined : values[slot * WIDTH + 3];
}

/** The values as a snapshot keeps them: by point, as the device sent them. */
export interface LatestData {
  latest: Record<string, Value>;
  /** the device's own time of each latest value */
  latestTs: Record<string, number>;
  /** when each latest value arrived */
  latestAt: Record<string, number>;
}

export function latestData(slots: Slots, values: LatestValues): LatestData {
  const out: LatestData = { latest: bareRecord(), latestTs: bareRecord(), latestAt: bareRecord() };
  for (const [key, slot] of slots) {
    const v = valueAt(values, slot);
    if (v === undefined) continue;
    out.latest[key] = v;
    out.latestTs[key] = values[slot * WIDTH + 2];
    out.latestAt[key] = values[slot * WIDTH + 3];
  }
  return out;
}

/** Values for `slots` from what a snapshot (or another layout) kept; points no rule reads are left out. */
export function valuesFrom(slots: Slots, data: LatestData): LatestValues {
  const values = noValues(slots);
  for (const [key, slot] of slots) {
    const v = Object.hasOwn(data.latest, key) ? data.latest[key] : undefined;
    if (typeof v !== 'number' && typeof v !== 'boolean') continue;
    const ts = data.latestTs[key] ?? 0;
    keep(values, slot, v, ts, data.latestAt[key] ?? ts);
  }
  return values;
}
