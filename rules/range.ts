import { metricNames } from './describe.ts';
import { INDICATORS, isMetric } from './indicators.ts';
import { type RuleImpl, type Verdict } from './kind.ts';
import type { RangeRuleDef } from './schema.ts';

/**
 * Impossible values: outside the physical range of the sensor (the point's `range`, else the
 * catalogue's). One alert per point. Such values never drive threshold rules.
 */
export function rangeRule(def: RangeRuleDef): RuleImpl<null> {
  return {
    id: def.id,
    kind: 'range',
    metric: '',
    perMetric: true,
    triggers: def.metrics ?? '*',
    init: () => null,
    onReading(s, r, d) {
      const verdicts: Verdict[] = [];
      for (const [metric, v] of Object.entries(r.values)) {
        if (typeof v !== 'number' || (def.metrics && !def.metrics.includes(metric))) continue;
        const range = d.ranges[metric] ?? (isMetric(metric) ? INDICATORS[metric].range : undefined);
        if (!range) continue;
        const out = v < range[0] || v > range[1];
        const { zh, en, unit } = metricNames(metric);
        verdicts.push({
          metric,
          severity: out ? def.severity : null,
          value: v,
          threshold: out ? (v < range[0] ? range[0] : range[1]) : null,
          message: def.message ?? `${zh} ${v}${unit} 超出量程 [${range[0]}, ${range[1]}] / ${en} ${v}${unit} is outside the sensor range [${range[0]}, ${range[1]}]`,
        });
      }
      return [s, verdicts];
    },
  };
}
