import { describe, expect, it } from 'vitest';
import { QUIET_TO_CLEAR_MS } from '../../rules/device-clock.ts';
import { refusalsFromOpenAlert, refusalsGone, refusedStateFromSnapshot, REFUSED_TO_RAISE, TAKEN_TO_CLEAR, watchRefusals, type MessageAnswer, type RefusedState } from '../../gateway/refused-readings.ts';
import type { RejectCode } from '../../gateway/reject-codes.ts';

/**
 * A device whose messages are refused whole: raised (major) at the third in a row, cleared at the
 * third with a reading taken. Resends and a clock ahead (it has its own alert) count neither way.
 */
const device = { enterpriseId: 'E', deviceId: 'gas-1' };
const AT = Date.UTC(2026, 11, 6, 8);
const LATER = AT + QUIET_TO_CLEAR_MS + 60_000;
const refused = (...codes: RejectCode[]): MessageAnswer => ({ accepted: 0, rejects: codes.map((code) => ({ code })) });
const TAKEN: MessageAnswer = { accepted: 1, rejects: [] };

/** a second apart, from `from`: by default, for a state carried on, once its quiet time is over */
function feed(messages: MessageAnswer[], state?: RefusedState, from = state ? LATER : AT) {
  const outcomes = [];
  for (const [i, m] of messages.entries()) {
    const step = watchRefusals(state, m, device, from + i * 1000);
    state = step.state;
    if (step.outcome) outcomes.push(step.outcome);
  }
  return { outcomes, state };
}

describe('the refused-messages watch', () => {
  it('raises a major alert at the third message refused whole, naming the codes and nothing the device wrote', () => {
    expect(feed(Array(REFUSED_TO_RAISE - 1).fill(refused('READING_INVALID'))).outcomes).toEqual([]);
    const { outcomes, state } = feed([refused('READING_INVALID'), refused('PAYLOAD_NOT_JSON'), refused('READING_INVALID', 'UNKNOWN_METRIC'), refused('READING_INVALID')]);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ key: 'gas-1/readings-refused', change: 'raise', ruleId: 'readings-refused', ruleKind: 'refused', enterpriseId: 'E', deviceId: 'gas-1', metric: '_device', severity: 'major', value: 3, at: AT + 2000 });
    expect(outcomes[0].message).toContain('PAYLOAD_NOT_JSON, READING_INVALID, UNKNOWN_METRIC');
    expect(state).toMatchObject({ raised: true, refused: 4 });
  });

  it('counts neither way a message refused only as a resend, as empty (a heartbeat) or for a clock ahead', () => {
    const { outcomes, state } = feed([refused('READING_INVALID'), refused('DUPLICATE_SEQ'), refused('TS_IN_FUTURE', 'TS_IN_FUTURE'), refused('READING_EMPTY'), refused('READING_INVALID')]);
    expect(outcomes).toEqual([]);
    expect(state?.refused).toBe(2);
    // heartbeats sent as telemetry (a time and a seq, nothing measured) lose nothing, between readings or alone
    const beat = { ...refused('READING_INVALID'), nothingMeasured: 1 };
    expect(feed([TAKEN, beat, beat, beat, beat, beat, TAKEN, beat, beat, beat]).outcomes).toEqual([]);
    // but one with a real fault beside them counts
    expect(feed(Array(3).fill({ ...refused('READING_INVALID', 'READING_INVALID'), nothingMeasured: 1 })).outcomes).toHaveLength(1);
    // a message with a resend and a real fault counts
    expect(feed([refused('DUPLICATE_SEQ', 'VALUE_INVALID'), refused('VALUE_INVALID'), refused('VALUE_INVALID')]).outcomes).toHaveLength(1);
    // problems past the listed hundred come counted (one entry for 50): 150 heartbeats and one real
    // fault are still one fault too many (an outside probe hid every refusal behind heartbeats)
    const folded: MessageAnswer = { accepted: 0, nothingMeasured: 150, rejects: [...Array.from({ length: 100 }, () => ({ code: 'READING_INVALID' as const })), { code: 'READING_INVALID', count: 50 }, { code: 'UNKNOWN_METRIC', count: 1 }] };
    expect(feed(Array(3).fill(folded)).outcomes).toHaveLength(1);
  });

  it('starts the count again at a message with a reading taken; clears at the third after an alert', () => {
    expect(feed([refused('READING_INVALID'), refused('READING_INVALID'), TAKEN, refused('READING_INVALID')]).state?.refused).toBe(1);
    expect(feed([refused('READING_INVALID'), TAKEN]).state).toBeUndefined();
    const raised = feed(Array(REFUSED_TO_RAISE).fill(refused('READING_INVALID'))).state;
    expect(feed(Array(TAKEN_TO_CLEAR - 1).fill(TAKEN), raised).outcomes).toEqual([]);
    expect(feed([TAKEN, TAKEN, refused('READING_INVALID'), TAKEN, TAKEN], raised).outcomes).toEqual([]);
    const { outcomes, state } = feed(Array(TAKEN_TO_CLEAR).fill(TAKEN), raised);
    expect(outcomes.map((o) => [o.change, o.severity])).toEqual([['clear', null]]);
    expect(state).toBeUndefined();
  });

  it('clears no sooner than five minutes after the last refused message', () => {
    const raised = feed(Array(REFUSED_TO_RAISE).fill(refused('READING_INVALID'))).state!;
    expect(feed(Array(20).fill(TAKEN), raised, AT + 10_000).outcomes).toEqual([]);
    expect(feed([TAKEN], feed(Array(TAKEN_TO_CLEAR).fill(TAKEN), raised, AT + 10_000).state, raised.lastRefusedAt + QUIET_TO_CLEAR_MS).outcomes.map((o) => o.change)).toEqual(['clear']);
  });

  it('names at most five codes however many kinds of fault come', () => {
    const { outcomes } = feed([refused('READING_INVALID', 'VALUE_INVALID', 'UNKNOWN_METRIC'), refused('PAYLOAD_NOT_JSON', 'PAYLOAD_INVALID', 'READING_EMPTY', 'TS_INVALID'), refused('TOO_MANY_READINGS')]);
    expect(outcomes[0].message.match(/\(([A-Z_, ]+)\)/)![1].split(', ')).toHaveLength(5);
  });

  it('clears for a device gone only when an alert was open; takes an open alert back after a restart', () => {
    const raised = feed(Array(REFUSED_TO_RAISE).fill(refused('READING_INVALID'))).state!;
    expect(refusalsGone(raised, 'gas-1', AT)).toMatchObject({ change: 'clear', key: 'gas-1/readings-refused', enterpriseId: 'E' });
    expect(refusalsGone(feed([refused('READING_INVALID')]).state!, 'gas-1', AT)).toBeNull();
    expect(feed(Array(TAKEN_TO_CLEAR).fill(TAKEN), refusalsFromOpenAlert('E', AT)).outcomes.map((o) => o.change)).toEqual(['clear']);
  });

  it('takes back from a snapshot only what is a state, with codes from the catalogue', () => {
    const state = feed(Array(REFUSED_TO_RAISE).fill(refused('READING_INVALID'))).state!;
    expect(refusedStateFromSnapshot(JSON.parse(JSON.stringify(state)))).toEqual(state);
    for (const bad of [null, 'x', {}, { ...state, refused: -1 }, { ...state, raised: 'yes' }, { ...state, codes: ['toString'] }, { ...state, codes: 'READING_INVALID' }, { ...state, codes: Array(6).fill('READING_INVALID') }, { ...state, enterpriseId: null }])
      expect(refusedStateFromSnapshot(bad)).toBeUndefined();
  });
});
