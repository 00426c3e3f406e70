import { z } from 'zod';
import { SEVERITIES } from '../domain/types.ts';
import { GATEWAY_RULE_IDS } from './keys.ts';

/** Rule definitions as written in the registry and in templates, validated at the edge. */
export const severitySchema = z.enum(SEVERITIES);
export const levelSchema = z.object({ severity: severitySchema, value: z.number().min(-1e9).max(1e9) }).strict();

const common = {
  // the id is part of the alert's key (device/rule[/metric]): no "/"
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'rule ids are 1–64 letters, digits, "_", "." or "-"')
    // the keys of the gateway's own alerts on a device (its clock, its refused messages, its misnamed points)
    .refine((id) => !GATEWAY_RULE_IDS.has(id), `${[...GATEWAY_RULE_IDS].join(' and ')} are the ids of alerts the gateway raises on a device itself: give the rule another`),
  enabled: z.boolean().default(true),
  message: z.string().optional(),
  /** what the rule is for and what requires it (a template's rule cites its standard or clause) */
  description: z.string().max(500).optional(),
};
/** a rule for a metric judges only the points at this place (registry `place`) */
const at = z.enum(['launder', 'junction']).optional();
/** a rule for a metric judges every point of it, or only this one (by point id) */
const point = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/)
  .optional();
const metricName = z.string().min(1);
/** a boolean metric of the same device that must be true for the rule to apply */
const guard = metricName.optional();

export const thresholdRuleSchema = z
  .object({
    ...common,
    kind: z.literal('threshold'),
    point,
    at,
    metric: metricName,
    above: z.array(levelSchema).min(1).optional(),
    below: z.array(levelSchema).min(1).optional(),
    /** how far back past the threshold a value must go before the level is left */
    deadband: z.number().min(0).max(1e9).default(0),
    /** seconds the condition must hold before the level is raised */
    forS: z.number().min(0).max(7 * 86_400).default(0),
    guard,
  })
  .strict()
  .refine((r) => r.above || r.below, { message: 'a threshold rule needs "above" or "below" levels' });

export const rateRuleSchema = z
  .object({
    ...common,
    kind: z.literal('rate'),
    point,
    at,
    metric: metricName,
    /** alarm when the value falls faster than this many units per second */
    fallingFaster: z.number().positive().max(1e9).optional(),
    risingFaster: z.number().positive().max(1e9).optional(),
    /** the change is measured over this many seconds */
    windowS: z.number().min(1).max(86_400).default(10),
    severity: severitySchema.default('major'),
    guard,
  })
  .strict()
  .refine((r) => r.fallingFaster || r.risingFaster, { message: 'a rate rule needs "fallingFaster" or "risingFaster"' });

export const baselineRuleSchema = z
  .object({
    ...common,
    kind: z.literal('baseline'),
    point,
    at,
    metric: metricName,
    /** alarm when the value is this many percent away from the baseline */
    deviationPct: z.number().positive().max(10_000).default(20),
    /** percent back inside before the alarm clears */
    deadbandPct: z.number().min(0).max(100).default(2),
    forS: z.number().min(0).max(7 * 86_400).default(0),
    severity: severitySchema.default('major'),
    guard,
  })
  .strict();

export const offlineRuleSchema = z
  .object({
    ...common,
    kind: z.literal('offline'),
    /** offline after this many reporting intervals without a reading */
    afterIntervals: z.number().min(1).max(1000).default(3),
    /** or after this many seconds, if given (overrides afterIntervals) */
    afterS: z.number().min(1).max(30 * 86_400).optional(),
    severity: severitySchema.default('major'),
  })
  .strict();

export const stuckRuleSchema = z
  .object({
    ...common,
    kind: z.literal('stuck'),
    point,
    at,
    metric: metricName,
    /** the value must move more than this (absolute, in the metric's unit) */
    tolerance: z.number().min(0).max(7 * 86_400).default(0),
    windowS: z.number().min(1).max(30 * 86_400).default(3600),
    severity: severitySchema.default('warning'),
    guard,
  })
  .strict();

export const rangeRuleSchema = z
  .object({
    ...common,
    kind: z.literal('range'),
    /** which analogue points; default every one with a range (the point's, or the catalogue's) */
    metrics: z.array(metricName).optional(),
    severity: severitySchema.default('warning'),
  })
  .strict();

export const faultRuleSchema = z
  .object({
    ...common,
    kind: z.literal('fault'),
    severity: severitySchema.default('major'),
  })
  .strict();

