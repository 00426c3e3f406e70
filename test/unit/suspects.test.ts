import { describe, expect, it } from 'vitest';
import { Suspects } from '../../services/pipeline/suspects.ts';

const bytes = (text: string) => Buffer.from(text);
const MESSAGE = { what: 'message' };
// the rules by message, apart from the rule by device (it would hold a device back first)
const byMessageOnly = (forgetAfterMs?: number, max?: number) => new Suspects(forgetAfterMs, max, 100);

describe('messages that end the reading pipeline', () => {
  it('holds back a message the thread ended judging twice, by device and content', () => {
    const s = byMessageOnly();
    expect(s.ended('d1', bytes('a'), 0)).toBeNull();
    expect(s.heldBackNow('d1', bytes('a'), 0)).toBeNull();
    // the same content from another device, or other content from the same device, is another message
    expect(s.ended('d2', bytes('a'), 1)).toBeNull();
    expect(s.ended('d1', bytes('b'), 1)).toBeNull();
    expect(s.ended('d1', bytes('a'), 2)).toEqual(MESSAGE);
    expect(s.heldBackNow('d1', bytes('a'), 2)).toEqual(MESSAGE);
    expect(s.heldBackNow('d2', bytes('a'), 2)).toBeNull();
    expect(s.heldBackNow('d1', bytes('b'), 2)).toBeNull();
  });

  it('forgets a suspect after its time: an end long after the first is a first again', () => {
    const s = byMessageOnly(1000);
    expect(s.ended('d1', bytes('a'), 0)).toBeNull();
    expect(s.ended('d1', bytes('a'), 1000)).toBeNull();
    expect(s.ended('d1', bytes('a'), 1999)).toEqual(MESSAGE);
  });

  it('keeps at most its bound of suspects and of messages held back, letting the oldest go first', () => {
    const s = byMessageOnly(10 ** 9, 2);
    for (const [i, t] of ['a', 'b', 'c'].entries()) s.ended('d1', bytes(t), i);
    expect(s.size()).toBe(2);
    // 'a' was let go: a first end again
    expect(s.ended('d1', bytes('a'), 3)).toBeNull();
    for (const t of ['x', 'y', 'z']) (s.ended('d2', bytes(t), 4), s.ended('d2', bytes(t), 5));
    expect(['x', 'y', 'z'].map((t) => s.heldBackNow('d2', bytes(t), 5))).toEqual([null, MESSAGE, MESSAGE]);
  });

  it("holds back a device whole for a while when its messages, each a new one, end the thread three times within it", () => {
    const s = new Suspects(1000);
    expect(s.ended('d1', bytes('a'), 0)).toBeNull();
    expect(s.ended('d1', bytes('b'), 10)).toBeNull();
    // another device's end counts for that device alone
    expect(s.ended('d2', bytes('c'), 20)).toBeNull();
    expect(s.heldBackNow('d1', bytes('z'), 20)).toBeNull();
    expect(s.ended('d1', bytes('c'), 30)).toEqual({ what: 'device', until: 1030 });
    // any message of it, until then; everyone else's as before
    expect(s.heldBackNow('d1', bytes('z'), 30)).toEqual({ what: 'device', until: 1030 });
    expect(s.heldBackNow('d1', bytes('y'), 1029)).toEqual({ what: 'device', until: 1030 });
    expect(s.heldBackNow('d2', bytes('z'), 30)).toBeNull();
    // then taken again, its ends counted afresh
    expect(s.heldBackNow('d1', bytes('z'), 1030)).toBeNull();
    expect(s.ended('d1', bytes('d'), 1040)).toBeNull();
    expect(s.heldBackNow('d1', bytes('z'), 1040)).toBeNull();
  });

  it('counts only the ends within the while: ends far apart never hold a device back', () => {
    const s = new Suspects(1000);
    for (let i = 0; i < 20; i++) expect(s.ended('d1', bytes(`m${i}`), i * 500)).toBeNull();
    expect(s.heldBackNow('d1', bytes('z'), 20 * 500)).toBeNull();
  });

  it('the same message twice is held back by itself first; the third end holds the device', () => {
    const s = new Suspects(1000);
    expect(s.ended('d1', bytes('a'), 0)).toBeNull();
    expect(s.ended('d1', bytes('a'), 1)).toEqual(MESSAGE);
    expect(s.heldBackNow('d1', bytes('b'), 1)).toBeNull();
    expect(s.ended('d1', bytes('b'), 2)).toEqual({ what: 'device', until: 1002 });
    // the message stays held back after the device is taken again
    expect(s.heldBackNow('d1', bytes('a'), 5000)).toEqual(MESSAGE);
    expect(s.heldBackNow('d1', bytes('b'), 5000)).toBeNull();
  });

  it('keeps at most its bound of devices counted and held back, letting the oldest go first', () => {
    const s = new Suspects(10 ** 9, 2, 2);
    for (const d of ['d1', 'd2', 'd3']) s.ended(d, bytes('a'), 0);
    // d1's first end was let go: its next is a first again
    expect(s.ended('d1', bytes('b'), 1)).toBeNull();
    for (const d of ['e1', 'e2', 'e3']) (s.ended(d, bytes('a'), 2), s.ended(d, bytes('b'), 3));
    expect(['e1', 'e2', 'e3'].map((d) => s.heldBackNow(d, bytes('z'), 4)?.what ?? null)).toEqual([null, 'device', 'device']);
  });

  it('follows a wall clock that was wrong and is put right: a hold, an end or a suspect stamped ahead of now is let go', () => {
    const day = 86_400_000;
    const s = new Suspects(1000);
    // the clock a day ahead while a device's messages end the thread three times
    for (const [i, t] of ['a', 'b', 'c'].entries()) s.ended('d1', bytes(t), day + i);
    expect(s.heldBackNow('d1', bytes('z'), day + 3)?.what).toBe('device');
    // put right: the hold is not a day long
    expect(s.heldBackNow('d1', bytes('z'), 10)).toBeNull();
    // ends and suspects from ahead do not count now
    s.ended('d2', bytes('a'), day);
    s.ended('d2', bytes('b'), day);
    expect(s.ended('d2', bytes('a'), 20)).toBeNull();
    expect(s.ended('d2', bytes('c'), 21)).toBeNull();
    expect(s.heldBackNow('d2', bytes('z'), 22)).toBeNull();
  });
});
