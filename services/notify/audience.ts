import type { Alert, Transition } from '../alerts/model.ts';
import { immediateKinds, type RoutingPolicy } from '../alerts/routing.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig, UnitKind } from '../registry/schema.ts';

/**
 * The first stage of a notification: who hears of an alert change. Raises and rises go to the
 * unit kinds the enterprise's routing names; clears, closes, reminders and acknowledgements go to
 * the units already told; escalation and overdue go to the next kind up.
 */
/** To whom a change goes: unit kinds to find by routing, and/or the units already told. */
export interface Audience {
  kinds: UnitKind[];
  told: boolean;
  /** the channel kinds an escalation step names (default: the unit's, voice as policy says) */
  via?: string[];
}

export function audienceOf(t: Transition, alert: Alert, policy: RoutingPolicy, anyoneTold: boolean): Audience | null {
  // producing under a suspension order, or a rectification item overdue, is the regulator's business first
  const routed = () => [...new Set([...immediateKinds(policy, alert.severity, alert.metric), ...(alert.ruleKind === 'idle' || alert.ruleKind === 'hazard' ? (['township', 'regulator'] as const) : [])])];
  switch (t.type) {
    case 'raised':
    case 'reactivated':
      return { kinds: routed(), told: false };
    case 'severity_changed':
      return t.detail?.direction === 'rose' ? { kinds: routed(), told: true } : { kinds: [], told: true };
    case 'escalated': {
      const via = t.detail?.via;
      return { kinds: [t.detail?.to as UnitKind], told: false, ...(Array.isArray(via) ? { via: via.map(String) } : {}) };
    }
    case 'overdue':
    case 'feedback_overdue':
      return { kinds: ['regulator'], told: false };
    // the enterprise's report waits for the township or regulator to review it
    case 'feedback':
      return { kinds: ['township', 'regulator'], told: false };
    case 'review_returned':
      return { kinds: [], told: true };
    case 'cleared':
    case 'closed':
    case 'reminded':
    case 'flapping':
      return { kinds: [], told: true };
    case 'acknowledged':
      // an acknowledgement is news for the other units only when someone was told
      return anyoneTold ? { kinds: [], told: true } : null;
    default:
      return null;
  }
}

/** The units a change reaches: `routed` are newly found by kind, the rest were told before. */
export function unitsOf(alert: Alert, audience: Audience, registry: Registry, toldBefore: ReadonlySet<string>): { routed: UnitConfig[]; all: UnitConfig[] } {
  const routed = registry.unitsFor(alert.enterpriseId, audience.kinds);
  const told = audience.told ? [...toldBefore].flatMap((id) => registry.units.get(id) ?? []) : [];
  return { routed, all: [...new Map([...routed, ...told].map((u) => [u.id, u])).values()] };
}
