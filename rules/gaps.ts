import type { RuleImpl, Verdict, Verdicts } from './kind.ts';
import type { GapsRuleDef } from './schema.ts';

/**
 * Missing readings, seen from `seq`: more than `maxMissing` numbers skipped within the window.
 * A reading that arrives late fills its gap again (a device flushing its buffer after an outage).
 */
export interface GapsState {
  lastSeq: number | null;
  /** [when the gap was seen, how many were missing] */
  gaps: [number, number][];
}

export function gapsRule(def: GapsRuleDef): RuleImpl<GapsState> {
  return {
    id: def.id,
    kind: 'gaps',
    metric: '_device',
    perMetric: false,
    triggers: '*',
    init: () => ({ lastSeq: null, gaps: [] }),
    // an alert still open after a restart: the readings it found missing count as missing now, for
    // one window (the gaps before the restart are not read again; a fresh state cleared the
    // warning at the next reading in sequence)
    seed: (_severity, peak, _point, at) => ({ lastSeq: null, gaps: typeof peak === 'number' && peak > 0 ? [[at, peak]] : [] }),
    onReading(s, r, _d, now, out) {
      if (r.seq === undefined) return s;
      if (s.gaps.length === 0 && s.lastSeq !== null && r.seq === s.lastSeq + 1) {
        // in sequence with nothing missing: the common case, updated in place
        s.lastSeq = r.seq;
        return s;
      }
      return regap(def, s, r.seq, now, out);
    },
  };
}

/**
 * A reading out of sequence: the gaps within the window, and a verdict on them. Apart from the
 * handler: a closure over its arguments would cost an allocation on every reading, in sequence or not.
 */
function regap(def: GapsRuleDef, s: GapsState, seq: number, now: number, out: Verdicts): GapsState {
  let gaps = s.gaps.filter(([t]) => now - t <= def.windowS * 1000);
  let lastSeq = s.lastSeq;
  if (lastSeq === null || seq > lastSeq) {
    if (lastSeq !== null && seq > lastSeq + 1) gaps = [...gaps, [now, seq - lastSeq - 1]];
    lastSeq = seq;
  } else if (gaps.length) {
    // a late reading fills one missing number of the newest gap
    const [t, n] = gaps.at(-1)!;
    gaps = n > 1 ? [...gaps.slice(0, -1), [t, n - 1]] : gaps.slice(0, -1);
  }
  out.push(missingVerdict(def, gaps.reduce((sum, [, n]) => sum + n, 0)));
  return { lastSeq, gaps };
}

function missingVerdict(def: GapsRuleDef, missing: number): Verdict {
  return {
    metric: '',
    severity: missing > def.maxMissing ? def.severity : null,
    value: missing,
    threshold: def.maxMissing,
    message: () => def.message ?? `${def.windowS} 秒内缺失 ${missing} 条数据（按序号）/ ${missing} readings missing (by seq) within ${def.windowS} s`,
  };
}
