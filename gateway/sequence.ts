/**
 * Per-device `seq` bookkeeping: drops duplicates (a device resending what it was not sure got
 * through) and counts gaps. A window of recent numbers is kept so that readings arriving out of
 * order, as a flushed buffer does, are still accepted once each.
 *
 * A resend carries the same `ts` as the original. A known seq with a different device `ts`
 * means the device restarted its counter (a reboot), so the window starts again from it.
 * Readings without a device `ts` are de-duplicated by seq alone.
 */
const WINDOW = 4096;

export interface SeqTracker {
  max: number;
  /** seq → the device's ts for it (null when the gateway stamped the time) */
  seen: Map<number, number | null>;
}

export type SeqVerdict = { accept: true; gap: number; reset: boolean } | { accept: false };

const fresh = (seq: number, ts: number | null): SeqTracker => ({ max: seq, seen: new Map([[seq, ts]]) });

export function checkSeq(t: SeqTracker | undefined, seq: number, ts: number | null): { tracker: SeqTracker; verdict: SeqVerdict } {
  if (!t) return { tracker: fresh(seq, ts), verdict: { accept: true, gap: 0, reset: false } };
  if (seq < t.max - WINDOW) return { tracker: fresh(seq, ts), verdict: { accept: true, gap: 0, reset: true } };
  if (t.seen.has(seq)) {
    const was = t.seen.get(seq)!;
    if (was === null || ts === null || was === ts) return { tracker: t, verdict: { accept: false } };
    return { tracker: fresh(seq, ts), verdict: { accept: true, gap: 0, reset: true } };
  }
  t.seen.set(seq, ts);
  let gap = 0;
  if (seq > t.max) {
    gap = seq - t.max - 1;
    t.max = seq;
    if (t.seen.size > 2 * WINDOW) for (const s of t.seen.keys()) if (s < t.max - WINDOW) t.seen.delete(s);
  }
  return { tracker: t, verdict: { accept: true, gap, reset: false } };
}

export function trackerFrom(entries: [number, number | null][]): SeqTracker | undefined {
  if (!entries.length) return undefined;
  return { max: Math.max(...entries.map(([s]) => s)), seen: new Map(entries) };
}

/** Seqs whose readings were not stored after all (the commit failed): a resend must be accepted. */
export function unsee(t: SeqTracker | undefined, entries: { seq: number; ts: number | null }[]) {
  if (!t) return;
  // the seq was seen with this reading's ts, or with none (the gateway stamped the reading)
  for (const { seq, ts } of entries) {
    const was = t.seen.get(seq);
    if (was === ts || (was === null && t.seen.has(seq))) t.seen.delete(seq);
  }
}
