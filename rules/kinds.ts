import { baselineRule } from './baseline.ts';
import { faultRule } from './fault.ts';
import { gapsRule } from './gaps.ts';
import { interlockMetrics, interlockRule } from './interlock.ts';
import type { RuleImpl } from './kind.ts';
import { BY_METRIC, type RuleContext } from './points.ts';
import { maintenanceRule } from './maintenance.ts';
import { idleRule } from './idle.ts';
import { offlineRule } from './offline.ts';
import { permissiveRule } from './permissive.ts';
import { rangeRule } from './range.ts';
import { rateRule } from './rate.ts';
import type { RuleDef } from './schema.ts';
import { stuckRule } from './stuck.ts';
import { thresholdRule } from './threshold.ts';

/** Every rule kind by name: one file each in rules/. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each kind has its own state type
const BUILDERS: { [K in RuleDef['kind']]: (def: Extract<RuleDef, { kind: K }>, ctx: RuleContext) => RuleImpl<any> } = {
  threshold: thresholdRule,
  rate: rateRule,
  baseline: baselineRule,
  offline: offlineRule,
  stuck: stuckRule,
  range: rangeRule,
  fault: faultRule,
  maintenance: maintenanceRule,
  idle: idleRule,
  gaps: gapsRule,
  interlock: interlockRule,
  permissive: permissiveRule,
};

export function buildRule(def: RuleDef, ctx: RuleContext = BY_METRIC): RuleImpl {
  return (BUILDERS[def.kind] as (d: RuleDef, c: RuleContext) => RuleImpl)(def, ctx);
}

/** The points a rule reads, to check them against the device and to apply templates. */
export function ruleMetrics(def: RuleDef): { metrics: string[]; switches: string[] } {
  switch (def.kind) {
    case 'threshold':
    case 'rate':
    case 'baseline':
    case 'stuck':
      return { metrics: [def.metric, ...(def.guard ? [def.guard] : [])], switches: def.guard ? [def.guard] : [] };
    case 'idle':
      return { metrics: [def.metric], switches: [] };
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
