import { severityRank } from '../../domain/types.ts';
import type { Alert, Transition } from '../alerts/model.ts';
import type { RoutingPolicy } from '../alerts/routing.ts';

/**
 * Over which of a unit's channels a change goes. An escalation step with `via` names them; else
 * every channel but voice. A call wakes someone up, so it is made for the changes that ask for
 * action on alerts of `voiceFrom` and above (critical unless configured), or when a step says so.
 */
const CALL_FOR = new Set(['raised', 'reactivated', 'severity_changed', 'escalated', 'reminded']);

export function channelKindsFor(alert: Alert | null, t: Transition | null, policy: Pick<RoutingPolicy, 'voiceFrom'>, via?: readonly string[]): (kind: string) => boolean {
  if (via?.length) return (kind) => via.includes(kind);
  const call =
    alert !== null &&
    t !== null &&
    policy.voiceFrom !== null &&
    CALL_FOR.has(t.type) &&
    !(t.type === 'severity_changed' && t.detail?.direction !== 'rose') &&
    !alert.acknowledged &&
    alert.state === 'active' &&
    severityRank(alert.severity) >= severityRank(policy.voiceFrom);
  return (kind) => kind !== 'voice' || call;
}
