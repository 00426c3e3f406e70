import { metricNames } from './describe.ts';
import { INDICATORS, isMetric } from '../domain/indicators.ts';
import { NO_VERDICTS, type RuleImpl } from './kind.ts';
import type { RangeRuleDef } from './schema.ts';

/**
 * Impossible values: outside the physical range of the sensor (the point's `range`, else the
 * catalogue's). One alert per point. Such values never drive threshold rules.
 */
export function rangeRule(def: RangeRuleDef): RuleImpl<Set<string>> {
  return {
    id: def.id,
    kind: 'range',
    metric: '',
    perMetric: true,
    triggers: def.metrics ?? '*',
    // the points this rule has flagged: only they need a verdict when they come back in range
    init: () => new Set<string>(),
    onReading(s, r, d) {
      let verdicts = NO_VERDICTS;
      for (const [metric, v] of Object.entries(r.values)) {
        if (typeof v !== 'number' || (def.metrics && !def.metrics.includes(metric))) continue;
        const range = d.ranges[metric] ?? (isMetric(metric) ? INDICATORS[metric].range : undefined);
        if (!range) continue;
        const out = v < range[0] || v > range[1];
        if (!out && !s.has(metric)) continue;
        if (out) s.add(metric);
        else s.delete(metric);
        const { zh, en, unit } = metricNames(metric);
        if (verdicts === NO_VERDICTS) verdicts = [];
        verdicts.push({
          metric,
          severity: out ? def.severity : null,
          value: v,
          threshold: out ? (v < range[0] ? range[0] : range[1]) : null,
          message: () => def.message ?? `${zh} ${v}${unit} 超出量程 [${range[0]}, ${range[1]}] / ${en} ${v}${unit} is outside the sensor range [${range[0]}, ${range[1]}]`,
        });
      }
      return [s, verdicts];
    },
  };
}
