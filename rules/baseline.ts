import { numeric } from './describe.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import { known, reusableVerdict, type RuleImpl } from './kind.ts';
import type { BaselineRuleDef } from './schema.ts';

/**
 * Deviation from a baseline recorded after maintenance (AQ 4273-2016 5.1.4: the filter pressure
 * difference departing more than 20 % from the value after bag replacement). The baseline is
 * set through the API; without one the rule waits.
 */
export interface BaselineState {
  /** since when the deviation has held (none: NaN, see `known`) */
  since: number | null;
  active: boolean;
}

export function baselineRule(def: BaselineRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<BaselineState> {
  const { zh, en, unit } = ctx.names(def.metric);
  const forMs = def.forS * 1000;
  let rounded = 0;
  const verdict = reusableVerdict(() => def.message ?? `${zh}偏离基线 ${rounded}%（基线 ${verdict.threshold}${unit}）/ ${en} ${rounded} % away from its baseline ${verdict.threshold}${unit}`);
  const off = reusableVerdict(() => '');
  return {
    id: def.id,
    kind: 'baseline',
    metric: def.metric,
    perMetric: false,
    triggers: def.guard ? [def.metric, def.guard] : [def.metric],
    init: () => ({ since: NaN, active: false }),
    // an alert still open after a restart: the deviation has held long enough already (a fresh
    // state would wait forS again, and clear the alert at the first reading meanwhile)
    seed: () => ({ since: -Infinity, active: true }),
    onReading(s, r, d, _now, out) {
      const base = d.baselines[def.metric];
      const v = numeric(r.values[def.metric] ?? d.latest(def.metric));
      const q = r.quality?.[def.metric];
      if ((def.guard && d.latest(def.guard) !== true) || base === undefined || base === 0) {
        // no baseline yet, or outside the guarded operation: nothing to judge
        s.since = NaN;
        s.active = false;
        off.value = v ?? null;
        off.threshold = base ?? null;
        out.push(off);
        return s;
      }
      if (v === undefined || q === 'fault' || q === 'maintenance') return s;
      const pct = (Math.abs(v - base) / Math.abs(base)) * 100;
      const outside = s.active ? pct > def.deviationPct - def.deadbandPct : pct >= def.deviationPct;
      const since = outside ? (known(s.since) ?? r.ts) : NaN;
      s.since = since;
      s.active = outside && r.ts - since >= forMs;
      rounded = Math.round(pct * 10) / 10;
      verdict.severity = s.active ? def.severity : null;
      verdict.value = v;
      verdict.threshold = base;
      out.push(verdict);
      return s;
    },
  };
}
