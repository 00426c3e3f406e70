import type { Severity } from '../../rules/types.ts';
import type { Alert, Transition } from '../alerts/model.ts';
import type { RoutingConfig, UnitKind } from '../registry/schema.ts';

/**
 * Who hears of an alert change at once (escalation over time is separate). Without a routing
 * section the policy of domain.md applies: every alert reaches the enterprise, critical ones
 * the township too.
 */
export const DEFAULT_IMMEDIATE: Record<Severity, UnitKind[]> = {
  info: [],
  warning: ['enterprise'],
  major: ['enterprise'],
  critical: ['enterprise', 'township'],
};

export function immediateKinds(routing: RoutingConfig, severity: Severity, metric: string): UnitKind[] {
  const bySeverity = routing.immediate[severity] ?? DEFAULT_IMMEDIATE[severity];
  return [...new Set([...bySeverity, ...(routing.byMetric[metric] ?? [])])];
}

/** Does this change go out to people, and to whom: newly routed kinds, or those already told? */
export function audienceOf(t: Transition): 'routed' | 'told' | 'none' {
  switch (t.type) {
    case 'raised':
    case 'reactivated':
      return 'routed';
    case 'severity_changed':
      return t.detail?.direction === 'rose' ? 'routed' : 'told';
    case 'cleared':
    case 'closed':
    case 'acknowledged':
      return 'told';
    default:
      return 'none';
  }
}

export function isWorthTelling(alert: Alert, t: Transition): boolean {
  // an acknowledgement is news for the other units only when someone else was told
  return audienceOf(t) !== 'none' && !(t.type === 'acknowledged' && alert.units.length === 0);
}
