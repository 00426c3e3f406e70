import { numeric } from './describe.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import { none, type RuleImpl } from './kind.ts';
import type { BaselineRuleDef } from './schema.ts';

/**
 * Deviation from a baseline recorded after maintenance (AQ 4273-2016 5.1.4: the filter pressure
 * difference departing more than 20 % from the value after bag replacement). The baseline is
 * set through the API; without one the rule waits.
 */
export interface BaselineState {
  /** since when the deviation has held */
  since: number | null;
  active: boolean;
}

export function baselineRule(def: BaselineRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<BaselineState> {
  const { zh, en, unit } = ctx.names(def.metric);
  const forMs = def.forS * 1000;
  return {
    id: def.id,
    kind: 'baseline',
    metric: def.metric,
    perMetric: false,
    triggers: def.guard ? [def.metric, def.guard] : [def.metric],
    init: () => ({ since: null, active: false }),
    onReading(s, r, d) {
      const base = d.baselines[def.metric];
      const v = numeric(r.values[def.metric] ?? d.latest[def.metric]);
      const q = r.quality?.[def.metric];
      const off = (def.guard && d.latest[def.guard] !== true) || base === undefined || base === 0;
      if (off) return [{ since: null, active: false }, [{ metric: '', severity: null, value: v ?? null, threshold: base ?? null, message: '' }]];
      if (v === undefined || q === 'fault' || q === 'maintenance') return none(s);
      const pct = (Math.abs(v - base) / Math.abs(base)) * 100;
      const out = s.active ? pct > def.deviationPct - def.deadbandPct : pct >= def.deviationPct;
      const since = out ? (s.since ?? r.ts) : null;
      const active = out && r.ts - since! >= forMs;
      const rounded = Math.round(pct * 10) / 10;
      return [
        { since, active },
        [
          {
            metric: '',
            severity: active ? def.severity : null,
            value: v,
            threshold: base,
            message: () => def.message ?? `${zh}偏离基线 ${rounded}%（基线 ${base}${unit}）/ ${en} ${rounded} % away from its baseline ${base}${unit}`,
          },
        ],
      ];
    },
  };
}
