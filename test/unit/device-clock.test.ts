import { describe, expect, it } from 'vitest';
import { decodeNotes, decodeTelemetry } from '../../gateway/decode.ts';
import { TelemetryIntake } from '../../gateway/ingest.ts';
import { ruleSchema } from '../../rules/schema.ts';
import { clockFromOpenAlert, clockGone, clockStateFromSnapshot, NOTHING_SEEN, QUIET_TO_CLEAR_MS, RIGHT_TO_CLEAR, watchClock, WRONG_TO_RAISE, type ClockSeen, type ClockState } from '../../rules/device-clock.ts';

/**
 * A device's clock, watched from the times its readings carry: raised on the third wrong time in a
 * row, `major` while readings are refused (ahead), `warning` while they are kept as of arrival
 * (behind); cleared on the third right time in a row.
 */
const device = { enterpriseId: 'E', deviceId: 'gas-1' };
const AT = Date.UTC(2026, 11, 6, 8);
const LATER = AT + QUIET_TO_CLEAR_MS + 60_000;
const seen = (over: Partial<ClockSeen>): ClockSeen => ({ ...NOTHING_SEEN, ...over });
const AHEAD = seen({ ahead: 1, worstMs: 8 * 3_600_000 });
const BEHIND = seen({ behind: 1, worstMs: -(AT - Date.UTC(2000, 0, 1)) });
const RIGHT = seen({ right: 1 });

/** messages one after another: the outcomes they made, and the state left */
/** a second apart, from `from`: by default, for a state carried on, once its quiet time is over */
function feed(messages: ClockSeen[], state?: ClockState, from = state ? LATER : AT) {
  const outcomes = [];
  for (const [i, m] of messages.entries()) {
    const step = watchClock(state, m, device, from + i * 1000);
    state = step.state;
    if (step.outcome) outcomes.push(step.outcome);
  }
  return { outcomes, state };
}

