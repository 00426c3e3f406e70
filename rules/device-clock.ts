import { isCount, type Outcome, type Severity } from '../domain/types.ts';
import { DEVICE_CLOCK_RULE, ruleKey } from './keys.ts';

/**
 * A device whose clock is wrong, told to the people who can set it right. A clock ahead of the
 * gateway's by more than `gateway.maxFutureSkewS` gets every reading refused (TS_IN_FUTURE): the
 * device is connected and sending, yet nothing it measures is judged, its alarms included. A clock
 * further behind than `gateway.maxPastS` (a reset RTC says 2000 or 1970) gets its readings kept as
 * of their arrival (TS_TOO_OLD): judged, but the record no longer has the time they were measured.
 * The device hears the reject code; nobody at the enterprise reads those, so the book gets an
 * alert on the device: `major` while its readings are refused, `warning` while they are kept.
 *
 * One stray time is no broken clock: the alert is raised at the third wrong time in a row and
 * cleared at the third right one in a row, once no wrong time has come for QUIET_TO_CLEAR_MS (a
 * device cannot make its alert come and go faster than that, and tell its enterprise each time).
 * A reading without a time of its own is stamped on its arrival: its device's clock no longer
 * matters, and it counts as a right time (a fix for firmware that sends Beijing time marked as UTC
 * is to send no time at all).
 */
export const WRONG_TO_RAISE = 3;
export const RIGHT_TO_CLEAR = 3;
/** how long an alert on a device itself stays raised after its last fault, at least (gateway/refused-readings.ts too) */
export const QUIET_TO_CLEAR_MS = 5 * 60_000;

/** What one message's times said of the device's clock. */
export interface ClockSeen {
  /** readings refused for a time too far ahead */
  ahead: number;
  /** readings kept as of their arrival for a time too far behind */
  behind: number;
  /** readings with a time of their own inside the bounds */
  right: number;
  /** the wrong time furthest from the gateway's: device time − arrival, ms (0 when none) */
  worstMs: number;
}

/** a message's count, filled in as it is decoded */
export const clockSeen = (): ClockSeen => ({ ahead: 0, behind: 0, right: 0, worstMs: 0 });
export const NOTHING_SEEN: ClockSeen = Object.freeze(clockSeen());

/** Where a device's clock stands: kept only while something is wrong or an alert is open. */
export interface ClockState {
  enterpriseId: string;
  /** wrong times in a row */
  wrong: number;
  /** right times in a row since an alert was raised */
  right: number;
  /** the alert open on the clock, by the way it is wrong */
  raised: 'ahead' | 'behind' | null;
  /** the offset last told (ms) */
  offsetMs: number;
  /** when the last wrong time came (ms) */
  lastWrongAt: number;
  /** when the last time too far ahead came (ms; 0 for none) */
  lastAheadAt: number;
}

export interface ClockDevice {
  enterpriseId: string;
  deviceId: string;
}

const severityOf = (way: 'ahead' | 'behind'): Severity => (way === 'ahead' ? 'major' : 'warning');

/** How far off, in words a person reads: seconds, hours or days. */
function span(ms: number): string {
  const s = Math.abs(ms) / 1000;
  if (s < 5400) return `${Math.round(s)} s`;
  if (s < 3 * 86_400) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.round(s / 86_400)} d`;
}

/** `offsetMs` null for a clear: the alert keeps the offset it was raised with */
function outcome(device: ClockDevice, change: 'raise' | 'clear', way: 'ahead' | 'behind' | null, offsetMs: number | null, at: number): Outcome {
  const message =
    way === 'ahead'
      ? `设备时钟超前网关 ${span(offsetMs ?? 0)}，其数据全部被拒收（TS_IN_FUTURE），报警无法判定，请校准设备时间 / device clock ${span(offsetMs ?? 0)} ahead of the gateway: every reading is refused (TS_IN_FUTURE), so none of its alarms can be raised; set the device's time`
      : way === 'behind'
        ? `设备时钟落后网关 ${span(offsetMs ?? 0)}，数据按到达时间记录（TS_TOO_OLD），请校准设备时间 / device clock ${span(offsetMs ?? 0)} behind the gateway: readings are kept as of their arrival (TS_TOO_OLD); set the device's time`
        : '设备时钟已恢复正常 / device clock right again';
  return {
    key: ruleKey(device.deviceId, DEVICE_CLOCK_RULE),
    change,
    ruleId: DEVICE_CLOCK_RULE,
    ruleKind: 'clock',
    enterpriseId: device.enterpriseId,
    deviceId: device.deviceId,
    metric: '_device',
    severity: change === 'raise' && way ? severityOf(way) : null,
    value: offsetMs === null ? null : Math.round(offsetMs / 1000),
    peak: offsetMs === null ? null : Math.round(offsetMs / 1000),
    threshold: null,
    at,
    message,
  };
}

