import { numeric } from './describe.ts';
import type { RuleImpl, Verdict, Verdicts } from './kind.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import type { IdleRuleDef } from './schema.ts';

/**
 * Power-use monitoring (安全生产电力监测): an enterprise under a suspension or rectification order
 * must not produce, so its power use above the idle baseline (recorded through the baselines API,
 * or `idle` in the rule) is an alarm while it is suspended. Lifting the order clears it.
 */
export function idleRule(def: IdleRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<{ raised: boolean }> {
  const { zh, en, unit } = ctx.names(def.metric);
  const QUIET = { raised: false };
  const RAISED = { raised: true };
  const NO = () => false;
  /** `suspended` is asked only of power above the limit (nearly every reading is not) */
  const judge = (s: { raised: boolean }, v: number | undefined, idle: number | undefined, suspended: () => boolean, out: Verdicts): { raised: boolean } => {
    const limit = idle === undefined ? undefined : idle * (1 + def.abovePct / 100);
    const producing = v !== undefined && limit !== undefined && v > limit && suspended();
    if (producing === s.raised && !producing) return s;
    out.push(said(producing, v, idle, limit));
    return producing ? RAISED : QUIET;
  };
  // built apart from judge: a closure over its locals would cost an allocation on every reading
  const said = (producing: boolean, v: number | undefined, idle: number | undefined, limit: number | undefined): Verdict => ({
      metric: '',
      severity: producing ? def.severity : null,
      value: v ?? null,
      threshold: limit ?? null,
      message: () =>
        def.message ??
        (producing
          ? `停产整顿期间${zh} ${v}${unit} 高于待机基线 ${idle}${unit}：疑似违法生产 / ${en} ${v}${unit} above its idle baseline ${idle}${unit} while suspended: producing under a suspension order?`
          : `${zh}回到待机水平或已恢复生产许可 / ${en} back to idle, or the suspension was lifted`),
  });
  return {
    id: def.id,
    kind: 'idle',
    metric: def.metric,
    perMetric: false,
    triggers: [def.metric],
    init: () => QUIET,
    seed: () => RAISED,
    onReading(s, r, d, _now, out) {
      const q = r.quality?.[def.metric];
      if (q === 'fault' || q === 'maintenance') return s;
      return judge(s, numeric(r.values[def.metric]), d.baselines[def.metric] ?? def.idle, d.suspended, out);
    },
    // the order lifted (or set) between readings
    onTime(s, _now, d, out) {
      if (!s.raised || d.suspended()) return s;
      return judge(s, numeric(d.latest(def.metric)), d.baselines[def.metric] ?? def.idle, NO, out);
    },
  };
}
