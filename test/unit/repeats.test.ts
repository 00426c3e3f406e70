import { describe, expect, it } from 'vitest';
import { Repeats } from '../../gateway/repeats.ts';

describe('repeats said once a window', () => {
  it('says the first at once, then stays quiet for the window, then says how many there were', () => {
    const r = new Repeats(60_000);
    expect(r.happened('a', 0)).toBe(1);
    expect([1, 2, 3].map((t) => r.happened('a', t * 1000))).toEqual([0, 0, 0]);
    // another key is its own
    expect(r.happened('b', 5000)).toBe(1);
    expect(r.happened('a', 60_000)).toBe(4);
    expect(r.happened('a', 60_001)).toBe(0);
  });

  it('keeps at most maxKeys: keys said a window ago go first, then all (keys from outside cannot grow it)', () => {
    const r = new Repeats(60_000, 3);
    for (const k of ['a', 'b', 'c']) r.happened(k, 0);
    // a window later: the old keys go, the new one stays
    expect(r.happened('d', 60_000)).toBe(1);
    expect(r.happened('a', 60_001)).toBe(1);
    expect(r.happened('d', 60_002)).toBe(0);
    // four fresh keys within the window: all forgotten, so each is said again
    for (const k of ['e', 'f', 'g']) r.happened(k, 60_003);
    expect(r.happened('d', 60_004)).toBe(1);
  });
});
