import { compileCondition } from './expression.ts';
import { type DeviceView, type RuleImpl, type Verdict } from './kind.ts';
import type { InterlockRuleDef } from './schema.ts';
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

export function interlockRule(def: InterlockRuleDef): RuleImpl<InterlockState> {
  const condition = compileCondition(def.when);
  const forMs = def.forS * 1000;
  const withinMs = def.withinS * 1000;
  const expected = Object.entries(def.expect);
  const wanted = expected.map(([m, v]) => `${m}=${v}`).join(', ');

  const verdict = (severity: Verdict['severity'], latest: Record<string, Value>, message = ''): Verdict => ({
    metric: '',
    severity,
    value: null,
    threshold: def.withinS,
    message: () => message || (def.message ?? `联锁未在 ${def.withinS} 秒内动作（条件：${def.when}；应为 ${wanted}；实际 ${expected.map(([m]) => `${m}=${latest[m] ?? '—'}`).join(', ')}）/ interlock did not act within ${def.withinS} s`),
  });

  const step = (s: InterlockState, t: number, d: DeviceView): [InterlockState, Verdict[]] => {
    const latest = d.latest;
    const on = (!def.guard || latest[def.guard] === true) && condition(latest);
    if (!on) return [{ phase: 'idle', since: null, trippedAt: null }, [verdict(null, latest)]];
    const since = s.since ?? t;
    if (t - since < forMs) return [{ phase: 'pending', since, trippedAt: null }, []];
    const trippedAt = s.trippedAt ?? since + forMs;
    const acted = expected.every(([m, v]) => latest[m] === v);
    if (acted) return [{ phase: 'acted', since, trippedAt }, [verdict(null, latest)]];
    if (t - trippedAt >= withinMs) return [{ phase: 'failed', since, trippedAt }, [verdict(def.severity, latest)]];
    return [{ phase: 'tripped', since, trippedAt }, []];
  };

  return {
    id: def.id,
    kind: 'interlock',
    metric: Object.keys(def.expect)[0],
    perMetric: false,
    triggers: interlockMetrics(def),
    init: () => ({ phase: 'idle', since: null, trippedAt: null }),
    onReading: (s, r, d) => step(s, r.ts, d),
    // the deadline passes on the clock, whether or not a reading comes
    onTime: (s, now, d) => (s.phase === 'pending' || s.phase === 'tripped' ? step(s, now, d) : [s, []]),
  };
}