/**
 * One message's times applied to a device's clock state: the state after it (undefined when
 * there is nothing to remember) and the alert change it makes, if any. A message with wrong and
 * right times counts as wrong: a clock that is right for some readings and not others is not right.
 */
export function watchClock(state: ClockState | undefined, seen: ClockSeen, device: ClockDevice, at: number): { state: ClockState | undefined; outcome: Outcome | null } {
  const wrong = seen.ahead + seen.behind;
  if (wrong > 0) {
    // refused readings are the worse of the two: they decide while any came, and for the quiet
    // time after (a clock swinging between ahead and behind would otherwise move the alert's
    // severity, and tell of it, at every message)
    const lastAheadAt = seen.ahead > 0 ? at : (state?.lastAheadAt ?? 0);
    const way = seen.ahead > 0 || (state?.raised === 'ahead' && at - lastAheadAt < QUIET_TO_CLEAR_MS) ? 'ahead' : 'behind';
    const next: ClockState = { enterpriseId: device.enterpriseId, wrong: (state?.wrong ?? 0) + wrong, right: 0, raised: state?.raised ?? null, offsetMs: seen.worstMs, lastWrongAt: at, lastAheadAt };
    if (next.wrong < WRONG_TO_RAISE || next.raised === way) return { state: next, outcome: null };
    next.raised = way;
    return { state: next, outcome: outcome(device, 'raise', way, seen.worstMs, at) };
  }
  if (seen.right === 0 || !state) return { state, outcome: null };
  if (state.raised === null) return { state: undefined, outcome: null };
  const right = Math.min(state.right + seen.right, RIGHT_TO_CLEAR);
  if (right < RIGHT_TO_CLEAR || at - state.lastWrongAt < QUIET_TO_CLEAR_MS) return { state: { ...state, wrong: 0, right }, outcome: null };
  return { state: undefined, outcome: outcome(device, 'clear', null, null, at) };
}

/** A device gone from the registry: the alert open on its clock clears. */
export function clockGone(state: ClockState, deviceId: string, at: number): Outcome | null {
  return state.raised ? outcome({ enterpriseId: state.enterpriseId, deviceId }, 'clear', null, null, at) : null;
}

/** After a restart (at `now`): an alert still open on a device's clock, so the right times to come clear it. */
export function clockFromOpenAlert(enterpriseId: string, severity: Severity, now: number): ClockState {
  return { enterpriseId, wrong: WRONG_TO_RAISE, right: 0, raised: severity === 'major' ? 'ahead' : 'behind', offsetMs: 0, lastWrongAt: now, lastAheadAt: severity === 'major' ? now : 0 };
}

/** A clock state from a snapshot (a cluster partition's, in PostgreSQL): undefined when it is not one. */
export function clockStateFromSnapshot(data: unknown): ClockState | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { enterpriseId, wrong, right, raised, offsetMs, lastWrongAt, lastAheadAt } = data as Record<string, unknown>;
  if (typeof enterpriseId !== 'string' || enterpriseId.length > 200 || !isCount(wrong) || !isCount(right) || !(raised === null || raised === 'ahead' || raised === 'behind') || typeof offsetMs !== 'number' || !Number.isFinite(offsetMs) || typeof lastWrongAt !== 'number' || !Number.isFinite(lastWrongAt) || typeof lastAheadAt !== 'number' || !Number.isFinite(lastAheadAt)) return undefined;
  return { enterpriseId, wrong, right, raised, offsetMs, lastWrongAt, lastAheadAt };
}
