import type { Severity } from '../../domain/types.ts';
import type { Industry } from '../../domain/indicators.ts';
import type { RoutingConfig, RoutingOverride, UnitKind } from '../registry/schema.ts';

/**
 * Who hears of an alert change, and how notifications are paced. The policy of an enterprise is
 * the global routing, overridden by its industry's, overridden by its own. Without any routing
 * the policy of domain.md applies: every alert reaches the enterprise, critical ones the township
 * too; unacknowledged after 10 min → township, after 30 min → regulator.
 */
export const DEFAULT_IMMEDIATE: Record<Severity, UnitKind[]> = {
  info: [],
  warning: ['enterprise'],
  major: ['enterprise'],
  critical: ['enterprise', 'township'],
};

export interface RoutingPolicy {
  immediate: Record<Severity, UnitKind[]>;
  /** metric → unit kinds told of its alerts besides the severity's (a Map: alert metrics come from devices) */
  byMetric: ReadonlyMap<string, UnitKind[]>;
  escalation: { afterMin: number; to: UnitKind; via?: string[] }[];
  closeWithinH: number | null;
  reminderEveryMin: number | null;
  groupWaitS: number;
  groupIntervalS: number;
  notificationExpireH: number;
  /** the least severity closed only through an accepted review; null: none */
  reviewFrom: Severity | null;
  feedbackWithinH: number;
  /** the least severity whose raise calls the units' phones; null: only steps with `via: [voice]` */
  voiceFrom: Severity | null;
}

export function policyFor(routing: RoutingConfig, industry?: Industry | string, own?: RoutingOverride): RoutingPolicy {
  const layers = [routing, routing.byIndustry[industry as Industry], own].filter(Boolean) as RoutingOverride[];
  const pick = <K extends keyof RoutingOverride>(k: K) => layers.reduce<RoutingOverride[K] | undefined>((v, l) => l[k] ?? v, undefined);
  const immediate = { ...DEFAULT_IMMEDIATE };
  for (const l of layers) Object.assign(immediate, Object.fromEntries(Object.entries(l.immediate ?? {}).filter(([, v]) => v !== undefined)));
  return {
    immediate,
    byMetric: new Map(layers.flatMap((l) => Object.entries(l.byMetric ?? {}))),
    escalation: pick('escalation') ?? [],
    closeWithinH: pick('closeWithinH') ?? null,
    reminderEveryMin: pick('reminderEveryMin') ?? null,
    groupWaitS: pick('groupWaitS') ?? 3,
    groupIntervalS: pick('groupIntervalS') ?? 30,
    notificationExpireH: pick('notificationExpireH') ?? 24,
    reviewFrom: ((r) => (r === 'none' ? null : r))(pick('reviewFrom') ?? 'major'),
    feedbackWithinH: pick('feedbackWithinH') ?? 24,
    voiceFrom: ((v) => (v === 'none' ? null : v))(pick('voiceFrom') ?? 'critical'),
  };
}

export function immediateKinds(policy: RoutingPolicy, severity: Severity, metric: string): UnitKind[] {
  return [...new Set([...policy.immediate[severity], ...(policy.byMetric.get(metric) ?? [])])];
}