export const maintenanceRuleSchema = z
  .object({
    ...common,
    kind: z.literal('maintenance'),
    severity: severitySchema.default('major'),
  })
  .strict();

export const idleRuleSchema = z
  .object({
    ...common,
    kind: z.literal('idle'),
    point,
    /** the power point: above its idle baseline while the enterprise is suspended */
    metric: metricName,
    /** above the baseline by more than this (percent) */
    abovePct: z.number().min(0).max(10_000).default(20),
    /** the idle level when no baseline was recorded for the point */
    idle: z.number().min(0).max(1e9).optional(),
    severity: severitySchema.default('major'),
  })
  .strict();

export const gapsRuleSchema = z
  .object({
    ...common,
    kind: z.literal('gaps'),
    /** alarm when more than this many seq numbers are missing within the window */
    maxMissing: z.number().int().min(0).max(1_000_000).default(10),
    windowS: z.number().min(1).max(30 * 86_400).default(3600),
    severity: severitySchema.default('warning'),
  })
  .strict();

const expectSchema = z.record(metricName, z.union([z.boolean(), z.number()]));

/** the longest interlock condition: some twenty comparisons joined by and/or */
export const MAX_CONDITION_CHARS = 1000;

export const interlockRuleSchema = z
  .object({
    ...common,
    kind: z.literal('interlock'),
    at,
    guard,
    /** the condition, over the device's points: `cooling_water_flow < 30 or cooling_water_pressure < 0.2` */
    // bounded: filtrex reads a deeply nested condition in time that grows with the square of
    // its depth (12 000 parentheses: 10 s of the registry load), and none a person writes is long
    when: z.string().min(1).max(MAX_CONDITION_CHARS),
    forS: z.number().min(0).max(7 * 86_400).default(0),
    /** the feedback the local interlock must give */
    expect: expectSchema.refine((e) => Object.keys(e).length > 0, 'expect at least one point'),
    /** any one of the expected feedbacks is enough (e.g. the spark extinguisher or the isolation valve) */
    expectAny: z.boolean().default(false),
    withinS: z.number().min(0.1).max(86_400).default(5),
    severity: severitySchema.default('critical'),
  })
  .strict();

export const permissiveRuleSchema = z
  .object({
    ...common,
    kind: z.literal('permissive'),
    /** the switch whose rise starts a run (casting_active) */
    on: metricName,
    /** points that must be reporting, not faulted, when the run starts */
    sensors: z.array(metricName).default([]),
    /** points that must be in their ready state when the run starts */
    ready: expectSchema.default({}),
    severity: severitySchema.default('critical'),
  })
  .strict();

export const ruleSchema = z.discriminatedUnion('kind', [
  thresholdRuleSchema,
  rateRuleSchema,
  baselineRuleSchema,
  offlineRuleSchema,
  stuckRuleSchema,
  rangeRuleSchema,
  faultRuleSchema,
  maintenanceRuleSchema,
  idleRuleSchema,
  gapsRuleSchema,
  interlockRuleSchema,
  permissiveRuleSchema,
]);

export type ThresholdRuleDef = z.infer<typeof thresholdRuleSchema>;
export type RateRuleDef = z.infer<typeof rateRuleSchema>;
export type BaselineRuleDef = z.infer<typeof baselineRuleSchema>;
export type OfflineRuleDef = z.infer<typeof offlineRuleSchema>;
export type StuckRuleDef = z.infer<typeof stuckRuleSchema>;
export type RangeRuleDef = z.infer<typeof rangeRuleSchema>;
export type FaultRuleDef = z.infer<typeof faultRuleSchema>;
export type MaintenanceRuleDef = z.infer<typeof maintenanceRuleSchema>;
export type IdleRuleDef = z.infer<typeof idleRuleSchema>;
export type GapsRuleDef = z.infer<typeof gapsRuleSchema>;
export type InterlockRuleDef = z.infer<typeof interlockRuleSchema>;
export type PermissiveRuleDef = z.infer<typeof permissiveRuleSchema>;
export type RuleDef = z.infer<typeof ruleSchema>;
/** A rule as a template or a registry override may write it, before defaults are applied. */
export type RuleInput = z.input<typeof ruleSchema>;

/** Per-device flapping control: an alert that changes this often stays open, marked flapping. */
export const flappingSchema = z
  .object({ changes: z.number().int().min(2).max(1000).default(6), windowS: z.number().min(1).max(7 * 86_400).default(600) })
  .strict();
export type FlappingConfig = z.infer<typeof flappingSchema>;
