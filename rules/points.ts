import { metricNames } from './describe.ts';

/**
 * A device's points as the rules see them. A point has an id (unique within its device; a point
 * without one is known by its metric) and a metric that says what it measures. Values arrive
 * keyed by point id, so one device may carry several points of one metric (a 16-channel gas
 * controller, melt level at two places). A rule written for a metric runs once per point of it.
 */
export interface PointInfo {
  id: string;
  metric: string;
  name?: string;
  /** where it measures, when a template tells places apart */
  place?: string;
}

export interface PointNames {
  /** the catalogue metric */
  metric: string;
  zh: string;
  en: string;
  unit: string;
  isSwitch: boolean;
  /** the physical range the catalogue gives the metric, if it gives one */
  range: readonly [number, number] | undefined;
  /** the point's own name, or its id when it has one of its own; null for a point known by its metric */
  label: string | null;
}

/** What a rule instance knows of its device's points. */
export interface RuleContext {
  /** what a value key (a point id) is, for messages and the catalogue */
  names(key: string): PointNames;
  /** the point this instance reads for a metric */
  keyOf(metric: string): string;
  /** every point of a metric on the device */
  keysOf(metric: string): string[];
  /**
   * the points of a metric at a place; a device that names no place for any point of that metric
   * (the first round's) has one point that stands for every place
   */
  keysAt(metric: string, place: string): string[];
}

/** Names are read on the hot path (the range rule, per value): made once per key. */
function memo(make: (key: string) => PointNames): (key: string) => PointNames {
  const made = new Map<string, PointNames>();
  return (key) => {
    let n = made.get(key);
    if (!n) made.set(key, (n = make(key)));
    return n;
  };
}

/** Points known by their metrics (every device of the first round, and the engine's unit tests). */
export const BY_METRIC: RuleContext = {
  names: memo((key) => ({ ...metricNames(key), metric: key, label: null })),
  keyOf: (m) => m,
  keysOf: (m) => [m],
  keysAt: (m) => [m],
};

/** The device's points as a lookup; `bound` ties one metric to one of its points (an instance). */
export function pointContext(points: readonly PointInfo[], bound?: { metric: string; point: string }): RuleContext {
  if (!points.length && !bound) return BY_METRIC;
  const byId = new Map(points.map((p) => [p.id, p]));
  const byMetric = new Map<string, string[]>();
  for (const p of points) byMetric.set(p.metric, [...(byMetric.get(p.metric) ?? []), p.id]);
  const keysOf = (m: string) => byMetric.get(m) ?? [m];
  return {
    names: memo((key) => {
      const p = byId.get(key);
      const metric = p?.metric ?? key;
      const base = metricNames(metric);
      if (!p || p.id === p.metric) return { ...base, metric, label: p?.name ?? null };
      const label = p.name ?? p.id;
      return { ...base, metric, zh: `${label} ${base.zh}`, en: `${base.en} (${label})`, label };
    }),
    keyOf: (m) => (bound && m === bound.metric ? bound.point : keysOf(m)[0]),
    keysOf,
    keysAt(m, place) {
      const of = points.filter((p) => p.metric === m);
      return of.some((p) => p.place) ? of.filter((p) => p.place === place).map((p) => p.id) : keysOf(m);
    },
  };
}
