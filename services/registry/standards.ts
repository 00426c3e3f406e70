import { INDICATORS, isMetric } from '../../domain/indicators.ts';
import { TOXIC_GASES, toxicLimits } from '../../domain/toxic-gases.ts';
import type { RuleDef } from '../../rules/schema.ts';
import { REQUIRED_RULES } from '../../rules/templates/required.ts';
import { SEVERITIES, type Severity } from '../../domain/types.ts';
import type { PointConfig } from './schema.ts';

/**
 * What the standards fix for a site's setpoints. GB/T 50493-2019: combustible gas at most
 * 25 %LEL (first level) and 50 %LEL (second); toxic gas at most 100 % and 200 % of the gas's
 * occupational exposure limit (GBZ 2.1-2019), in the point's own unit. A template's toxic-gas
 * levels default to those limits for the gas the point names; a registry asking for more is
 * refused.
 */
const toxicPoint = (points: readonly PointConfig[]) => points.find((p) => p.metric === 'toxic_gas_ppm');
const unitOf = (p: PointConfig) => p.unit ?? (isMetric(p.metric) ? INDICATORS[p.metric].unit : '');

/** Template fields a standard decides for this device: the toxic levels of its gas. */
export function standardDefaults(rule: { kind: string; metric?: string }, points: readonly PointConfig[]): Partial<RuleDef> {
  const p = toxicPoint(points);
  if (rule.kind !== 'threshold' || rule.metric !== 'toxic_gas_ppm' || !p?.gas) return {};
  const limits = toxicLimits(p.gas, unitOf(p));
  if (!limits) return {};
  return {
    above: [
      { severity: 'major', value: limits.first },
      { severity: 'critical', value: limits.second },
    ],
  } as Partial<RuleDef>;
}

/** Setpoints that a standard forbids a site to exceed, each problem citing it. */
export function standardLimits(rule: RuleDef, points: readonly PointConfig[]): string[] {
  if (rule.kind !== 'threshold' || !rule.above) return [];
  const setpoints = rule.above.map((l) => l.value).sort((a, b) => a - b);
  if (rule.metric === 'gas_lel') return checkLevels(setpoints, 25, 50, '%LEL', 'gas_lel', '');
  const p = toxicPoint(points);
  if (rule.metric !== 'toxic_gas_ppm' || !p?.gas) return [];
  const unit = unitOf(p);
  const limits = toxicLimits(p.gas, unit);
  if (!limits) return [`a ${p.gas} point measures in ppm or mg/m³ (it says "${unit}"), so its levels can be checked against GB/T 50493-2019`];
  const oel = TOXIC_GASES[p.gas].oel;
  return checkLevels(setpoints, limits.first, limits.second, unit, p.gas, ` (at most 100 % / 200 % of the ${p.gas} ${oel.kind} of ${oel.mgM3} mg/m³ in GBZ 2.1-2019)`);
}

function checkLevels(setpoints: number[], first: number, second: number, unit: string, what: string, why: string): string[] {
  const problems: string[] = [];
  if (setpoints[0] > first) problems.push(`${what} first-level setpoint ${setpoints[0]} ${unit} is above ${first} ${unit}, which GB/T 50493-2019 forbids${why}`);
  if (setpoints.length > 1 && setpoints[1] > second) problems.push(`${what} second-level setpoint ${setpoints[1]} ${unit} is above ${second} ${unit}, which GB/T 50493-2019 forbids${why}`);
  return problems;
}

const rank = (s: Severity) => SEVERITIES.indexOf(s);
/** the worst severity a rule can raise */
function worst(r: RuleDef): Severity {
  const levels = r.kind === 'threshold' ? [...(r.above ?? []), ...(r.below ?? [])].map((l) => l.severity) : [r.severity];
  return levels.reduce((a, b) => (rank(b) > rank(a) ? b : a), 'info' as Severity);
}

/**
 * How a site's override weakens a template rule the law or a standard requires (REQUIRED_RULES):
 * switched off, another kind, another guard, a lower severity, or an interlock missing feedback
 * or waiting longer for it. Setpoints are checked by `standardLimits`.
 */
export function weakened(template: RuleDef, rule: RuleDef): string[] {
  const cite = REQUIRED_RULES.get(template.id);
  if (!cite) return [];
  const why = (what: string) => `rule "${template.id}" is required by ${cite}: ${what}`;
  if (!rule.enabled) return [why('it cannot be switched off')];
  if (rule.kind !== template.kind) return [why(`it cannot become a ${rule.kind} rule`)];
  const problems: string[] = [];
  const guardOf = (r: RuleDef) => ('guard' in r ? r.guard : undefined);
  if (guardOf(rule) !== guardOf(template)) problems.push(why(`its guard stays ${guardOf(template) ?? 'none'}`));
  if (rank(worst(rule)) < rank(worst(template))) problems.push(why(`its severity cannot be lowered below ${worst(template)}`));
  if (template.kind === 'interlock' && rule.kind === 'interlock') {
    for (const k of Object.keys(template.expect)) if (!Object.hasOwn(rule.expect, k)) problems.push(why(`its feedback ${k} cannot be dropped`));
    if (rule.withinS > template.withinS) problems.push(why(`it cannot wait longer than ${template.withinS} s for its feedback`));
  }
  return problems;
}
