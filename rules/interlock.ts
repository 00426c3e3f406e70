import { compileCondition } from './expression.ts';
import { type DeviceView, type RuleImpl, type Verdict } from './kind.ts';
import type { InterlockRuleDef } from './schema.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import type { Value } from '../domain/types.ts';

/**
 * Interlock verification. The gateway does not replace a local interlock: it checks that one
 * acted. When the condition (optionally guarded, e.g. while casting) has held for `forS`, the
 * expected feedback (valves closed / open) must be seen within `withinS`; if not, a critical
 * *interlock failure*. The failure clears when the feedback arrives or the condition is gone.
 *
 *   idle ──condition──▶ pending ──forS──▶ tripped ──feedback──▶ acted
 *    ▲                                     │ withinS passes
 *    └──────────condition gone─────────── failed ──feedback──▶ acted (clears)
 */
export interface InterlockState {
  phase: 'idle' | 'pending' | 'tripped' | 'acted' | 'failed';
  /** when the condition started to hold */
  since: number | null;
  /** when it had held for forS */
  trippedAt: number | null;
}

export const interlockMetrics = (def: InterlockRuleDef) => [...new Set([...compileCondition(def.when).names, ...Object.keys(def.expect), ...(def.guard ? [def.guard] : [])])];

export function interlockRule(def: InterlockRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<InterlockState> {
  const condition = compileCondition(def.when);
  const forMs = def.forS * 1000;
  const withinMs = def.withinS * 1000;
  // the feedback of every point of an expected metric (e.g. each shut-off valve of a controller)
  const expected = Object.entries(def.expect).flatMap(([m, v]) => ctx.keysOf(m).map((k) => [k, v] as const));
  const wanted = expected.map(([m, v]) => `${m}=${v}`).join(def.expectAny ? ' 或/or ' : ', ');
  const guard = def.guard === undefined ? undefined : ctx.keyOf(def.guard);
  // the condition names metrics; this instance reads its own points for them
  const bound = condition.names.map((n) => [n, ctx.keyOf(n)] as const);
  const identity = bound.every(([n, k]) => n === k);
  const read = (latest: Record<string, Value>): Record<string, Value> => {
    if (identity) return latest;
    const out: Record<string, Value> = Object.create(null);
    for (const [n, k] of bound) if (latest[k] !== undefined) out[n] = latest[k];
    return out;
  };

  const verdict = (severity: Verdict['severity'], latest: Record<string, Value>, message = ''): Verdict => ({
    metric: '',
    severity,
    value: null,
    threshold: def.withinS,
    message: () => message || (def.message ?? `联锁未在 ${def.withinS} 秒内动作（条件：${def.when}；应为 ${wanted}；实际 ${expected.map(([m]) => `${m}=${latest[m] ?? '—'}`).join(', ')}）/ interlock did not act within ${def.withinS} s`),
  });

  const step = (s: InterlockState, t: number, d: DeviceView): [InterlockState, Verdict[]] => {
    const latest = d.latest;
    const on = (!guard || latest[guard] === true) && condition(read(latest));
    if (!on) return [{ phase: 'idle', since: null, trippedAt: null }, [verdict(null, latest)]];
    const since = s.since ?? t;
    if (t - since < forMs) return [{ phase: 'pending', since, trippedAt: null }, []];
    const trippedAt = s.trippedAt ?? since + forMs;
    const acted = def.expectAny ? expected.some(([m, v]) => latest[m] === v) : expected.every(([m, v]) => latest[m] === v);
    if (acted) return [{ phase: 'acted', since, trippedAt }, [verdict(null, latest)]];
    if (t - trippedAt >= withinMs) return [{ phase: 'failed', since, trippedAt }, [verdict(def.severity, latest)]];
    return [{ phase: 'tripped', since, trippedAt }, []];
  };

  return {
    id: def.id,
    kind: 'interlock',
    metric: expected[0][0],
    perMetric: false,
    triggers: [...new Set(interlockMetrics(def).flatMap((m) => [ctx.keyOf(m), ...(Object.hasOwn(def.expect, m) ? ctx.keysOf(m) : [])]))],
    init: () => ({ phase: 'idle', since: null, trippedAt: null }),
    onReading: (s, r, d) => step(s, r.ts, d),
    // the deadline passes on the clock, whether or not a reading comes
    onTime: (s, now, d) => (s.phase === 'pending' || s.phase === 'tripped' ? step(s, now, d) : [s, []]),
  };
}
