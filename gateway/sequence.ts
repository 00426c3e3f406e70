/**
 * Per-device `seq` bookkeeping: drops duplicates (a device resending what it was not sure got
 * through) and counts gaps. A window of recent numbers is kept so that readings arriving out of
 * order, as a flushed buffer does, are still accepted once each.
 */
const WINDOW = 4096;

export interface SeqTracker {
  max: number;
  seen: Set<number>;
}

export type SeqVerdict = { accept: true; gap: number } | { accept: false };

export function checkSeq(t: SeqTracker | undefined, seq: number): { tracker: SeqTracker; verdict: SeqVerdict } {
  if (!t || seq < t.max - WINDOW) {
    // first sight, or a number far below the window: the device's counter was reset
    return { tracker: { max: seq, seen: new Set([seq]) }, verdict: { accept: true, gap: 0 } };
  }
  if (t.seen.has(seq)) return { tracker: t, verdict: { accept: false } };
  t.seen.add(seq);
  let gap = 0;
  if (seq > t.max) {
    gap = seq - t.max - 1;
    t.max = seq;
    if (t.seen.size > 2 * WINDOW) for (const s of t.seen) if (s < t.max - WINDOW) t.seen.delete(s);
  }
  return { tracker: t, verdict: { accept: true, gap } };
}
