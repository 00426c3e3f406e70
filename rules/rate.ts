import { numeric } from './describe.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import { reusableVerdict, type RuleImpl } from './kind.ts';
import type { RateRuleDef } from './schema.ts';

/**
 * Rate of change: e.g. cooling-water pressure falling faster than 0.05 MPa/s. The rate is the
 * change from the oldest reading within the window to the newest, per second.
 */
export interface RateState {
  /** the readings within the window, oldest first: their times and values side by side */
  ts: number[];
  values: number[];
}

export function rateRule(def: RateRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<RateState> {
  const windowMs = def.windowS * 1000;
  const { zh, en, unit } = ctx.names(def.metric);
  let falling = false;
  let rising = false;
  let rounded = 0;
  const verdict = reusableVerdict(
    () =>
      def.message ??
      (falling
        ? `${zh}下降过快 ${rounded}${unit}/s / ${en} falling at ${rounded}${unit}/s`
        : rising
          ? `${zh}上升过快 ${rounded}${unit}/s / ${en} rising at ${rounded}${unit}/s`
          : `${zh}变化速率恢复正常 / ${en} changing at a normal rate again`),
  );
  const off = reusableVerdict(() => '');
  return {
    id: def.id,
    kind: 'rate',
    metric: def.metric,
    perMetric: false,
    triggers: def.guard ? [def.metric, def.guard] : [def.metric],
    init: () => ({ ts: [], values: [] }),
    onReading(s, r, d, _now, out) {
      if (def.guard && d.latest(def.guard) !== true) {
        s.ts.length = 0;
        s.values.length = 0;
        out.push(off);
        return s;
      }
      const v = numeric(r.values[def.metric]);
      const q = r.quality?.[def.metric];
      if (v === undefined || q === 'fault' || q === 'maintenance') return s;
      const n = s.ts.length;
      if (n && r.ts <= s.ts[n - 1]) return s;
      // the window is kept in place: the oldest leave from the front
      let drop = 0;
      while (drop < n && r.ts - s.ts[drop] > windowMs) drop++;
      slide(s.ts, drop, r.ts);
      slide(s.values, drop, v);
      const t0 = s.ts[0];
      const rate = r.ts > t0 ? ((v - s.values[0]) * 1000) / (r.ts - t0) : 0;
      falling = def.fallingFaster !== undefined && rate <= -def.fallingFaster;
      rising = def.risingFaster !== undefined && rate >= def.risingFaster;
      const limit = falling ? -def.fallingFaster! : rising ? def.risingFaster! : null;
      rounded = Math.round(rate * 1e4) / 1e4;
      verdict.severity = limit !== null ? def.severity : null;
      verdict.value = rounded;
      verdict.threshold = limit;
      out.push(verdict);
      return s;
    },
  };
}

/**
 * The `n` oldest leave from the front and `x` joins at the end, in place. With one in and one out
 * (a window that has filled, or a device reporting less often than the window is long) the length
 * stays as it is: shrinking the array and then growing it again made a new one on every reading.
 * Without splice, which makes an array of what it removes.
 */
function slide(a: number[], n: number, x: number) {
  if (n === 0) return void a.push(x);
  a.copyWithin(0, n);
  a[a.length - n] = x;
  if (n > 1) a.length -= n - 1;
}
