import { flagged, type RuleImpl } from './kind.ts';
import type { FaultRuleDef } from './schema.ts';
import { BY_METRIC, type RuleContext } from './points.ts';

/** A point the device itself reports as faulted (`quality: fault`): one alert per point. */
export function faultRule(def: FaultRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<Set<string> | null> {
  return {
    id: def.id,
    kind: 'fault',
    metric: '',
    perMetric: true,
    triggers: '*',
    // the points reported faulted: only they need a verdict when they report good again
    // null while none is (nearly always): a reading without qualities reads no state at all
    init: () => null,
    // an alert still open after a restart: its point is flagged, so reporting good clears it
    seed: (_severity, _peak, point) => flagged(point),
    onReading(s, r, _d, _now, out) {
      if (!r.quality && s === null) return s;
      const metrics = new Set([...Object.keys(r.quality ?? {}), ...[...(s ?? [])].filter((m) => m in r.values)]);
      for (const metric of metrics) {
        const faulted = r.quality?.[metric] === 'fault';
        if (faulted) (s ??= new Set()).add(metric);
        else if (s?.has(metric)) s.delete(metric);
        else continue;
        const { zh, en } = ctx.names(metric);
        out.push({
          metric,
          severity: faulted ? def.severity : null,
          value: r.values[metric] ?? null,
          threshold: null,
          message: () => def.message ?? `${zh}传感器故障 / ${en} sensor reports a fault`,
        });
      }
      return s?.size === 0 ? null : s;
    },
  };
}
