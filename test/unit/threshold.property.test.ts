import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRules, evaluate, newEngineState } from '../../rules/engine.ts';
import { thresholdRuleSchema } from '../../rules/schema.ts';
import type { Outcome } from '../../domain/types.ts';

/** Properties of the threshold state machine over arbitrary sequences of readings. */
const rule = thresholdRuleSchema.parse({
  id: 'co',
  kind: 'threshold',
  metric: 'co_ppm',
  above: [
    { severity: 'warning', value: 24 },
    { severity: 'critical', value: 160 },
  ],
  deadband: 2,
  forS: 3,
});

const readings = fc.array(fc.record({ dt: fc.integer({ min: 0, max: 5000 }), v: fc.oneof(fc.double({ min: 0, max: 300, noNaN: true }), fc.constantFrom(22, 23.99, 24, 158, 160)) }), { maxLength: 60 });

function run(seq: { dt: number; v: number }[]) {
  const set = compileRules([{ enterpriseId: 'E', deviceId: 'D', rules: [rule] }]);
  const state = newEngineState();
  let ts = 0;
  const out: Outcome[] = [];
  const values: number[] = [];
  for (const { dt, v } of seq) {
    ts += dt;
    values.push(v);
    out.push(...evaluate(set, state, { enterpriseId: 'E', deviceId: 'D', ts, values: { co_ppm: v } }));
  }
  return { out, values, state };
}

describe('threshold state machine properties', () => {
  it('alternates raise … clear: never two raises or two clears in a row, updates only while raised', () => {
    fc.assert(
      fc.property(readings, (seq) => {
        let active = false;
        for (const o of run(seq).out) {
          if (o.change === 'raise') expect(active).toBe(false);
          else expect(active).toBe(true);
          active = o.change !== 'clear';
        }
      }),
    );
  });

  it('clears only once the value is below the lowest setpoint minus the deadband', () => {
    fc.assert(
      fc.property(readings, (seq) => {
        for (const o of run(seq).out) if (o.change === 'clear') expect(o.value as number).toBeLessThan(24 - 2);
      }),
    );
  });

  it('never raises a level the value has not reached', () => {
    fc.assert(
      fc.property(readings, (seq) => {
        for (const o of run(seq).out) {
          if (o.severity === 'critical') expect(o.peak as number).toBeGreaterThanOrEqual(160);
          if (o.severity === 'warning') expect(o.peak as number).toBeGreaterThanOrEqual(24);
        }
      }),
    );
  });

  it('ends active exactly when the last outcome was not a clear', () => {
    fc.assert(
      fc.property(readings, (seq) => {
        const { out, state } = run(seq);
        const last = out.at(-1);
        const active = state.active.has('D/co');
        expect(active).toBe(last !== undefined && last.change !== 'clear');
      }),
    );
  });

  it('gives the same outcomes however the readings are batched into messages', () => {
    fc.assert(
      fc.property(readings, fc.integer({ min: 1, max: 10 }), (seq, batch) => {
        const one = run(seq).out;
        // the gateway evaluates a batch in ts order, one reading at a time: same as one by one
        const set = compileRules([{ enterpriseId: 'E', deviceId: 'D', rules: [rule] }]);
        const state = newEngineState();
        const out: Outcome[] = [];
        let ts = 0;
        const all = seq.map(({ dt, v }) => ({ enterpriseId: 'E', deviceId: 'D', ts: (ts += dt), values: { co_ppm: v } }));
        for (let i = 0; i < all.length; i += batch) for (const r of all.slice(i, i + batch).sort((a, b) => a.ts - b.ts)) out.push(...evaluate(set, state, r));
        expect(out).toEqual(one);
      }),
    );
  });
});
