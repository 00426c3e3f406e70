import { compileCondition } from './expression.ts';
import { known, type DeviceView, type RuleImpl, type Verdict, type Verdicts } from './kind.ts';
import type { InterlockRuleDef } from './schema.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import type { Value } from '../domain/types.ts';
import { isMetric } from '../domain/indicators.ts';
import { metricNames } from './describe.ts';

const yesNo = (v: Value, lang: 'zh' | 'en') => (typeof v === 'boolean' ? (v ? (lang === 'zh' ? '是' : 'yes') : lang === 'zh' ? '否' : 'no') : String(v));

/** `cooling_water_flow < 30 or cooling_water_pressure < 0.2` → 冷却水流量 < 30 或 冷却水压力 < 0.2 */
export function conditionWords(expr: string, lang: 'zh' | 'en'): string {
  const words = lang === 'zh' ? { and: '且', or: '或', not: '非', true: '是', false: '否' } : { and: 'and', or: 'or', not: 'not', true: 'yes', false: 'no' };
  return expr
    .replace(/[A-Za-z_][A-Za-z0-9_]*/g, (id) => {
      if (Object.hasOwn(words, id)) return words[id as keyof typeof words];
      const n = isMetric(id) ? metricNames(id) : undefined;
      return n ? (lang === 'zh' ? n.zh : n.en) : id;
    })
    .replace(/==/g, '=');
}

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
  /** when the condition started to hold (none: NaN, see `known`) */
  since: number | null;
  /** when it had held for forS */
  trippedAt: number | null;
}

/** Does the feedback show the interlock acted (every expected value, or any with `expectAny`)? */
function feedbackSeen(expected: readonly (readonly [string, Value])[], latest: DeviceView['latest'], any: boolean): boolean {
  for (let i = 0; i < expected.length; i++) {
    const [m, v] = expected[i];
    if ((latest(m) === v) === any) return any;
  }
  return !any;
}

export const interlockMetrics = (def: InterlockRuleDef) => [...new Set([...compileCondition(def.when).names, ...Object.keys(def.expect), ...(def.guard ? [def.guard] : [])])];

export function interlockRule(def: InterlockRuleDef, ctx: RuleContext = BY_METRIC): RuleImpl<InterlockState> {
  const condition = compileCondition(def.when);
  const forMs = def.forS * 1000;
  const withinMs = def.withinS * 1000;
  // the feedback of every point of an expected metric (e.g. each shut-off valve of a controller)
  const expected = Object.entries(def.expect).flatMap(([m, v]) => ctx.keysOf(m).map((k) => [k, v] as const));
  const guard = def.guard === undefined ? undefined : ctx.keyOf(def.guard);
  // the condition names metrics; this instance reads its own points for them
  const bound = condition.names.map((n) => [n, ctx.keyOf(n)] as const);
  // what the condition reads, by the names it uses (a point with no value yet is left out),
  // refilled in place: the condition is evaluated at once, so one object serves every device
  const seen: Record<string, Value> = Object.create(null);
  const read = (latest: DeviceView['latest']): Record<string, Value> => {
    for (let i = 0; i < bound.length; i++) {
      const v = latest(bound[i][1]);
      if (v !== undefined) seen[bound[i][0]] = v;
      else delete seen[bound[i][0]];
    }
    return seen;
  };

  // in words, with the points' names: an operator at 3 a.m. reads no expressions
  const metricOfKey = new Map(Object.keys(def.expect).flatMap((m) => ctx.keysOf(m).map((k) => [k, m] as const)));
  const metricOf = (key: string) => metricOfKey.get(key) ?? key;
  const when = { zh: conditionWords(def.when, 'zh'), en: conditionWords(def.when, 'en') };
  const fact = (key: string, v: Value | undefined, lang: 'zh' | 'en') => {
    const names = metricNames(metricOf(key));
    const value = v === undefined ? (lang === 'zh' ? '无数据' : 'no reading') : yesNo(v, lang);
    return `${lang === 'zh' ? names.zh : names.en}${key !== metricOf(key) ? ` (${key})` : ''} ${lang === 'zh' ? '为' : '='} ${value}`;
  };
  const joiner = { zh: def.expectAny ? ' 或 ' : '、', en: def.expectAny ? ' or ' : ', ' };
  const failed = (latest: DeviceView['latest']) =>
    `联锁未在 ${def.withinS} 秒内动作：「${when.zh}」成立，应 ${expected.map(([k, v]) => fact(k, v, 'zh')).join(joiner.zh)}，实际 ${expected.map(([k]) => fact(k, latest(k), 'zh')).join('、')}` +
    ` / interlock did not act within ${def.withinS} s: while ${when.en}, expected ${expected.map(([k, v]) => fact(k, v, 'en')).join(joiner.en)}; actual ${expected.map(([k]) => fact(k, latest(k), 'en')).join(', ')}`;
  // the latest values the words were about: read only when a verdict becomes an outcome
  let at: DeviceView['latest'] = () => undefined;
  const verdictSaying = (severity: Verdict['severity'], message: () => string): Verdict => ({
    metric: '',
    severity,
    value: null,
    // the deadline is in the words; it is no threshold of a value
    threshold: null,
    message,
  });
  const gone = verdictSaying(null, () => `联锁条件已消除：「${when.zh}」不再成立 / the interlock's condition no longer holds`);
  const acted = verdictSaying(null, () => `联锁已动作：${expected.map(([k]) => fact(k, at(k), 'zh')).join('、')} / the interlock acted`);
  const failure = verdictSaying(def.severity, () => def.message ?? failed(at));

  const step = (s: InterlockState, t: number, d: DeviceView, out: Verdicts): InterlockState => {
    const latest = (at = d.latest);
    const on = (!guard || latest(guard) === true) && condition(read(latest));
    if (!on) {
      s.phase = 'idle';
      s.since = s.trippedAt = NaN;
      out.push(gone);
      return s;
    }
    const since = known(s.since) ?? (s.since = t);
    if (t - since < forMs) {
      s.phase = 'pending';
      s.trippedAt = NaN;
      return s;
    }
    const trippedAt = known(s.trippedAt) ?? (s.trippedAt = since + forMs);
    if (feedbackSeen(expected, latest, def.expectAny)) {
      s.phase = 'acted';
      out.push(acted);
    } else if (t - trippedAt >= withinMs) {
      s.phase = 'failed';
      out.push(failure);
    } else s.phase = 'tripped';
    return s;
  };

  return {
    id: def.id,
    kind: 'interlock',
    metric: expected[0][0],
    perMetric: false,
    triggers: [...new Set(interlockMetrics(def).flatMap((m) => [ctx.keyOf(m), ...(Object.hasOwn(def.expect, m) ? ctx.keysOf(m) : [])]))],
    init: () => ({ phase: 'idle', since: NaN, trippedAt: NaN }),
    onReading: (s, r, d, _now, out) => step(s, r.ts, d, out),
    // the deadline passes on the clock, whether or not a reading comes
    onTime: (s, now, d, out) => (s.phase === 'pending' || s.phase === 'tripped' ? step(s, now, d, out) : s),
  };
}
