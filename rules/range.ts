import { flagged, type RuleImpl, type Verdict } from './kind.ts';
import type { RangeRuleDef } from './schema.ts';
import { BY_METRIC, type PointNames, type RuleContext } from './points.ts';

/**
 * Impossible values: outside the physical range of the sensor (the point's `range`, else the
 * catalogue's). One alert per point. Such values never drive threshold rules.
 */
export function rangeRule(def: RangeRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<Set<string> | null> {
  // a key's names, or null for a point of a metric the rule leaves alone: decided once per key
  const decided = new Map<string, PointNames | null>();
  const judged = (key: string): PointNames | null => {
    let n = decided.get(key);
    if (n === undefined) {
      const names = ctx.names(key);
      decided.set(key, (n = def.metrics && !def.metrics.includes(names.metric) ? null : names));
    }
    return n;
  };
  return {
    id: def.id,
    kind: 'range',
    metric: '',
    perMetric: true,
    triggers: def.metrics ? def.metrics.flatMap((m) => ctx.keysOf(m)) : '*',
    // the points this rule has flagged, only they need a verdict when they come back in range;
    // null while none is (nearly always), so a reading in range reads no state at all
    init: () => null,
    // an alert still open after a restart: its point is flagged, so coming back in range clears it
    seed: (_severity, _peak, point) => flagged(point),
    onReading(s, r, d, _now, out) {
      const values = r.values;
      for (const metric in values) {
        const v = values[metric];
        if (typeof v !== 'number') continue;
        // every value of every reading passes here: one lookup says what the key is
        const names = judged(metric);
        if (names === null) continue;
        const range = (d.ranges !== null ? d.ranges[metric] : undefined) ?? names.range;
        if (!range) continue;
        const outside = v < range[0] || v > range[1];
        if (!outside && (s === null || !s.has(metric))) continue;
        if (outside) (s ??= new Set()).add(metric);
        else s!.delete(metric);
        // rare: a verdict of its own, since one reading may move several points
        out.push(rangeVerdict(def, metric, names, v, range, outside));
      }
      return s?.size === 0 ? null : s;
    },
  };
}

// built apart from the loop: a closure over the loop's locals would cost an allocation per value
function rangeVerdict(def: RangeRuleDef, metric: string, { zh, en, unit }: PointNames, v: number, range: readonly [number, number], outside: boolean): Verdict {
  return {
    metric,
    severity: outside ? def.severity : null,
    value: v,
    threshold: outside ? (v < range[0] ? range[0] : range[1]) : null,
    message: () => def.message ?? `${zh} ${v}${unit} 超出量程 [${range[0]}, ${range[1]}] / ${en} ${v}${unit} is outside the sensor range [${range[0]}, ${range[1]}]`,
  };
}
