import { metricNames } from './describe.ts';
import { type RuleImpl, type Verdict } from './kind.ts';
import type { FaultRuleDef } from './schema.ts';

/** A point the device itself reports as faulted (`quality: fault`): one alert per point. */
export function faultRule(def: FaultRuleDef): RuleImpl<null> {
  return {
    id: def.id,
    kind: 'fault',
    metric: '',
    perMetric: true,
    triggers: '*',
    init: () => null,
    onReading(s, r) {
      const verdicts: Verdict[] = [];
      const metrics = new Set([...Object.keys(r.values), ...Object.keys(r.quality ?? {})]);
      for (const metric of metrics) {
        const faulted = r.quality?.[metric] === 'fault';
        const { zh, en } = metricNames(metric);
        verdicts.push({
          metric,
          severity: faulted ? def.severity : null,
          value: r.values[metric] ?? null,
          threshold: null,
          message: def.message ?? `${zh}传感器故障 / ${en} sensor reports a fault`,
        });
      }
      return [s, verdicts];
    },
  };
}
