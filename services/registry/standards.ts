import { INDICATORS, isMetric } from '../../domain/indicators.ts';
import { TOXIC_GASES, toxicLimits } from '../../domain/toxic-gases.ts';
import type { RuleDef } from '../../rules/schema.ts';
import { REQUIRED_RULES } from '../../rules/templates/required.ts';
import { SEVERITIES, type Severity } from '../../domain/types.ts';
import type { DeviceConfig, PointConfig } from './schema.ts';
import { FURNACE_FEEDBACK } from '../../rules/templates/aluminum_casting.ts';
import { WHILE_RUNNING, dustConcentration } from '../../rules/templates/dust.ts';
import type { RuleInput } from '../../rules/schema.ts';

/**
 * What the standards fix for a site's setpoints. GB/T 50493-2019: combustible gas at most
 * 25 %LEL (first level) and 50 %LEL (second); toxic gas at most 100 % and 200 % of the gas's
 * occupational exposure limit (GBZ 2.1-2019), in the point's own unit. A template's toxic-gas
 * levels default to those limits for the gas the point names; a registry asking for more is
 * refused.
 */
const toxicPoint = (points: readonly PointConfig[]) => points.find((p) => p.metric === 'toxic_gas_ppm');
const unitOf = (p: PointConfig) => p.unit ?? (isMetric(p.metric) ? INDICATORS[p.metric].unit : '');

/**
 * Template fields a standard decides for this device: the toxic levels of its gas, and the
 * feedback a casting interlock expects of the device's kind of furnace.
 */
export function standardDefaults(rule: { id: string; kind: string; metric?: string; expect?: Record<string, unknown>; expectAny?: boolean }, dev: Pick<DeviceConfig, 'points' | 'furnace'>): Partial<RuleDef> {
  if (dev.furnace && (rule.id === 'casting-cooling-interlock' || rule.id === 'casting-melt-level-interlock')) return { expect: FURNACE_FEEDBACK[dev.furnace][rule.id] } as Partial<RuleDef>;
  const has = (m: string) => dev.points.some((p) => p.metric === m);
  // any one feedback will do: expect those the device has
  if (rule.kind === 'interlock' && rule.expectAny && rule.expect) {
    const own = Object.entries(rule.expect).filter(([m]) => has(m));
    if (own.length) return { expect: Object.fromEntries(own) } as Partial<RuleDef>;
  }
  if (WHILE_RUNNING.has(rule.id) && has('collector_running')) return { guard: 'collector_running' } as Partial<RuleDef>;
  const p = toxicPoint(dev.points);
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

/**
 * What Order No. 10 asks a casting device that says its furnace to have: the feedback points its
 * interlocks expect, and melt level at the outlet launder and at the junction.
 */
export function furnacePoints(dev: Pick<DeviceConfig, 'points' | 'furnace' | 'templates'>): string[] {
  if (!dev.furnace) return [];
  if (!dev.templates.includes('aluminum_casting')) return ['.furnace: only a casting device (template aluminum_casting) has a furnace'];
  const has = new Set(dev.points.map((p) => p.metric));
  const needed = new Set([...Object.values(FURNACE_FEEDBACK[dev.furnace]).flatMap((e) => Object.keys(e))]);
  const problems = [...needed].filter((m) => !has.has(m)).map((m) => `.points: a ${dev.furnace} casting furnace needs the point ${m} (工贸企业重大事故隐患判定标准, 有色 ${dev.furnace === 'fixed' ? '(三)(五)' : '(三)(六)'})`);
  const places = new Set(dev.points.filter((p) => p.metric === 'melt_level').map((p) => p.place));
  for (const place of ['launder', 'junction'] as const)
    if (!places.has(place)) problems.push(`.points: melt level is measured at the outlet launder and at the launder-to-mould junction: a melt_level point with place: ${place} (工贸企业重大事故隐患判定标准, 有色 (四))`);
  return problems;
}

/**
 * Rules a device's own points call for beyond its templates': dust concentration levels from its
 * dust's minimum explosible concentration; a tank's pressure and temperature near the top of the
 * range its point declares (its design range: 90 % major, 95 % critical).
 */
export function pointRules(dev: Pick<DeviceConfig, 'points' | 'templates'>): RuleInput[] {
  const out: RuleInput[] = [];
  const dust = dev.points.find((p) => p.metric === 'dust_concentration' && p.mec !== undefined);
  if (dust && dev.templates.includes('dust')) out.push(dustConcentration(dust.mec!));
  if (dev.templates.includes('hazchem'))
    for (const [metric, id] of [
      ['tank_pressure', 'tank-pressure-high'],
      ['tank_temperature', 'tank-temperature-high'],
    ] as const) {
      const p = dev.points.find((x) => x.metric === metric && x.range);
      if (!p) continue;
      const [lo, hi] = p.range!;
      const at = (f: number) => Math.round((lo + (hi - lo) * f) * 1000) / 1000;
      out.push({ id, kind: 'threshold', metric, above: [{ severity: 'major', value: at(0.9) }, { severity: 'critical', value: at(0.95) }], deadband: Math.round((hi - lo) * 0.01 * 1000) / 1000, forS: 5 });
    }
  return out;
}

/**
 * The gas shut-off interlock acts at the site's own second level: when the site sets the gas
 * levels and not the interlock's condition, the condition follows the critical level it set.
 */
export function followSecondLevel(rules: Map<string, Record<string, unknown>>, overridden: ReadonlySet<string>) {
  const lel = rules.get('gas-lel');
  const shutoff = rules.get('gas-shutoff-interlock');
  if (!lel || !shutoff || overridden.has('gas-shutoff-interlock') || !overridden.has('gas-lel')) return;
  const critical = (lel.above as { severity: string; value: number }[] | undefined)?.find((l) => l.severity === 'critical')?.value;
  if (critical !== undefined) rules.set('gas-shutoff-interlock', { ...shutoff, when: `gas_lel >= ${critical}` });
}
