import { describe, expect, it } from 'vitest';
import { arrivedAt, keep, latestData, noValues, valueAt, valuesFrom } from '../../rules/latest-values.ts';

/** A device's latest values in one typed array: what goes in comes out as the device sent it. */
describe('latest values by slot', () => {
  const slots = new Map([
    ['gas_lel', 0],
    ['valve', 1],
    ['spare', 2],
  ]);

  it('gives back numbers and switches as sent, and nothing for a point never heard', () => {
    const v = noValues(slots);
    keep(v, 0, 0, 1000, 1005);
    keep(v, 1, false, 1000, 1005);
    expect([valueAt(v, 0), valueAt(v, 1), valueAt(v, 2), valueAt(v, undefined)]).toEqual([0, false, undefined, undefined]);
    expect([arrivedAt(v, 0), arrivedAt(v, 2), arrivedAt(v, undefined)]).toEqual([1005, undefined, undefined]);
    keep(v, 1, true, 2000, 2001);
    keep(v, 0, -3.5, 2000, 2001);
    expect([valueAt(v, 0), valueAt(v, 1)]).toEqual([-3.5, true]);
  });

  it('does not let a late reading overwrite a newer value; one of the same time does', () => {
    const v = noValues(slots);
    keep(v, 0, 10, 2000, 2000);
    keep(v, 0, 99, 1999, 2500);
    expect([valueAt(v, 0), arrivedAt(v, 0)]).toEqual([10, 2000]);
    keep(v, 0, 11, 2000, 2600);
    expect([valueAt(v, 0), arrivedAt(v, 0)]).toEqual([11, 2600]);
  });

  it('goes to data and back, keeping only the points of the new slots and only numbers and switches', () => {
    const v = noValues(slots);
    keep(v, 0, 12, 1000, 1001);
    keep(v, 1, true, 1000, 1002);
    const data = latestData(slots, v);
    expect(Object.getPrototypeOf(data.latest)).toBeNull();
    expect({ ...data.latest }).toEqual({ gas_lel: 12, valve: true });
    // another layout: the valve is gone, a new point; hostile keys and values from a stored snapshot are ignored
    const next = new Map([
      ['co_ppm', 0],
      ['gas_lel', 1],
      ['__proto__', 2],
      ['toString', 3],
    ]);
    const hostile = { ...data, latest: Object.assign(Object.create(null), data.latest, { co_ppm: 'x', toString: {} }) };
    const w = valuesFrom(next, hostile);
    expect([valueAt(w, 0), valueAt(w, 1), valueAt(w, 2), valueAt(w, 3), arrivedAt(w, 1)]).toEqual([undefined, 12, undefined, undefined, 1001]);
  });
});
