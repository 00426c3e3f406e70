import { describe, expect, it } from 'vitest';
import { AlertError, acknowledge, applyOutcome, close, reportFeedback, reviewFeedback, type ReviewPolicy } from '../../services/alerts/lifecycle.ts';
import { escalate } from '../../services/alerts/escalation.ts';
import { policyFor } from '../../services/alerts/routing.ts';
import type { Alert } from '../../services/alerts/model.ts';
import type { Outcome } from '../../domain/types.ts';

let n = 0;
const ctx = { newId: () => `a${++n}`, region: '321283103', industry: 'hazchem' };
const outcome = (change: Outcome['change'], severity: Outcome['severity'], at: number, value = 50): Outcome => ({
  key: 'D/gas',
  change,
  ruleId: 'gas',
  ruleKind: 'threshold',
  enterpriseId: 'E',
  deviceId: 'D',
  metric: 'gas_lel',
  severity,
  value,
  peak: value,
  threshold: 40,
  at,
  message: 'm',
});

function raised(severity: Outcome['severity'] = 'critical'): Alert {
  return applyOutcome(undefined, outcome('raise', severity, 1000), ctx)!.alert;
}

describe('alert lifecycle', () => {
  it('opens an active, unacknowledged alert on a raise', () => {
    const step = applyOutcome(undefined, outcome('raise', 'critical', 1000), ctx)!;
    expect(step.alert).toMatchObject({ state: 'active', acknowledged: false, severity: 'critical', raisedAt: 1000, region: '321283103', escalationLevel: 0 });
    expect(step.transitions).toEqual([{ alertId: step.alert.id, at: 1000, type: 'raised', actor: 'rule:gas', severity: 'critical', value: 50, message: 'm' }]);
  });

  it('ignores a clear or an update with no open alert', () => {
    expect(applyOutcome(undefined, outcome('clear', null, 1000), ctx)).toBeNull();
    expect(applyOutcome(undefined, outcome('update', 'major', 1000), ctx)).toBeNull();
  });

  it('records severity changes in both directions within one alert', () => {
    const a = raised('major');
    const up = applyOutcome(a, outcome('update', 'critical', 2000), ctx)!;
    expect(up.alert.id).toBe(a.id);
    expect(up.transitions[0]).toMatchObject({ type: 'severity_changed', severity: 'critical', detail: { from: 'major', direction: 'rose' } });
    const down = applyOutcome(up.alert, outcome('update', 'major', 3000), ctx)!;
    expect(down.transitions[0]).toMatchObject({ detail: { direction: 'fell' } });
  });

  it('clears, then reactivates the same alert when the condition returns before it is closed', () => {
    const a = raised();
    const cleared = applyOutcome(a, outcome('clear', null, 2000, 3), ctx)!;
    expect(cleared.alert).toMatchObject({ state: 'cleared', clearedAt: 2000 });
    const again = applyOutcome(cleared.alert, outcome('raise', 'critical', 3000), ctx)!;
    expect(again.alert).toMatchObject({ id: a.id, state: 'active', clearedAt: null });
    expect(again.transitions[0].type).toBe('reactivated');
  });

  it('an alarm that returns after it was acknowledged is a new alarm to acknowledge; one never acknowledged goes on waiting from its raise', () => {
    const a = raised();
    const acked = acknowledge(applyOutcome(a, outcome('clear', null, 2000, 3), ctx)!.alert, 'op', 2500).alert;
    const back = applyOutcome(acked, outcome('raise', 'critical', 9000), ctx)!;
    expect(back.transitions[0].type).toBe('reactivated');
    expect(back.alert).toMatchObject({ id: a.id, state: 'active', acknowledged: false, ackAt: null, ackBy: null, awaitingAckSince: 9000, activatedAt: 9000, raisedAt: 1000, escalationLevel: a.escalationLevel });
    // and it can be acknowledged again, and must be before a critical alarm is closed
    expect(() => close(back.alert, 'op', 9500, 'other', 'x')).toThrowError(AlertError);
    expect(acknowledge(back.alert, 'op2', 9600).alert).toMatchObject({ acknowledged: true, ackBy: 'op2', ackAt: 9600 });
    // what was told before the return (an acknowledge link's notice) does not acknowledge it
    expect(() => acknowledge(back.alert, 'ack-link:u', 9600, undefined, 8000)).toThrowError(expect.objectContaining({ code: 'RETURNED_SINCE' }));
    expect(acknowledge(back.alert, 'ack-link:u', 9600, undefined, 9100).alert.acknowledged).toBe(true);
    const never = applyOutcome(applyOutcome(a, outcome('clear', null, 2000, 3), ctx)!.alert, outcome('raise', 'critical', 9000), ctx)!.alert;
    expect(never).toMatchObject({ acknowledged: false, awaitingAckSince: 1000, activatedAt: 9000 });
  });

  it('waits for an acknowledgement of a late alarm (a buffer flushed after an outage) from its arrival, not from its reading', () => {
    const H = 3_600_000;
    const MIN = 60_000;
    const policy = policyFor({ immediate: {}, byMetric: {}, escalation: [{ afterMin: 10, to: 'township' }, { afterMin: 30, to: 'regulator' }], reminderEveryMin: 15, closeWithinH: 24, byIndustry: {} });
    const review: ReviewPolicy = { from: 'major', withinMs: 4 * H };
    // read three hours before it arrived: raised at the reading's time, waited for from the arrival
    const late = applyOutcome(undefined, outcome('raise', 'critical', 10 * H), { ...ctx, review, now: 13 * H })!.alert;
    expect(late).toMatchObject({ raisedAt: 10 * H, activatedAt: 10 * H, awaitingAckSince: 13 * H, feedbackDueAt: 17 * H });
    // five minutes after it arrived nobody has been escalated to; counted from the reading, both levels at once
    expect(escalate(late, policy, 13 * H + 5 * MIN, true)).toBeNull();
    expect(escalate(late, policy, 13 * H + 10 * MIN, true)?.alert.escalationLevel).toBe(1);
    expect(escalate({ ...late, awaitingAckSince: late.raisedAt }, policy, 13 * H + 5 * MIN, true)?.alert.escalationLevel).toBe(2);
    // a reading a few seconds old is on time: waited for from the reading
    expect(applyOutcome(undefined, outcome('raise', 'critical', 10 * H), { ...ctx, now: 10 * H + 5000 })!.alert.awaitingAckSince).toBe(10 * H);
    // its return after an acknowledgement, late too, from its arrival
    const acked = acknowledge(applyOutcome(late, outcome('clear', null, 13 * H + MIN, 3), ctx)!.alert, 'op', 13 * H + 2 * MIN).alert;
    expect(applyOutcome(acked, outcome('raise', 'critical', 12 * H), { ...ctx, now: 14 * H })!.alert.awaitingAckSince).toBe(14 * H);
  });

  it('keeps the alarm words on a cleared alert and puts the clear words in its record', () => {
    const a = raised();
    const cleared = applyOutcome(a, { ...outcome('clear', null, 2000, 3), message: 'back to normal' }, ctx)!;
    expect(cleared.alert.message).toBe('m');
    expect(cleared.transitions[0]).toMatchObject({ type: 'cleared', message: 'back to normal' });
  });

  it('acknowledges independently of the state, once', () => {
    const a = applyOutcome(raised(), outcome('clear', null, 2000), ctx)!.alert;
    const acked = acknowledge(a, 'op', 3000, 'on my way').alert;
    expect(acked).toMatchObject({ state: 'cleared', acknowledged: true, ackAt: 3000, ackBy: 'op' });
    expect(() => acknowledge(acked, 'op2', 4000)).toThrow(AlertError);
  });

  it('needs an acknowledgement before a critical alert is closed; a warning does not', () => {
    expect(() => close(raised('critical'), 'op', 2000, 'false_alarm', 'x')).toThrow(/acknowledged before/);
    const w = close(raised('warning'), 'op', 2000, 'drill', '演练');
    expect(w.alert).toMatchObject({ state: 'closed', closedAt: 2000, closedBy: 'op', disposition: 'drill', closeNote: '演练' });
    expect(w.transitions[0]).toMatchObject({ type: 'closed', detail: { disposition: 'drill', stateBefore: 'active' } });
  });

  it('does nothing more with a closed alert', () => {
    const closed = close(raised('major'), 'op', 2000, 'other', 'x').alert;
    expect(applyOutcome(closed, outcome('raise', 'critical', 3000), ctx)).toBeNull();
    expect(() => acknowledge(closed, 'op', 3000)).toThrow(AlertError);
    expect(() => close(closed, 'op', 3000, 'other', 'x')).toThrow(AlertError);
  });
});

