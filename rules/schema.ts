import { z } from 'zod';
import { SEVERITIES } from './types.ts';

/** Rule definitions as written in the registry and in templates, validated at the edge. */
export const severitySchema = z.enum(SEVERITIES);

export const levelSchema = z.object({ severity: severitySchema, value: z.number() }).strict();

export const thresholdRuleSchema = z
  .object({
    id: z.string().min(1),
    kind: z.literal('threshold'),
    metric: z.string().min(1),
    above: z.array(levelSchema).min(1).optional(),
    below: z.array(levelSchema).min(1).optional(),
    /** how far back past the threshold a value must go before the level is left */
    deadband: z.number().min(0).default(0),
    /** seconds the condition must hold before the level is raised */
    forS: z.number().min(0).default(0),
    /** a boolean metric of the same device that must be true for the rule to apply */
    guard: z.string().min(1).optional(),
    enabled: z.boolean().default(true),
    message: z.string().optional(),
  })
  .strict()
  .refine((r) => r.above || r.below, { message: 'a threshold rule needs "above" or "below" levels' });

export const ruleSchema = thresholdRuleSchema;
export type ThresholdRuleDef = z.infer<typeof thresholdRuleSchema>;
export type RuleDef = z.infer<typeof ruleSchema>;
/** A rule as a template or a registry override may write it, before defaults are applied. */
export type RuleInput = z.input<typeof ruleSchema>;
