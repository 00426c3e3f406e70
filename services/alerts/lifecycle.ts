import type { Outcome, Severity } from '../../domain/types.ts';
import { severityRank } from '../../domain/types.ts';
import { ackAwaitedSince, type Alert, type Disposition, type Transition } from './model.ts';

/**
 * The alert state machine as plain functions over data:
 *
 *   (none) ──raise──▶ active ──clear──▶ cleared ──close──▶ closed
 *                       ▲  └──────────close────────────────▲
 *                       └──────raise (reactivated)── cleared
 *
 * `acknowledged` is independent of the state, but for a return: an alarm that comes back after it
 * was acknowledged (cleared, then reactivated) is a new alarm to acknowledge, as in IEC 62682 /
 * ISA-18.2, and its escalation and reminders count from the return. Otherwise a returning gas
 * leak showed no banner, took no acknowledge link and escalated to nobody. A rule firing again
 * while its alert is still open updates that alert instead of opening a second one.
 */
export class AlertError extends Error {
  constructor(
    readonly code: 'ALERT_CLOSED' | 'ALREADY_ACKNOWLEDGED' | 'RETURNED_SINCE' | 'ACK_REQUIRED' | 'REVIEW_REQUIRED' | 'FEEDBACK_REQUIRED',
    message: string,
  ) {
    super(message);
  }
}

export interface AlertContext {
  newId(): string;
  region: string;
  industry: string;
  /**
   * when the service learned of the outcome. An alarm from a reading that arrived late (a buffer
   * flushed after an outage, a clock behind by hours) keeps its own time as raisedAt, but nobody
   * could act on it before it arrived: the wait for an acknowledgement (reminders, escalation) and
   * the enterprise's feedback deadline count from its arrival. Counted from the reading, a flushed
   * alarm three hours old went to every escalation level at once.
   */
  now?: number;
  /** which alerts close only through an accepted review, and how long the enterprise has to report */
  review?: ReviewPolicy;
}

/**
 * The handling loop (处置反馈 → 核查 → 闭环): alerts of `from` and above close only through an
 * accepted review of the enterprise's feedback, which is due `withinMs` after the raise (or a
 * return). `from` null: every alert closes as before.
 */
export interface ReviewPolicy {
  from: Severity | null;
  withinMs: number;
}

export const NO_REVIEW: ReviewPolicy = { from: null, withinMs: 0 };

export const needsReview = (a: Pick<Alert, 'peakSeverity'>, p: ReviewPolicy) => p.from !== null && severityRank(a.peakSeverity) >= severityRank(p.from);

export interface Step {
  alert: Alert;
  transitions: Transition[];
}

/** A reading this much older than its arrival is late: see `AlertContext.now`. */
export const LATE_MS = 60_000;

export function applyOutcome(open: Alert | undefined, o: Outcome, ctx: AlertContext): Step | null {
  // when people could first have heard of it
  const known = ctx.now !== undefined && ctx.now - o.at > LATE_MS ? ctx.now : o.at;
  const actor = `rule:${o.ruleId}`;
  if (!open) {
    if (o.change !== 'raise' || !o.severity) return null;
    const alert: Alert = {
      id: ctx.newId(),
      key: o.key,
      rule: o.ruleId,
      ruleKind: o.ruleKind,
      enterpriseId: o.enterpriseId,
      deviceId: o.deviceId,
      metric: o.metric,
      pointId: o.pointId ?? null,
      pointName: o.pointName ?? null,
      region: ctx.region,
      industry: ctx.industry,
      severity: o.severity,
      state: 'active',
      acknowledged: false,
      raisedAt: o.at,
      activatedAt: o.at,
      awaitingAckSince: known,
      ackAt: null,
      ackBy: null,
      clearedAt: null,
      closedAt: null,
      closedBy: null,
      disposition: null,
      closeNote: null,
      value: o.value,
      peak: o.peak,
      threshold: o.threshold,
      message: o.message,
      escalationLevel: 0,
      remindedAt: null,
      overdueAt: null,
      flapping: false,
      peakSeverity: o.severity,
      feedback: null,
      review: null,
      feedbackDueAt: null,
      feedbackOverdueAt: null,
    };
    const review = ctx.review ?? NO_REVIEW;
    if (needsReview(alert, review)) alert.feedbackDueAt = known + review.withinMs;
    return { alert, transitions: [{ alertId: alert.id, at: o.at, type: 'raised', actor, severity: o.severity, value: o.value, message: o.message }] };
  }
  if (open.state === 'closed') return null;
  if (o.change === 'clear') {
    if (open.state !== 'active') return null;
    // the alert keeps the words of its alarm (an interlock's "did not act…" is what a reviewer
    // must read); the clear's own words are in the record
    const alert: Alert = { ...open, state: 'cleared', clearedAt: o.at, value: o.value ?? open.value, peak: o.peak ?? open.peak, flapping: false };
    return { alert, transitions: [{ alertId: open.id, at: o.at, type: 'cleared', actor, value: o.value, ...(o.message ? { message: o.message } : {}) }] };
  }
  const severity = o.severity as Severity;
  const base = { ...open, value: o.value, peak: o.peak, threshold: o.threshold, message: o.message, severity };
  if (open.state === 'cleared') {
    // those already told stay told (the escalation level is kept); the wait for someone starts again
    const returned = open.acknowledged ? { acknowledged: false, ackAt: null, ackBy: null, awaitingAckSince: known, remindedAt: null } : {};
    const alert: Alert = { ...base, state: 'active', clearedAt: null, activatedAt: o.at, ...returned };
    return { alert, transitions: [{ alertId: open.id, at: o.at, type: 'reactivated', actor, severity, value: o.value, message: o.message }] };
  }
  if (o.flapping && !open.flapping) {
    return {
      alert: { ...base, value: open.value, flapping: true },
      transitions: [{ alertId: open.id, at: o.at, type: 'flapping', actor, severity, note: o.message }],
    };
  }
  if (severity !== open.severity) {
    const direction = severityRank(severity) > severityRank(open.severity) ? 'rose' : 'fell';
    const peakSeverity = severityRank(severity) > severityRank(open.peakSeverity) ? severity : open.peakSeverity;
    const review = ctx.review ?? NO_REVIEW;
    // risen into the severities that need a review: from now on the enterprise's feedback is due
    const feedbackDueAt = open.feedbackDueAt ?? (needsReview({ peakSeverity }, review) ? known + review.withinMs : null);
    return {
      alert: { ...base, peakSeverity, feedbackDueAt },
      transitions: [{ alertId: open.id, at: o.at, type: 'severity_changed', actor, severity, value: o.value, message: o.message, detail: { from: open.severity, direction } }],
    };
  }
  // a worse peak: kept on the alert, not worth a line of its own in the record; `value` stays
  // the one that raised the alert (or last changed its severity), as the record shows it
  return { alert: { ...base, value: open.value }, transitions: [] };
}

