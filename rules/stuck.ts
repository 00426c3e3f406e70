import { numeric } from './describe.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import { none, type RuleImpl } from './kind.ts';
import type { StuckRuleDef } from './schema.ts';

/**
 * A stuck analogue sensor: its value has not moved beyond a tolerance for a whole window, which
 * a live process never does. A frozen sensor hides a real hazard, so this is a safety signal.
 */
export interface StuckState {
  ref: number | null;
  since: number | null;
}

export function stuckRule(def: StuckRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<StuckState> {
  const windowMs = def.windowS * 1000;
  const { zh, en, unit } = ctx.names(def.metric);
  const cleared = { metric: '', severity: null, value: null, threshold: null, message: '' };
  return {
    id: def.id,
    kind: 'stuck',
    metric: def.metric,
    perMetric: false,
    triggers: def.guard ? [def.metric, def.guard] : [def.metric],
    init: () => ({ ref: null, since: null }),
    onReading(s, r, d) {
      if (def.guard && d.latest[def.guard] !== true) return [{ ref: null, since: null }, [cleared]];
      const v = numeric(r.values[def.metric]);
      if (v === undefined || r.quality?.[def.metric] === 'maintenance') return none(s);
      if (s.ref === null || s.since === null || Math.abs(v - s.ref) > def.tolerance) return [{ ref: v, since: r.ts }, [{ ...cleared, value: v }]];
      if (r.ts < s.since) return none(s);
      const heldS = Math.round((r.ts - s.since) / 1000);
      const stuck = r.ts - s.since >= windowMs;
      return [
        s,
        [
          {
            metric: '',
            severity: stuck ? def.severity : null,
            value: v,
            threshold: def.windowS,
            message: () => def.message ?? `${zh}数值 ${heldS} 秒未变化（${v}${unit}），疑似传感器卡滞 / ${en} has not moved from ${v}${unit} for ${heldS} s: sensor stuck?`,
          },
        ],
      ];
    },
  };
}
