import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules, evaluate, forget, newEngineState, tick } from '../../rules/engine.ts';
import { ruleSchema } from '../../rules/schema.ts';
import type { Outcome } from '../../domain/types.ts';
import { acknowledge, applyOutcome, close } from '../../services/alerts/lifecycle.ts';
import type { Alert, Transition } from '../../services/alerts/model.ts';

/**
 * The rules engine and the alert lifecycle together, over arbitrary sequences of readings,
 * clock ticks and people acknowledging and closing alerts.
 */
const rules = [
  { id: 'gas', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'major', value: 20 }, { severity: 'critical', value: 40 }], deadband: 2, forS: 2 },
  { id: 'shutoff', kind: 'interlock', when: 'gas_lel >= 40', expect: { gas_shutoff_valve_closed: true }, withinS: 3 },
  { id: 'off', kind: 'offline', afterIntervals: 3 },
].map((r) => ruleSchema.parse(r));

const event = fc.oneof(
  fc.record({ type: fc.constant('reading' as const), dt: fc.integer({ min: 0, max: 4000 }), gas: fc.oneof(fc.double({ min: 0, max: 80, noNaN: true }), fc.constantFrom(18, 20, 38, 40)), valve: fc.boolean() }),
  fc.record({ type: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 20_000 }) }),
  fc.record({ type: fc.constant('close' as const), which: fc.nat(), ack: fc.boolean() }),
);

function run(events: (typeof event extends fc.Arbitrary<infer T> ? T : never)[]) {
  const set = compileRules([{ enterpriseId: 'E', deviceId: 'D', rules, reportIntervalS: 5 }]);
  const engine = newEngineState(0);
  const open = new Map<string, Alert>();
  const all = new Map<string, Alert>();
  const records = new Map<string, Transition[]>();
  let now = 0;
  let n = 0;
  const commit = (alert: Alert, ts: Transition[]) => {
    all.set(alert.id, alert);
    records.set(alert.id, [...(records.get(alert.id) ?? []), ...ts]);
    if (alert.state === 'closed') open.delete(alert.key);
    else open.set(alert.key, alert);
  };
  const handle = (outcomes: Outcome[]) => {
    for (const o of outcomes) {
      const step = applyOutcome(open.get(o.key), o, { newId: () => `a${++n}`, region: 'R', industry: 'hazchem' });
      if (step) commit(step.alert, step.transitions);
    }
  };
  for (const e of events) {
    if (e.type === 'reading') {
      now += e.dt;
      handle(evaluate(set, engine, { enterpriseId: 'E', deviceId: 'D', ts: now, values: { gas_lel: e.gas, gas_shutoff_valve_closed: e.valve } }, now));
    } else if (e.type === 'tick') {
      now += e.dt;
      handle(tick(set, engine, now));
    } else {
      const list = [...open.values()];
      if (!list.length) continue;
      let a = list[e.which % list.length];
      if (e.ack && !a.acknowledged) {
        const s = acknowledge(a, 'op', now);
        commit(s.alert, s.transitions);
        a = s.alert;
      }
      if (a.severity === 'critical' && !a.acknowledged) continue;
      const s = close(a, 'op', now, 'other', 'x');
      commit(s.alert, s.transitions);
      if (a.state === 'active') forget(engine, a.key);
    }
  }
  return { engine, open, all, records };
}

const NEXT: Record<string, string[]> = {
  start: ['raised'],
  active: ['severity_changed', 'cleared', 'closed', 'acknowledged', 'flapping'],
  cleared: ['reactivated', 'closed', 'acknowledged'],
  closed: [],
};

describe('rules and alerts together', () => {
  it('every alert follows the lifecycle: raised first, nothing after closed, at most one open per rule and point', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 80 }), (events) => {
        const { all, records, open } = run(events);
        for (const [id, lines] of records) {
          let state = 'start';
          for (const t of lines) {
            expect(NEXT[state], `${id}: ${t.type} after ${state}`).toContain(t.type);
            if (t.type === 'raised' || t.type === 'reactivated') state = 'active';
            if (t.type === 'cleared') state = 'cleared';
            if (t.type === 'closed') state = 'closed';
          }
          expect(all.get(id)!.state).toBe(state);
        }
        const openKeys = [...all.values()].filter((a) => a.state !== 'closed').map((a) => a.key);
        expect(new Set(openKeys).size).toBe(openKeys.length);
        expect(open.size).toBe(openKeys.length);
      }),
      { numRuns: 200 },
    );
  });

  it('an alert is active exactly while its rule holds it; every raised alert ends cleared, closed or still active', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 80 }), (events) => {
        const { engine, open } = run(events);
        for (const a of open.values()) expect(engine.active.has(a.key)).toBe(a.state === 'active');
        for (const key of engine.active.keys()) expect(open.get(key)?.state).toBe('active');
      }),
      { numRuns: 200 },
    );
  });

  it('no alert is both closed and open, and a closed alert is never changed again', () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 80 }), (events) => {
        const { all, open, records } = run(events);
        for (const a of all.values()) {
          if (a.state === 'closed') {
            expect([...open.values()].some((o) => o.id === a.id)).toBe(false);
            expect(records.get(a.id)!.at(-1)!.type).toBe('closed');
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