/**
 * `toldAt`: when what is acknowledged was told (an acknowledge link's notice). An alarm that came
 * back after that is not what its reader saw: the return waits for someone who has seen it.
 */
/** The alarm came back after `toldAt`: what was told then is not what it is now. */
export const returnedSince = (a: Alert, toldAt: number) => ackAwaitedSince(a) > toldAt;

export function acknowledge(a: Alert, actor: string, at: number, note?: string, toldAt?: number): Step {
  if (a.state === 'closed') throw new AlertError('ALERT_CLOSED', 'the alert is closed');
  if (a.acknowledged) throw new AlertError('ALREADY_ACKNOWLEDGED', `acknowledged already by ${a.ackBy}`);
  if (toldAt !== undefined && returnedSince(a, toldAt)) throw new AlertError('RETURNED_SINCE', 'the alarm came back after this was told');
  return {
    alert: { ...a, acknowledged: true, ackAt: at, ackBy: actor },
    transitions: [{ alertId: a.id, at, type: 'acknowledged', actor, ...(note ? { note } : {}) }],
  };
}

export function close(a: Alert, actor: string, at: number, disposition: Disposition, note: string, review: ReviewPolicy = NO_REVIEW): Step {
  if (a.state === 'closed') throw new AlertError('ALERT_CLOSED', 'the alert is closed already');
  // a critical alarm is closed only after someone has taken it on: the record must show who
  if (a.severity === 'critical' && !a.acknowledged) throw new AlertError('ACK_REQUIRED', 'a critical alert must be acknowledged before it is closed');
  if (needsReview(a, review)) throw new AlertError('REVIEW_REQUIRED', `a ${a.peakSeverity} alert closes through an accepted review of the enterprise's feedback (POST …/feedback, then …/review)`);
  return closed(a, actor, at, disposition, note, { stateBefore: a.state });
}

function closed(a: Alert, actor: string, at: number, disposition: Disposition, note: string, detail: Record<string, unknown>): Step {
  return {
    alert: { ...a, state: 'closed', closedAt: at, closedBy: actor, disposition, closeNote: note, review: null },
    transitions: [{ alertId: a.id, at, type: 'closed', actor, note, detail: { disposition, ...detail } }],
  };
}

export interface Feedback {
  cause: string;
  measures: string;
  disposition: Disposition;
  photos: string[];
}

/** The enterprise reports what it found and did; an alert that needs a review now waits for one. */
export function reportFeedback(a: Alert, actor: string, at: number, f: Feedback, review: ReviewPolicy = NO_REVIEW): Step {
  if (a.state === 'closed') throw new AlertError('ALERT_CLOSED', 'the alert is closed');
  return {
    alert: { ...a, feedback: { ...f, at, by: actor }, review: needsReview(a, review) ? { state: 'awaiting', note: null, at, by: null } : a.review },
    transitions: [{ alertId: a.id, at, type: 'feedback', actor, note: `${f.cause}；${f.measures}`, detail: { ...f } }],
  };
}

/**
 * The township or regulator reviews the feedback (核查): accepted closes the alert with it as the
 * disposition; not accepted sends it back, with a note and a new deadline.
 */
export function reviewFeedback(a: Alert, actor: string, at: number, accepted: boolean, note: string, review: ReviewPolicy): Step {
  if (a.state === 'closed') throw new AlertError('ALERT_CLOSED', 'the alert is closed');
  if (!a.feedback || a.review?.state !== 'awaiting') throw new AlertError('FEEDBACK_REQUIRED', 'no feedback of the enterprise waits for a review');
  if (accepted) {
    if (a.severity === 'critical' && !a.acknowledged) throw new AlertError('ACK_REQUIRED', 'a critical alert must be acknowledged before it is closed');
    return closed(a, actor, at, a.feedback.disposition, `${a.feedback.cause}；${a.feedback.measures}`, { stateBefore: a.state, review: 'accepted', reviewNote: note, feedbackBy: a.feedback.by });
  }
  const due = at + review.withinMs;
  return {
    alert: { ...a, review: { state: 'returned', note, at, by: actor }, feedbackDueAt: due, feedbackOverdueAt: null },
    transitions: [{ alertId: a.id, at, type: 'review_returned', actor, note, detail: { feedbackDueAt: new Date(due).toISOString() } }],
  };
}
