import { baselineRule } from './baseline.ts';
import { faultRule } from './fault.ts';
import { gapsRule } from './gaps.ts';
import { interlockMetrics, interlockRule } from './interlock.ts';
import type { RuleImpl } from './kind.ts';
import { offlineRule } from './offline.ts';
import { permissiveRule } from './permissive.ts';
import { rangeRule } from './range.ts';
import { rateRule } from './rate.ts';
import type { RuleDef } from './schema.ts';
import { stuckRule } from './stuck.ts';
import { thresholdRule } from './threshold.ts';

/** Every rule kind by name: one file each in rules/. */
export function buildRule(def: RuleDef): RuleImpl {
  switch (def.kind) {
    case 'threshold':
      return thresholdRule(def) as RuleImpl;
    case 'rate':
      return rateRule(def) as RuleImpl;
    case 'baseline':
      return baselineRule(def) as RuleImpl;
    case 'offline':
      return offlineRule(def) as RuleImpl;
    case 'stuck':
      return stuckRule(def) as RuleImpl;
    case 'range':
      return rangeRule(def) as RuleImpl;
    case 'fault':
      return faultRule(def) as RuleImpl;
    case 'gaps':
      return gapsRule(def) as RuleImpl;
    case 'interlock':
      return interlockRule(def) as RuleImpl;
    case 'permissive':
      return permissiveRule(def) as RuleImpl;
  }
}

/** The points a rule reads, to check them against the device and to apply templates. */
export function ruleMetrics(def: RuleDef): { metrics: string[]; switches: string[] } {
  switch (def.kind) {
    case 'threshold':
    case 'rate':
    case 'baseline':
    case 'stuck':
      return { metrics: [def.metric, ...(def.guard ? [def.guard] : [])], switches: def.guard ? [def.guard] : [] };
    case 'interlock':
      return { metrics: interlockMetrics(def), switches: def.guard ? [def.guard] : [] };
    case 'permissive':
      return { metrics: [def.on, ...def.sensors, ...Object.keys(def.ready)], switches: [def.on] };
    case 'range':
      return { metrics: def.metrics ?? [], switches: [] };
    default:
      return { metrics: [], switches: [] };
  }
}