describe('the device clock watch', () => {
  it('raises at the third time in a row too far ahead, as major, with the offset in its words', () => {
    expect(feed(Array(WRONG_TO_RAISE - 1).fill(AHEAD)).outcomes).toEqual([]);
    const { outcomes, state } = feed(Array(WRONG_TO_RAISE + 2).fill(AHEAD));
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ key: 'gas-1/device-clock', change: 'raise', ruleId: 'device-clock', ruleKind: 'clock', enterpriseId: 'E', deviceId: 'gas-1', metric: '_device', severity: 'major', value: 28_800, at: AT + 2000 });
    expect(outcomes[0].message).toContain('8.0 h ahead');
    expect(outcomes[0].message).toContain('TS_IN_FUTURE');
    expect(state).toMatchObject({ raised: 'ahead', wrong: WRONG_TO_RAISE + 2 });
  });

  it('raises a warning for a clock that lost its time (readings kept as of arrival), in days', () => {
    const { outcomes } = feed(Array(WRONG_TO_RAISE).fill(BEHIND));
    expect(outcomes.map((o) => [o.change, o.severity])).toEqual([['raise', 'warning']]);
    expect(outcomes[0].message).toMatch(/\d+ d behind/);
  });

  it('counts every reading of a message: three refused in one batch raise at once', () => {
    expect(feed([seen({ ahead: 3, worstMs: 600_000 })]).outcomes.map((o) => o.severity)).toEqual(['major']);
  });

  it('takes one stray time for no broken clock: a right time before the third starts the count again', () => {
    const { outcomes, state } = feed([AHEAD, AHEAD, RIGHT, AHEAD, AHEAD]);
    expect(outcomes).toEqual([]);
    expect(state?.wrong).toBe(2);
    // and a right time with nothing wrong remembered leaves nothing to remember
    expect(feed([AHEAD, RIGHT]).state).toBeUndefined();
  });

  it('clears at the third right time in a row, and a wrong one before it starts that count again', () => {
    const raised = feed(Array(WRONG_TO_RAISE).fill(AHEAD)).state;
    expect(feed(Array(RIGHT_TO_CLEAR - 1).fill(RIGHT), raised).outcomes).toEqual([]);
    const back = feed([RIGHT, RIGHT, AHEAD, RIGHT, RIGHT], raised);
    expect(back.outcomes).toEqual([]);
    expect(back.state?.raised).toBe('ahead');
    const { outcomes, state } = feed(Array(RIGHT_TO_CLEAR).fill(RIGHT), raised);
    expect(outcomes.map((o) => [o.change, o.severity, o.key])).toEqual([['clear', null, 'gas-1/device-clock']]);
    expect(state).toBeUndefined();
  });

  it('clears no sooner than five minutes after the last wrong time, however many right ones came (a device cannot make it come and go)', () => {
    const raised = feed(Array(WRONG_TO_RAISE).fill(AHEAD)).state!;
    expect(feed(Array(20).fill(RIGHT), raised, AT + 10_000).outcomes).toEqual([]);
    const quietEnds = raised.lastWrongAt + QUIET_TO_CLEAR_MS;
    const early = feed(Array(RIGHT_TO_CLEAR).fill(RIGHT), raised, quietEnds - RIGHT_TO_CLEAR * 1000);
    expect(early.outcomes).toEqual([]);
    // the right times before still count: the next one after the quiet time clears
    expect(feed([RIGHT], early.state, quietEnds).outcomes.map((o) => o.change)).toEqual(['clear']);
  });

  it('moves the alert to the worse way at once, and back only once nothing came ahead for the quiet time', () => {
    const { outcomes, state } = feed([...Array(WRONG_TO_RAISE).fill(BEHIND), AHEAD, AHEAD, BEHIND]);
    expect(outcomes.map((o) => o.severity)).toEqual(['warning', 'major']);
    expect(feed([BEHIND], state, state!.lastAheadAt + QUIET_TO_CLEAR_MS).outcomes.map((o) => o.severity)).toEqual(['warning']);
    // a clock swinging between ahead and behind at every message moves nothing (the probe's swing)
    expect(feed(Array.from({ length: 200 }, (_, i) => (i % 2 ? BEHIND : AHEAD))).outcomes.map((o) => o.severity)).toEqual(['major']);
    // a message with refused and kept readings counts as refused
    expect(feed([seen({ ahead: 1, behind: 2, worstMs: -1e12 })]).outcomes.map((o) => o.severity)).toEqual(['major']);
  });

  it('says nothing for a message without readings; keeps the offset it was raised with when it clears', () => {
    const raised = feed(Array(WRONG_TO_RAISE).fill(AHEAD)).state;
    expect(feed(Array(10).fill(NOTHING_SEEN), raised)).toEqual({ outcomes: [], state: raised });
    const cleared = feed(Array(RIGHT_TO_CLEAR).fill(RIGHT), raised).outcomes[0];
    // null: the alert keeps its value and peak (the record shows how far off the clock was)
    expect([cleared.change, cleared.value, cleared.peak]).toEqual(['clear', null, null]);
  });

  it('clears for a device gone from the registry only when an alert was open; takes an open alert back after a restart', () => {
    const raised = feed(Array(WRONG_TO_RAISE).fill(AHEAD)).state!;
    expect(clockGone(raised, 'gas-1', AT)).toMatchObject({ change: 'clear', enterpriseId: 'E', key: 'gas-1/device-clock' });
    expect(clockGone(feed([AHEAD]).state!, 'gas-1', AT)).toBeNull();
    const reopened = clockFromOpenAlert('E', 'warning', AT);
    expect(feed(Array(RIGHT_TO_CLEAR).fill(RIGHT), reopened).outcomes.map((o) => o.change)).toEqual(['clear']);
  });

  it('keeps its key to itself: no rule of the registry may take the id device-clock', () => {
    const rule = { id: 'device-clock', kind: 'offline', afterIntervals: 3, severity: 'major' };
    expect(ruleSchema.safeParse(rule).error?.issues[0].message).toContain('device-clock');
    expect(ruleSchema.safeParse({ ...rule, id: 'readings-refused' }).error?.issues[0].message).toContain('readings-refused');
    expect(ruleSchema.safeParse({ ...rule, id: 'device-clock-2' }).success).toBe(true);
  });

  it('takes back from a snapshot only what is a clock state', () => {
    const state = feed(Array(WRONG_TO_RAISE).fill(BEHIND)).state!;
    expect(clockStateFromSnapshot(JSON.parse(JSON.stringify(state)))).toEqual(state);
    for (const bad of [null, 3, 'x', {}, { ...state, wrong: -1 }, { ...state, wrong: 1.5 }, { ...state, raised: 'sideways' }, { ...state, offsetMs: Infinity }, { ...state, enterpriseId: 7 }, { ...state, enterpriseId: 'x'.repeat(201) }])
      expect(clockStateFromSnapshot(bad)).toBeUndefined();
  });
});