describe('the review loop (处置反馈 → 核查 → 闭环)', () => {
  const H = 3_600_000;
  const review: ReviewPolicy = { from: 'major', withinMs: 4 * H };
  const raisedUnder = (severity: Outcome['severity']) => applyOutcome(undefined, outcome('raise', severity, 0), { ...ctx, review })!.alert;
  const fb = { cause: 'c', measures: 'm', disposition: 'hazard_rectified' as const, photos: [] };

  it('gives alerts of major and above a feedback deadline, and a warning none until it rises', () => {
    expect(raisedUnder('critical').feedbackDueAt).toBe(4 * H);
    const warning = raisedUnder('warning');
    expect(warning.feedbackDueAt).toBeNull();
    const rose = applyOutcome(warning, outcome('update', 'major', 1000), { ...ctx, review })!.alert;
    expect(rose).toMatchObject({ peakSeverity: 'major', feedbackDueAt: 1000 + 4 * H });
    // and falling back does not let it close without a review
    const fell = applyOutcome(rose, outcome('update', 'warning', 2000), { ...ctx, review })!.alert;
    expect(() => close(fell, 'op', 3000, 'other', 'x', review)).toThrow(/closes through an accepted review/);
  });

  it('closes only through an accepted review of the feedback; a return sets a new deadline', () => {
    const a = acknowledge(raisedUnder('critical'), 'ent', 10).alert;
    expect(() => close(a, 'ent', 20, 'other', 'x', review)).toThrow(AlertError);
    expect(() => reviewFeedback(a, 'reg', 20, true, 'ok', review)).toThrow(/no feedback/);
    const reported = reportFeedback(a, 'ent', 30, fb, review).alert;
    expect(reported.review).toMatchObject({ state: 'awaiting' });
    const returned = reviewFeedback(reported, 'reg', 40, false, 'more', review);
    expect(returned.alert).toMatchObject({ state: 'active', review: { state: 'returned', note: 'more' }, feedbackDueAt: 40 + 4 * H });
    expect(() => reviewFeedback(returned.alert, 'reg', 50, true, 'ok', review)).toThrow(/no feedback/);
    const again = reportFeedback(returned.alert, 'ent', 60, fb, review).alert;
    const accepted = reviewFeedback(again, 'reg', 70, true, 'ok', review);
    expect(accepted.alert).toMatchObject({ state: 'closed', closedBy: 'reg', disposition: 'hazard_rectified', closeNote: 'c；m', review: null });
    expect(accepted.transitions[0]).toMatchObject({ type: 'closed', detail: { review: 'accepted', reviewNote: 'ok', feedbackBy: 'ent' } });
  });

  it('escalates feedback not given by its deadline to the regulator, once per deadline', () => {
    const policy = policyFor({ immediate: {}, byMetric: {}, escalation: [], byIndustry: {} });
    const a = acknowledge(raisedUnder('critical'), 'ent', 10).alert;
    expect(escalate(a, policy, 4 * H - 1, true)).toBeNull();
    const step = escalate(a, policy, 4 * H, true)!;
    expect(step.transitions.map((t) => t.type)).toEqual(['feedback_overdue']);
    expect(escalate(step.alert, policy, 5 * H, true)).toBeNull();
    // given in time and waiting for the regulator: not the enterprise's overdue
    expect(escalate(reportFeedback(a, 'ent', 20, fb, review).alert, policy, 5 * H, true)).toBeNull();
  });
});
