import { numeric } from './describe.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import { known, reusableVerdict, type RuleImpl, type Verdict, type Verdicts } from './kind.ts';
import type { StuckRuleDef } from './schema.ts';

/**
 * A stuck analogue sensor: its value has not moved beyond a tolerance for a whole window, which
 * a live process never does. A frozen sensor hides a real hazard, so this is a safety signal.
 */
export interface StuckState {
  /** the value it has held at (none: NaN, see `known`) and since when */
  ref: number | null;
  since: number | null;
}

export function stuckRule(def: StuckRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<StuckState> {
  const windowMs = def.windowS * 1000;
  const { zh, en, unit } = ctx.names(def.metric);
  let heldS = 0;
  const verdict = reusableVerdict(() => def.message ?? `${zh}数值 ${heldS} 秒未变化（${verdict.value}${unit}），疑似传感器卡滞 / ${en} has not moved from ${verdict.value}${unit} for ${heldS} s: sensor stuck?`);
  // moving again (or outside the guarded operation) is a clear with no words of its own
  const moved = reusableVerdict(() => '');
  const tell = (v: Verdict, severity: StuckRuleDef['severity'] | null, value: number | null, threshold: number | null, out: Verdicts) => {
    v.severity = severity;
    v.value = value;
    v.threshold = threshold;
    out.push(v);
  };
  return {
    id: def.id,
    kind: 'stuck',
    metric: def.metric,
    perMetric: false,
    triggers: def.guard ? [def.metric, def.guard] : [def.metric],
    init: () => ({ ref: NaN, since: NaN }),
    // an alert still open after a restart: stuck at the value it was raised at, for long enough
    // already (a fresh state took the next reading as the sensor moving, and cleared the alert)
    seed: (_severity, value) => ({ ref: typeof value === 'number' ? value : NaN, since: -Infinity }),
    onReading(s, r, d, _now, out) {
      if (def.guard && d.latest(def.guard) !== true) {
        s.ref = s.since = NaN;
        tell(moved, null, null, null, out);
        return s;
      }
      const v = numeric(r.values[def.metric]);
      if (v === undefined || r.quality?.[def.metric] === 'maintenance') return s;
      const ref = known(s.ref), since = known(s.since);
      if (ref === null || since === null || Math.abs(v - ref) > def.tolerance) {
        s.ref = v;
        s.since = r.ts;
        tell(moved, null, v, null, out);
        return s;
      }
      if (r.ts < since) return s;
      heldS = Math.round((r.ts - since) / 1000);
      tell(verdict, r.ts - since >= windowMs ? def.severity : null, v, def.windowS, out);
      return s;
    },
  };
}
