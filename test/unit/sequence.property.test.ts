import fc from 'fast-check';
import { serialize, deserialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { checkSeq, trackerFrom, trackerFromSnapshot, unsee, WINDOW, type SeqTracker, type SeqVerdict } from '../../gateway/sequence.ts';

/**
 * The window as it was first written: a map of every seq seen with its time, the rules spelled
 * out once more. The ring must answer as it does for every run of readings and forgotten seqs.
 */
class Reference {
  max = -1;
  seen = new Map<number, number | null>();
  check(seq: number, ts: number | null): SeqVerdict {
    if (this.max < 0 || seq < this.max - WINDOW) return this.start(seq, ts, this.max >= 0);
    if (this.seen.has(seq)) {
      const was = this.seen.get(seq)!;
      if (was === null || ts === null || was === ts) return { accept: false };
      return this.start(seq, ts, true);
    }
    this.seen.set(seq, ts);
    const gap = seq > this.max ? seq - this.max - 1 : 0;
    this.max = Math.max(this.max, seq);
    return { accept: true, gap, reset: false };
  }
  private start(seq: number, ts: number | null, reset: boolean): SeqVerdict {
    this.max = seq;
    this.seen = new Map([[seq, ts]]);
    return { accept: true, gap: 0, reset };
  }
  unsee(seq: number, ts: number | null) {
    const was = this.seen.get(seq);
    if (this.seen.has(seq) && (was === null || was === ts)) this.seen.delete(seq);
  }
}

type Step = { kind: 'reading'; jump: number; ts: number | null } | { kind: 'unsee'; back: number; ts: number | null };

// jumps mostly small (resends, a flushed buffer, gaps), some across the window's edge
const jump = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -6, max: 6 }) },
  { weight: 2, arbitrary: fc.integer({ min: WINDOW - 3, max: WINDOW + 3 }).chain((n) => fc.constantFrom(n, -n)) },
  { weight: 1, arbitrary: fc.integer({ min: -3 * WINDOW, max: 3 * WINDOW }) },
);
// a few times, so that resends (the same time) and restarted counters (another) both happen
const ts = fc.option(fc.constantFrom(1_700_000_000_000, 1_700_000_600_000, 0), { nil: null, freq: 4 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('reading' as const), jump, ts }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('unsee' as const), back: fc.integer({ min: 0, max: 30 }), ts }) },
);

describe('seq window', () => {
  it('answers every reading as the map of seqs seen did, forgotten seqs included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 * WINDOW }), fc.array(step, { maxLength: 300 }), (start, steps) => {
        const ref = new Reference();
        let tracker: SeqTracker | undefined;
        let seq = start;
        for (const s of steps) {
          if (s.kind === 'reading') {
            seq = Math.max(0, seq + s.jump);
            const got = checkSeq(tracker, seq, s.ts);
            tracker = got.tracker;
            expect(got.verdict).toEqual(ref.check(seq, s.ts));
          } else {
            const at = Math.max(0, seq - s.back);
            unsee(tracker, [{ seq: at, ts: s.ts }]);
            ref.unsee(at, s.ts);
          }
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps the same few kilobytes per device however many readings it sends, and still knows the last window of them', () => {
    let tracker: SeqTracker | undefined;
    const t0 = 1_700_000_000_000;
    for (let s = 1; s <= 100_000; s++) tracker = checkSeq(tracker, s, t0 + s * 1000).tracker;
    expect(tracker!.seen.byteLength + tracker!.ts.byteLength).toBeLessThan(21 * 1024);
    // a resend of the window's oldest is known; one just below it starts the window again
    expect(checkSeq(tracker, 100_000 - WINDOW, t0 + (100_000 - WINDOW) * 1000).verdict).toEqual({ accept: false });
    expect(checkSeq(tracker, 100_000 - WINDOW - 1, t0 + (100_000 - WINDOW - 1) * 1000).verdict).toMatchObject({ accept: true, reset: true });
  });

  it('is primed from stored seqs after a restart, and goes through a snapshot (and one of the map it replaced)', () => {
    const stored: [number, number][] = Array.from({ length: 50 }, (_, i) => [1000 + i, 1_700_000_000_000 + i]);
    const primed = trackerFrom(stored)!;
    expect(checkSeq(primed, 1010, 1_700_000_000_010).verdict).toEqual({ accept: false });
    const back = trackerFromSnapshot(deserialize(serialize(primed)))!;
    expect(checkSeq(back, 1020, 1_700_000_000_020).verdict).toEqual({ accept: false });
    expect(checkSeq(back, 1050, 1_700_000_000_050).verdict).toEqual({ accept: true, gap: 0, reset: false });
    const older = trackerFromSnapshot(deserialize(serialize({ max: 1049, seen: new Map(stored) })))!;
    expect(checkSeq(older, 1049, 1_700_000_000_049).verdict).toEqual({ accept: false });
    // what a store could hand back that is not a window: none, and the next reading starts one
    for (const bad of [null, 5, { max: -1, seen: new Uint8Array(WINDOW + 1), ts: new Uint32Array(WINDOW + 1) }, { max: 3, seen: new Uint8Array(2), ts: new Uint32Array(2) }, { max: 3, seen: [], ts: [] }])
      expect(trackerFromSnapshot(bad)).toBeUndefined();
  });
});
