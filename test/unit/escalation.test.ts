import { describe, expect, it } from 'vitest';
import { escalate } from '../../services/alerts/escalation.ts';
import { applyOutcome, acknowledge, close } from '../../services/alerts/lifecycle.ts';
import type { Alert } from '../../services/alerts/model.ts';
import { policyFor } from '../../services/alerts/routing.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 22, 0, 0, 0);
const policy = policyFor({ immediate: {}, byMetric: {}, escalation: [{ afterMin: 10, to: 'township' }, { afterMin: 30, to: 'regulator' }], reminderEveryMin: 15, closeWithinH: 2, byIndustry: {} });

function raised(): Alert {
  return applyOutcome(undefined, { key: 'D/gas', change: 'raise', ruleId: 'gas', ruleKind: 'threshold', enterpriseId: 'E', deviceId: 'D', metric: 'gas_lel', severity: 'critical', value: 45, peak: 45, threshold: 40, at: T0, message: 'm' }, { newId: () => 'a1', region: 'R', industry: 'hazchem' })!.alert;
}

/** Runs the escalation every minute up to `minutes`, returning what happened when. */
function run(a: Alert, minutes: number, onMinute: (m: number, a: Alert) => Alert = (_, x) => x, anyoneTold = true) {
  const events: string[] = [];
  for (let m = 1; m <= minutes; m++) {
    a = onMinute(m, a);
    const step = escalate(a, policy, T0 + m * MIN, anyoneTold);
    if (!step) continue;
    a = step.alert;
    for (const t of step.transitions) events.push(`${m}:${t.type}${t.detail?.to ? `→${t.detail.to}` : ''}`);
  }
  return { events, alert: a };
}

describe('escalation', () => {
  it('climbs to the township at 10 min and the regulator at 30 min, reminding every 15 min, while nobody acknowledges', () => {
    expect(run(raised(), 60).events).toEqual(['10:escalated→township', '15:reminded', '30:escalated→regulator', '30:reminded', '45:reminded', '60:reminded']);
  });

  it('stops escalating and reminding once acknowledged', () => {
    const { events } = run(raised(), 60, (m, a) => (m === 12 ? acknowledge(a, 'op', T0 + m * MIN).alert : a));
    expect(events).toEqual(['10:escalated→township']);
  });

  it('an acknowledged alarm that returns is waited on again from its return: reminders and the next step count from then', () => {
    const gas = (change: 'raise' | 'clear', at: number) => ({ key: 'D/gas', change, ruleId: 'gas', ruleKind: 'threshold' as const, enterpriseId: 'E', deviceId: 'D', metric: 'gas_lel', severity: change === 'raise' ? ('critical' as const) : null, value: 45, peak: 45, threshold: 40, at, message: 'm' });
    const ctx = { newId: () => 'a1', region: 'R', industry: 'hazchem' };
    // the township was told at 10 min, the operator acknowledged at 12, the gas cleared at 20 and came back at 90
    const { events } = run(raised(), 160, (m, a) => {
      if (m === 12) return acknowledge(a, 'op', T0 + m * MIN).alert;
      if (m === 20) return applyOutcome(a, gas('clear', T0 + m * MIN), ctx)!.alert;
      if (m === 90) return applyOutcome(a, gas('raise', T0 + m * MIN), ctx)!.alert;
      return a;
    });
    // the regulator is told 30 min after the return, not at once for an alarm "two hours unacknowledged"
    // (the overdue at 120 min is closeWithinH's, from the raise)
    expect(events).toEqual(['10:escalated→township', '105:reminded', '120:escalated→regulator', '120:reminded', '120:overdue', '135:reminded', '150:reminded']);
  });

  it('takes steps missed while the service was down at once, each recorded', () => {
    const step = escalate(raised(), policy, T0 + 40 * MIN, true)!;
    expect(step.transitions.map((t) => [t.type, t.detail?.to ?? null])).toEqual([
      ['escalated', 'township'],
      ['escalated', 'regulator'],
      ['reminded', null],
    ]);
    expect(step.alert.escalationLevel).toBe(2);
  });

  it('tells the regulator once of an alert not closed within closeWithinH, acknowledged or not', () => {
    const acked = acknowledge(raised(), 'op', T0 + MIN).alert;
    const { events } = run(acked, 180);
    expect(events).toEqual(['120:overdue']);
  });

  it('does nothing with a closed alert, and reminds nobody when nobody was told', () => {
    const done = close(acknowledge(raised(), 'op', T0).alert, 'op', T0, 'other', 'x').alert;
    expect(escalate(done, policy, T0 + 300 * MIN, true)).toBeNull();
    expect(run(raised(), 14, undefined, false).events).toEqual(['10:escalated→township']);
  });
});