describe('decode: what readings say of the clock', () => {
  const scope = { enterpriseId: 'E', deviceId: 'gas-1', points: new Map([['gas_lel', { metric: 'gas_lel' }]]) };
  const limits = { maxPayloadBytes: 65536, maxReadingsPerMessage: 10, maxFutureSkewMs: 300_000, maxPastMs: 365 * 86_400_000 };
  const clockOf = (payload: Buffer) => {
    const notes = decodeNotes();
    decodeTelemetry(payload, scope, AT, limits, notes);
    return notes.clock;
  };
  const take = (body: unknown) => clockOf(Buffer.from(JSON.stringify(body)));

  it('counts times ahead, behind and right, and keeps the one furthest off', () => {
    expect(
      take([
        { ts: AT + 3_600_000, values: { gas_lel: 1 } },
        { ts: AT + 7_200_000, values: { gas_lel: 1 } },
        { ts: 946_684_800_000, values: { gas_lel: 1 } },
        { ts: AT - 1000, values: { gas_lel: 1 } },
        // a buffered reading from last week is no wrong clock
        { ts: AT - 7 * 86_400_000, values: { gas_lel: 1 } },
        // no time of its own: stamped on arrival, so the clock no longer matters (a fix for a clock ahead)
        { values: { gas_lel: 1 } },
      ]),
    ).toEqual({ ahead: 2, behind: 1, right: 3, worstMs: 946_684_800_000 - AT });
  });

  it('notes the readings refused with nothing measured in them (a heartbeat), and only those', () => {
    const notesOf = (body: unknown) => {
      const notes = decodeNotes();
      decodeTelemetry(Buffer.from(JSON.stringify(body)), scope, AT, limits, notes);
      return notes.nothingMeasured;
    };
    expect(notesOf({ ts: AT, seq: 4 })).toBe(1);
    expect(notesOf([{ seq: 4 }, {}, { values: [1] }, { quality: { gas_lel: 'fault' }, ts: 'x' }, 7])).toBe(2);
  });

  it('takes back what a resend noted: it says nothing new of the clock or of a point (DUPLICATE_SEQ)', () => {
    const intake = new TelemetryIntake(limits);
    const points = { ...scope, points: new Map([['gas_lel', { metric: 'gas_lel' }], ['toxic_gas_ppm', { metric: 'toxic_gas_ppm' }]]) };
    const take = (body: unknown) => {
      const notes = decodeNotes();
      intake.take(Buffer.from(JSON.stringify(body)), points, AT, notes);
      return notes;
    };
    const once = { seq: 500, ts: 946_684_800_000, values: { gas_lel: 1, toxic_gas_ppm: 65535 } };
    expect(take(once)).toMatchObject({ clock: { behind: 1, right: 0 }, refusedPoints: [['toxic_gas_ppm', 'VALUE_OUT_OF_RANGE']] });
    // the same reading again beside a new one: only the new one counts
    expect(take([once, { seq: 501, ts: AT - 1000, values: { gas_lel: 1 } }])).toMatchObject({ clock: { behind: 0, right: 1 }, refusedPoints: [] });
    expect(take([{ seq: 502, values: { toxic_gas_ppm: 'x' } }, once, { seq: 503, values: { toxic_gas_ppm: 70000 } }]).refusedPoints).toEqual([
      ['toxic_gas_ppm', 'VALUE_INVALID'],
      ['toxic_gas_ppm', 'VALUE_OUT_OF_RANGE'],
    ]);
  });

  it('counts a time within the allowed skew ahead as right, and nothing for a message that is not read', () => {
    expect(take({ ts: AT + 299_000, values: { gas_lel: 1 } })).toEqual({ ahead: 0, behind: 0, right: 1, worstMs: 0 });
    expect(clockOf(Buffer.from('{'))).toEqual(NOTHING_SEEN);
    expect(take({ ts: 'yesterday', values: { gas_lel: 1 } })).toEqual(NOTHING_SEEN);
  });
});
