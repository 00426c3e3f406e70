import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileExpression } from 'filtrex';
import { compileCondition } from '../../rules/expression.ts';
import type { Value } from '../../domain/types.ts';

/** Interlock conditions over the latest values, some of which a device may not have sent yet. */
describe('a condition over several points', () => {
  const values = (o: Record<string, Value>) => Object.assign(Object.create(null) as Record<string, Value>, o);

  it('does not hold while a point it reads has no value, and holds when what it read is enough', () => {
    const c = compileCondition('cooling_water_flow < 30 or cooling_water_pressure < 0.2');
    expect(c.names).toEqual(['cooling_water_flow', 'cooling_water_pressure']);
    // the flow alone decides it: the pressure is never read
    expect(c(values({ cooling_water_flow: 10 }))).toBe(true);
    expect(c(values({ cooling_water_flow: 50 }))).toBe(false);
    expect(c(values({ cooling_water_flow: 50, cooling_water_pressure: 0.1 }))).toBe(true);
    expect(c(values({ cooling_water_pressure: 0.1 }))).toBe(false);
    // a missing value is no reason to hold, negated or not
    expect(compileCondition('not (cooling_water_pressure < 0.2)')(values({}))).toBe(false);
    expect(compileCondition('cooling_water_pressure != 1')(values({}))).toBe(false);
    // names from the prototype of a plain object are no values
    expect(compileCondition('toString == toString or constructor')(values({}))).toBe(false);
    expect(compileCondition('toString == toString or constructor')({} as Record<string, Value>)).toBe(false);
  });

  it('answers as filtrex itself does, whatever values are missing', () => {
    const sources = [
      'a < 30 or b < 0.2',
      'a < 30 and b < 0.2',
      'not (a > 1) or c',
      '(a + b) * 2 > c and not c',
      'c == true and (a >= 40 or b <= 5)',
      'abs(a - b) > 3 or max(a, b) < 0',
      'if c then a > 1 else b > 1',
    ];
    const value = fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.boolean());
    fc.assert(
      fc.property(fc.constantFrom(...sources), fc.record({ a: value, b: value, c: value }, { requiredKeys: [] }), (source, given) => {
        const plain = compileExpression(source, { constants: { true: true, false: false } });
        const r = plain(values(given));
        expect(compileCondition(source)(values(given))).toBe(r === true || r === 1);
      }),
      { numRuns: 400 },
    );
  });
});
