import { describe, expect, it } from 'vitest';
import { Suspects } from '../../services/pipeline/suspects.ts';

const bytes = (text: string) => Buffer.from(text);

describe('messages that end the reading pipeline', () => {
  it('holds back a message the thread ended judging twice, by device and content', () => {
    const s = new Suspects();
    expect(s.ended('d1', bytes('a'), 0)).toBe(false);
    expect(s.heldBackNow('d1', bytes('a'))).toBe(false);
    // the same content from another device, or other content from the same device, is another message
    expect(s.ended('d2', bytes('a'), 1)).toBe(false);
    expect(s.ended('d1', bytes('b'), 1)).toBe(false);
    expect(s.ended('d1', bytes('a'), 2)).toBe(true);
    expect(s.heldBackNow('d1', bytes('a'))).toBe(true);
    expect(s.heldBackNow('d2', bytes('a'))).toBe(false);
    expect(s.heldBackNow('d1', bytes('b'))).toBe(false);
  });

  it('forgets a suspect after its time: an end long after the first is a first again', () => {
    const s = new Suspects(1000);
    expect(s.ended('d1', bytes('a'), 0)).toBe(false);
    expect(s.ended('d1', bytes('a'), 1000)).toBe(false);
    expect(s.ended('d1', bytes('a'), 1999)).toBe(true);
  });

  it('keeps at most its bound of suspects and of messages held back, letting the oldest go first', () => {
    const s = new Suspects(10 ** 9, 2);
    for (const [i, t] of ['a', 'b', 'c'].entries()) s.ended('d1', bytes(t), i);
    expect(s.size()).toBe(2);
    // 'a' was let go: a first end again
    expect(s.ended('d1', bytes('a'), 3)).toBe(false);
    for (const t of ['x', 'y', 'z']) (s.ended('d2', bytes(t), 4), s.ended('d2', bytes(t), 5));
    expect(['x', 'y', 'z'].map((t) => s.heldBackNow('d2', bytes(t)))).toEqual([false, true, true]);
  });
});
