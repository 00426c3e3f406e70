/**
 * Per-device `seq` bookkeeping: drops duplicates (a device resending what it was not sure got
 * through) and counts gaps. A window of recent numbers is kept so that readings arriving out of
 * order, as a flushed buffer does, are still accepted once each.
 *
 * A resend carries the same `ts` as the original. A known seq with a different device `ts`
 * means the device restarted its counter (a reboot), so the window starts again from it.
 * Readings without a device `ts` are de-duplicated by seq alone.
 *
 * The window is a ring of fixed size per device, not a map of the seqs seen: a map held up to
 * twice the window, each entry with a boxed time, 525 KB per device once it had sent 9 000
 * readings (the pipeline thread's heap grew by 180 MB in a minute of overload at 2 000 devices; a
 * 10 000-device fleet reporting every 10 s would have held 5 GB after a day). The ring is 20 KB
 * whatever the device sends. A time is kept as its low 32 bits: two times of one seq that differ by an
 * exact multiple of 2^32 ms (49.7 days) would read as a resend.
 */
export const WINDOW = 4096;
/** the seqs max − WINDOW … max, each at seq mod SLOTS */
const SLOTS = WINDOW + 1;

const NOT_SEEN = 0;
const WITH_DEVICE_TS = 1;
/** seen without a time of the device's (the gateway stamped it): a resend is known by its seq */
const WITHOUT_TS = 2;

/** Plain data (a cluster's partition snapshot keeps it): typed arrays survive the serializer. */
export interface SeqTracker {
  max: number;
  /** NOT_SEEN, WITH_DEVICE_TS or WITHOUT_TS, by slot */
  seen: Uint8Array;
  /** the low 32 bits of the device's ts, by slot */
  ts: Uint32Array;
}

export type SeqVerdict = { accept: true; gap: number; reset: boolean } | { accept: false };

const DUPLICATE: SeqVerdict = Object.freeze({ accept: false });
const slot = (seq: number) => seq % SLOTS;
// ToUint32 is the value modulo 2^32 for any finite number, negative or beyond 2^32
const low32 = (ts: number) => ts >>> 0;

function record(t: SeqTracker, seq: number, ts: number | null) {
  const i = slot(seq);
  t.seen[i] = ts === null ? WITHOUT_TS : WITH_DEVICE_TS;
  t.ts[i] = ts === null ? 0 : low32(ts);
}

const empty = (max: number): SeqTracker => ({ max, seen: new Uint8Array(SLOTS), ts: new Uint32Array(SLOTS) });

/** Start over from `seq` (a new device, a counter restarted), reusing `t`'s memory when there is one. */
function fresh(seq: number, ts: number | null, t?: SeqTracker): SeqTracker {
  const out = t ?? empty(seq);
  if (t) t.seen.fill(NOT_SEEN);
  out.max = seq;
  record(out, seq, ts);
  return out;
}

const inWindow = (t: SeqTracker, seq: number) => seq <= t.max && seq >= t.max - WINDOW;

export function checkSeq(t: SeqTracker | undefined, seq: number, ts: number | null): { tracker: SeqTracker; verdict: SeqVerdict } {
  if (!t) return { tracker: fresh(seq, ts), verdict: { accept: true, gap: 0, reset: false } };
  if (seq < t.max - WINDOW) return { tracker: fresh(seq, ts, t), verdict: { accept: true, gap: 0, reset: true } };
  if (seq <= t.max) {
    const i = slot(seq);
    const was = t.seen[i];
    if (was !== NOT_SEEN) {
      if (was === WITHOUT_TS || ts === null || t.ts[i] === low32(ts)) return { tracker: t, verdict: DUPLICATE };
      return { tracker: fresh(seq, ts, t), verdict: { accept: true, gap: 0, reset: true } };
    }
    record(t, seq, ts);
    return { tracker: t, verdict: { accept: true, gap: 0, reset: false } };
  }
  // a new highest seq: the slots of the seqs it passes held seqs that have now left the window
  const gap = seq - t.max - 1;
  if (gap + 1 >= SLOTS) t.seen.fill(NOT_SEEN);
  else for (let s = t.max + 1; s < seq; s++) t.seen[slot(s)] = NOT_SEEN;
  t.max = seq;
  record(t, seq, ts);
  return { tracker: t, verdict: { accept: true, gap, reset: false } };
}

/** After a restart: the stored seqs of a device with their times (the most recent window of them). */
export function trackerFrom(entries: readonly (readonly [number, number | null])[]): SeqTracker | undefined {
  if (!entries.length) return undefined;
  let max = entries[0][0];
  for (const [s] of entries) if (s > max) max = s;
  const t = empty(max);
  for (const [s, ts] of entries) if (inWindow(t, s)) record(t, s, ts);
  return t;
}

/** Seqs whose readings were not stored after all (the commit failed): a resend must be accepted. */
export function unsee(t: SeqTracker | undefined, entries: { seq: number; ts: number | null }[]) {
  if (!t) return;
  for (const { seq, ts } of entries) {
    if (!inWindow(t, seq)) continue;
    const i = slot(seq);
    // the seq was seen with this reading's ts, or with none (the gateway stamped the reading)
    if (t.seen[i] === WITHOUT_TS || (t.seen[i] === WITH_DEVICE_TS && ts !== null && t.ts[i] === low32(ts))) t.seen[i] = NOT_SEEN;
  }
}

/**
 * A tracker as a snapshot brought it back, checked (a snapshot is data from a store), copied; one
 * of an earlier version (a map of seq → ts) is converted. Anything else: none, and the device's
 * next reading starts a window.
 */
export function trackerFromSnapshot(data: unknown): SeqTracker | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { max, seen, ts } = data as Record<string, unknown>;
  if (seen instanceof Map) {
    const entries = [...seen].filter((e): e is [number, number | null] => Number.isSafeInteger(e[0]) && e[0] >= 0 && (e[1] === null || Number.isFinite(e[1])));
    return trackerFrom(entries);
  }
  if (!Number.isSafeInteger(max) || (max as number) < 0 || !(seen instanceof Uint8Array) || !(ts instanceof Uint32Array) || seen.length !== SLOTS || ts.length !== SLOTS) return undefined;
  return { max: max as number, seen: seen.slice(), ts: ts.slice() };
}
