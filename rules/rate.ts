import { numeric } from './describe.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import { none, type RuleImpl } from './kind.ts';
import type { RateRuleDef } from './schema.ts';

/**
 * Rate of change: e.g. cooling-water pressure falling faster than 0.05 MPa/s. The rate is the
 * change from the oldest reading within the window to the newest, per second.
 */
export interface RateState {
  samples: [number, number][];
}

export function rateRule(def: RateRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<RateState> {
  const windowMs = def.windowS * 1000;
  const { zh, en, unit } = ctx.names(def.metric);
  return {
    id: def.id,
    kind: 'rate',
    metric: def.metric,
    perMetric: false,
    triggers: def.guard ? [def.metric, def.guard] : [def.metric],
    init: () => ({ samples: [] }),
    onReading(s, r, d) {
      if (def.guard && d.latest[def.guard] !== true) return [{ samples: [] }, [{ metric: '', severity: null, value: null, threshold: null, message: '' }]];
      const v = numeric(r.values[def.metric]);
      const q = r.quality?.[def.metric];
      if (v === undefined || q === 'fault' || q === 'maintenance') return none(s);
      const last = s.samples.at(-1);
      if (last && r.ts <= last[0]) return none(s);
      const samples = [...s.samples.filter(([t]) => r.ts - t <= windowMs), [r.ts, v] as [number, number]];
      const [t0, v0] = samples[0];
      const rate = r.ts > t0 ? ((v - v0) * 1000) / (r.ts - t0) : 0;
      const falling = def.fallingFaster !== undefined && rate <= -def.fallingFaster;
      const rising = def.risingFaster !== undefined && rate >= def.risingFaster;
      const limit = falling ? -def.fallingFaster! : rising ? def.risingFaster! : null;
      const rounded = Math.round(rate * 1e4) / 1e4;
      return [
        { samples },
        [
          {
            metric: '',
            severity: limit !== null ? def.severity : null,
            value: rounded,
            threshold: limit,
            message: () =>
              def.message ??
              (falling
                ? `${zh}下降过快 ${rounded}${unit}/s / ${en} falling at ${rounded}${unit}/s`
                : rising
                  ? `${zh}上升过快 ${rounded}${unit}/s / ${en} rising at ${rounded}${unit}/s`
                  : `${zh}变化速率恢复正常 / ${en} changing at a normal rate again`),
          },
        ],
      ];
    },
  };
}
