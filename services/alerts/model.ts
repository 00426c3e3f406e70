import type { Severity, Value } from '../../domain/types.ts';

/** An alert and its record, as the contract shows them. Times are epoch ms inside, ISO outside. */
export const DISPOSITIONS = ['false_alarm', 'device_fault', 'hazard_rectified', 'drill', 'other'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];
export type AlertState = 'active' | 'cleared' | 'closed';

export interface Alert {
  id: string;
  /** rule on point: at most one alert per key is open (not closed) */
  key: string;
  rule: string;
  ruleKind: string;
  enterpriseId: string;
  deviceId: string;
  metric: string;
  /** the point: its id (its metric for a point without one), and its name if it has one; null for a rule on the whole device */
  pointId: string | null;
  pointName: string | null;
  region: string;
  industry: string;
  severity: Severity;
  state: AlertState;
  acknowledged: boolean;
  raisedAt: number;
  /** when its condition last came (the raise, or the latest reactivation): what a duty board ranks by */
  activatedAt: number;
  /**
   * when the occurrence someone must acknowledge began: the raise, or the alarm's return after it
   * was acknowledged (a return is a new alarm to acknowledge). Escalation and reminders count from
   * it. Absent on alerts saved before it existed: the raise.
   */
  awaitingAckSince?: number;
  ackAt: number | null;
  ackBy: string | null;
  clearedAt: number | null;
  closedAt: number | null;
  closedBy: string | null;
  disposition: Disposition | null;
  closeNote: string | null;
  value: Value | null;
  peak: Value | null;
  threshold: number | null;
  message: string;
  escalationLevel: number;
  /** last reminder while unacknowledged */
  remindedAt: number | null;
  /** when the regulator was told it was not closed in time */
  overdueAt: number | null;
  /** the condition keeps coming and going: held open instead of raised and cleared again */
  flapping: boolean;
  /** the worst severity it reached: what decides whether it needs a review to close */
  peakSeverity: Severity;
  /** what the enterprise found and did (处置反馈), the latest report */
  feedback: { cause: string; measures: string; disposition: Disposition; photos: string[]; at: number; by: string } | null;
  /** the review (核查): awaiting one, or returned with a note; accepted reviews close the alert */
  review: { state: 'awaiting' | 'returned'; note: string | null; at: number; by: string | null } | null;
  /** when the enterprise's feedback is due (alerts that need a review), and when it was found overdue */
  feedbackDueAt: number | null;
  feedbackOverdueAt: number | null;
}

export type TransitionType =
  | 'raised'
  | 'severity_changed'
  | 'cleared'
  | 'reactivated'
  | 'flapping'
  | 'acknowledged'
  | 'closed'
  | 'escalated'
  | 'reminded'
  | 'overdue'
  | 'notified'
  | 'notification_failed'
  | 'notification_held'
  | 'notification_expired'
  | 'feedback'
  | 'review_returned'
  | 'feedback_overdue';

/** A critical alarm raised, back, or worse: what goes out at once and sounds on site. */
export const criticalAlarm = (severity: Severity, type: string) => severity === 'critical' && (type === 'raised' || type === 'reactivated' || type === 'severity_changed');

/** One line of an alert's record: who or what did what, when. */
export interface Transition {
  alertId: string;
  at: number;
  type: TransitionType;
  /** "system", "rule:<id>", or the API user's name */
  actor: string;
  severity?: Severity;
  value?: Value | null;
  note?: string;
  /** what the rule said at this change (a raise, a rise, a clear): kept, so the record reads as it happened */
  message?: string;
  detail?: Record<string, unknown>;
}

/** When the alert's wait for an acknowledgement began (see `awaitingAckSince`). */
export const ackAwaitedSince = (a: Pick<Alert, 'awaitingAckSince' | 'raisedAt'>): number => a.awaitingAckSince ?? a.raisedAt;

/** `units`: who has been told of it, which the notification log knows, not the alert. */
export function alertJson(a: Alert, units: readonly string[]) {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  return {
    ...a,
    raisedAt: iso(a.raisedAt),
    activatedAt: iso(a.activatedAt),
    awaitingAckSince: iso(ackAwaitedSince(a)),
    ackAt: iso(a.ackAt),
    clearedAt: iso(a.clearedAt),
    closedAt: iso(a.closedAt),
    feedbackDueAt: iso(a.feedbackDueAt),
    feedbackOverdueAt: iso(a.feedbackOverdueAt),
    feedback: a.feedback && { ...a.feedback, at: iso(a.feedback.at)! },
    review: a.review && { ...a.review, at: iso(a.review.at)! },
    units: [...units],
  };
}

export function transitionJson(t: Transition) {
  return { ...t, at: new Date(t.at).toISOString() };
}

/** An alert and a transition as the API, the live stream and the outbox carry them (ISO times). */
export type AlertJson = ReturnType<typeof alertJson>;
export type TransitionJson = ReturnType<typeof transitionJson>;

/** Back from what `alertJson` made (the outbox keeps notices as JSON). */
export function alertFromJson({ units: _told, ...a }: AlertJson): Alert {
  const ms = (t: string | null) => (t === null ? null : Date.parse(t));
  return {
    ...a,
    raisedAt: Date.parse(a.raisedAt ?? ''),
    activatedAt: ms(a.activatedAt ?? null) ?? Date.parse(a.raisedAt ?? ''),
    awaitingAckSince: ms(a.awaitingAckSince ?? null) ?? Date.parse(a.raisedAt ?? ''),
    ackAt: ms(a.ackAt),
    clearedAt: ms(a.clearedAt),
    closedAt: ms(a.closedAt),
    feedbackDueAt: ms(a.feedbackDueAt ?? null),
    feedbackOverdueAt: ms(a.feedbackOverdueAt ?? null),
    feedback: a.feedback ? { ...a.feedback, at: Date.parse(a.feedback.at) } : null,
    review: a.review ? { ...a.review, at: Date.parse(a.review.at) } : null,
    // notices queued before these fields existed
    peakSeverity: a.peakSeverity ?? a.severity,
  };
}

export function transitionFromJson(t: TransitionJson): Transition {
  return { ...t, at: Date.parse(t.at) };
}

/** One change of an alert, as listeners hear it. */
export interface AlertChange {
  alert: Alert;
  transition: Transition;
  /** its line in the record, once committed: owed its notices until the outbox settles it */
  line?: number;
}
