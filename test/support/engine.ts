import { compileRules, evaluate, linkChanged, newEngineState, setBaseline, tick } from '../../rules/engine.ts';
import { ruleSchema, type RuleInput } from '../../rules/schema.ts';
import type { Outcome, Quality, Value } from '../../domain/types.ts';

/** One device's rules in the pure engine, driven by hand: readings, clock ticks, status changes. */
export function engineWith(
  rules: RuleInput[],
  { announced, ...opts }: { reportIntervalS?: number; ranges?: Record<string, [number, number]>; flapping?: { changes: number; windowS: number }; announced?: (at: number) => boolean } = {},
) {
  const set = compileRules([{ enterpriseId: 'E', deviceId: 'D', rules: rules.map((r) => ruleSchema.parse(r)), ...opts }]);
  const state = newEngineState(0, announced ? { maintenanceAnnounced: (_e, _d, at) => announced(at) } : {});
  let seq = 0;
  return {
    set,
    state,
    /** a reading measured at `ts` and received at `now` (default: the same) */
    read: (ts: number, values: Record<string, Value>, extra: { quality?: Record<string, Quality>; seq?: number; now?: number } = {}): Outcome[] =>
      evaluate(set, state, { enterpriseId: 'E', deviceId: 'D', ts, values, seq: extra.seq ?? ++seq, ...(extra.quality ? { quality: extra.quality } : {}) }, extra.now ?? ts),
    tick: (now: number) => tick(set, state, now),
    link: (link: 'online' | 'offline', at: number) => linkChanged(set, state, 'D', link, at),
    baseline: (metric: string, value: number) => setBaseline(state, 'D', metric, value),
  };
}

export const changes = (o: Outcome[]) => o.map((x) => `${x.change}${x.severity ? `:${x.severity}` : ''}`);
