import type { RoutingPolicy } from './routing.ts';
import type { Step } from './lifecycle.ts';
import { ackAwaitedSince, type Alert, type Transition } from './model.ts';

/**
 * Escalation as a pure function of an alert, its policy and the time. While nobody has
 * acknowledged: each escalation step whose delay has passed tells the next unit kind, and a
 * reminder goes to those already told (if anyone was) every `reminderEveryMin`. Acknowledging stops both. An alert
 * not closed `closeWithinH` hours after it was raised is reported to the regulator, once.
 */
export function escalate(a: Alert, policy: RoutingPolicy, now: number, anyoneTold: boolean): Step | null {
  if (a.state === 'closed' || a.ruleKind === 'system') return null;
  const transitions: Transition[] = [];
  let alert = a;
  // unacknowledged since the raise, or since its return after an acknowledgement (lifecycle.ts)
  const since = ackAwaitedSince(a);
  const ageMin = (now - since) / 60_000;
  if (!a.acknowledged) {
    let level = a.escalationLevel;
    while (level < policy.escalation.length && ageMin >= policy.escalation[level].afterMin) {
      const step = policy.escalation[level];
      level++;
      transitions.push({ alertId: a.id, at: now, type: 'escalated', actor: 'system', detail: { to: step.to, afterMin: step.afterMin, level, ...(step.via ? { via: step.via } : {}) } });
    }
    if (level !== a.escalationLevel) alert = { ...alert, escalationLevel: level };
    const every = policy.reminderEveryMin;
    const last = a.remindedAt ?? since;
    if (every && now - last >= every * 60_000 && anyoneTold) {
      alert = { ...alert, remindedAt: now };
      transitions.push({ alertId: a.id, at: now, type: 'reminded', actor: 'system', detail: { everyMin: every, unacknowledgedMin: Math.floor(ageMin) } });
    }
  }
  // the enterprise's feedback due and not given (or given, returned, and due again): once per deadline
  if (a.feedbackDueAt !== null && a.feedbackOverdueAt === null && now >= a.feedbackDueAt && (a.feedback === null || a.review?.state === 'returned')) {
    alert = { ...alert, feedbackOverdueAt: now };
    transitions.push({ alertId: a.id, at: now, type: 'feedback_overdue', actor: 'system', detail: { feedbackDueAt: new Date(a.feedbackDueAt).toISOString() } });
  }
  if (policy.closeWithinH !== null && a.overdueAt === null && now - a.raisedAt >= policy.closeWithinH * 3_600_000) {
    alert = { ...alert, overdueAt: now };
    transitions.push({ alertId: a.id, at: now, type: 'overdue', actor: 'system', detail: { closeWithinH: policy.closeWithinH } });
  }
  return transitions.length ? { alert, transitions } : null;
}
