import { INDICATORS, isMetric } from '../domain/indicators.ts';
import type { Value } from '../domain/types.ts';

/** Short bilingual texts for alerts: what the point is and what it did. */
export function metricNames(metric: string) {
  const ind = isMetric(metric) ? INDICATORS[metric] : undefined;
  return { zh: ind?.zh ?? metric, en: ind?.en ?? metric, unit: ind?.unit ? ` ${ind.unit}` : '', isSwitch: ind?.type === 'boolean', range: ind?.range };
}

/** "可燃气体浓度 ≥ 40 %LEL / combustible gas ≥ 40 %LEL", or the back-to-normal text when `condition` is null. */
export function describeMetric(names: { zh: string; en: string; unit: string; isSwitch: boolean }, condition: string | null, threshold: number): string {
  const { zh, en, unit, isSwitch } = names;
  // a switch named for its alarm (烟感火灾报警) is not an alarm "报警" twice
  if (isSwitch) return condition ? `${zh.endsWith('报警') ? zh : `${zh}报警`} / ${en}` : `${zh}恢复 / ${en} back to normal`;
  return condition ? `${zh} ${condition}${unit} / ${en} ${condition}${unit}` : `${zh}恢复正常 / ${en} back within ${threshold}${unit}`;
}

export const numeric = (v: Value | undefined): number | undefined => (typeof v === 'boolean' ? (v ? 1 : 0) : v);
