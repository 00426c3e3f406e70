import { isCount, type Outcome } from '../domain/types.ts';
import { QUIET_TO_CLEAR_MS } from '../rules/device-clock.ts';
import { READINGS_REFUSED_RULE, ruleKey } from '../rules/keys.ts';
import { REJECT_CODES, type RejectCode } from './reject-codes.ts';

/**
 * A device that sends and is refused, told to the people who can set it right. Firmware that
 * sends `seq` as a string, a point named otherwise than in the registry, a payload that is not
 * JSON: the device stays connected and keeps sending, every message is refused whole, and none of
 * its readings is judged, its alarms included. The device hears the reject codes; nobody at the
 * enterprise reads those, and the readings-missing warning that may come later does not say why.
 *
 * Raised (`major`) at the third message in a row refused whole; cleared at the third in a row
 * with a reading taken, once none has been refused for QUIET_TO_CLEAR_MS (rules/device-clock.ts).
 * A resend refused as DUPLICATE_SEQ is no fault of the device's, a reading with nothing measured
 * lost nothing, and a time too far ahead has an alert of its own (rules/device-clock.ts):
 * messages refused only for those count neither way. The alert names the reject codes only: the
 * rest of a reject echoes what the device sent, and an alert is no place for text from outside.
 */
export const REFUSED_TO_RAISE = 3;
export const TAKEN_TO_CLEAR = 3;

/**
 * Nothing to judge was lost: a resend, a reading with no values (firmware that beats its heart on
 * the telemetry topic), or a clock the clock watch tells of.
 */
const NOT_COUNTED: ReadonlySet<RejectCode> = new Set(['DUPLICATE_SEQ', 'READING_EMPTY', 'TS_IN_FUTURE']);
/** at most this many codes named in an alert */
const CODES_TOLD = 5;
const KNOWN_CODES: ReadonlySet<string> = new Set(Object.keys(REJECT_CODES));

export interface RefusedState {
  enterpriseId: string;
  /** messages refused whole in a row */
  refused: number;
  /** messages with a reading taken in a row, since the alert was raised */
  taken: number;
  raised: boolean;
  /** when the last message was refused (ms) */
  lastRefusedAt: number;
  /** the codes of the messages refused in a row (at most CODES_TOLD) */
  codes: RejectCode[];
  /** the point watched, for a point's state */
  point?: WatchedPoint;
}

export interface MessageAnswer {
  accepted: number;
  rejects: readonly { code: RejectCode; count?: number }[];
  /** of its READING_INVALID rejects, those of readings with nothing measured in them (a heartbeat): they count neither way */
  nothingMeasured?: number;
}

/**
 * A point of the device whose values are refused while its other points are read (VALUE_INVALID:
 * a channel sending text; VALUE_OUT_OF_RANGE: a broken sensor saying 65535): that point is blind.
 * The same watch, per point, in the messages with a reading taken (a message refused whole is the
 * device's); `accepted` is then whether the point's value was taken.
 */
export interface WatchedPoint {
  /** the point's key in the registry (its id, or its metric) */
  key: string;
  metric: string;
}

/** `refused` null for a clear: the alert keeps the count it was raised with */
function outcome(device: { enterpriseId: string; deviceId: string }, change: 'raise' | 'clear', refused: number | null, codes: readonly RejectCode[], at: number, point?: WatchedPoint): Outcome {
  const named = codes.join(', ');
  const message =
    change === 'raise'
      ? point
        ? `测点 ${point.key} 的数值连续 ${refused} 次被拒收（${named}），该测点报警无法判定，请检查传感器 / the values of point ${point.key} were refused ${refused} times in a row (${named}): the point is blind, its alarms included; check the sensor`
        : `设备连续 ${refused} 条消息全部被拒收（${named}），其数据与报警均无法判定，请按拒收代码检查设备 / the device's last ${refused} messages were refused whole (${named}): none of its readings is judged, its alarms included; see the reject codes in the README`
      : point
        ? `测点 ${point.key} 的数值恢复接收 / the values of point ${point.key} are taken again`
        : "设备数据恢复接收 / the device's readings are taken again";
  return {
    key: point ? ruleKey(device.deviceId, READINGS_REFUSED_RULE, point.key) : ruleKey(device.deviceId, READINGS_REFUSED_RULE),
    ...(point && point.key !== point.metric ? { pointId: point.key } : {}),
    change,
    ruleId: READINGS_REFUSED_RULE,
    ruleKind: 'refused',
    enterpriseId: device.enterpriseId,
    deviceId: device.deviceId,
    metric: point ? point.metric : '_device',
    severity: change === 'raise' ? 'major' : null,
    value: refused,
    peak: refused,
    threshold: REFUSED_TO_RAISE,
    at,
    message,
  };
}

/** One message's answer applied to a device's state: the state after it and the alert change it makes. */
export function watchRefusals(state: RefusedState | undefined, answer: MessageAnswer, device: { enterpriseId: string; deviceId: string }, at: number, point?: WatchedPoint): { state: RefusedState | undefined; outcome: Outcome | null } {
  if (answer.accepted > 0) {
    if (!state) return { state, outcome: null };
    if (!state.raised) return { state: undefined, outcome: null };
    const taken = Math.min(state.taken + 1, TAKEN_TO_CLEAR);
    if (taken < TAKEN_TO_CLEAR || at - state.lastRefusedAt < QUIET_TO_CLEAR_MS) return { state: { ...state, refused: 0, taken }, outcome: null };
    return { state: undefined, outcome: outcome(device, 'clear', null, state.codes, at, point) };
  }
  const counted = answer.rejects.filter((r) => !NOT_COUNTED.has(r.code));
  // an entry past the listed ones stands for `count` problems (reject-codes.ts)
  let problems = 0;
  for (const r of counted) problems += r.count ?? 1;
  if (problems <= (answer.nothingMeasured ?? 0)) return { state, outcome: null };
  const codes = [...(state?.codes ?? [])];
  for (const { code } of counted) if (codes.length < CODES_TOLD && !codes.includes(code)) codes.push(code);
  codes.sort();
  const next: RefusedState = { enterpriseId: device.enterpriseId, refused: (state?.refused ?? 0) + 1, taken: 0, raised: state?.raised ?? false, lastRefusedAt: at, codes, ...(point ? { point } : {}) };
  if (next.refused < REFUSED_TO_RAISE || next.raised) return { state: next, outcome: null };
  next.raised = true;
  return { state: next, outcome: outcome(device, 'raise', next.refused, codes, at, point) };
}

/** A device gone from the registry: the alert open on its refusals clears. */
export function refusalsGone(state: RefusedState, deviceId: string, at: number): Outcome | null {
  return state.raised ? outcome({ enterpriseId: state.enterpriseId, deviceId }, 'clear', null, state.codes, at, state.point) : null;
}

/** After a restart: an alert still open on a device's refusals, so the readings taken next clear it. */
export function refusalsFromOpenAlert(enterpriseId: string, now: number, point?: WatchedPoint): RefusedState {
  return { enterpriseId, refused: REFUSED_TO_RAISE, taken: 0, raised: true, lastRefusedAt: now, codes: [], ...(point ? { point } : {}) };
}

/** A state from a snapshot (a cluster partition's, in PostgreSQL): undefined when it is not one. */
export function refusedStateFromSnapshot(data: unknown): RefusedState | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { enterpriseId, refused, taken, raised, lastRefusedAt, codes, point } = data as Record<string, unknown>;
  if (typeof enterpriseId !== 'string' || enterpriseId.length > 200 || !isCount(refused) || !isCount(taken) || typeof raised !== 'boolean' || typeof lastRefusedAt !== 'number' || !Number.isFinite(lastRefusedAt)) return undefined;
  if (!Array.isArray(codes) || codes.length > CODES_TOLD || !codes.every((c) => typeof c === 'string' && KNOWN_CODES.has(c))) return undefined;
  const name = (x: unknown) => typeof x === 'string' && x.length > 0 && x.length <= 200;
  if (point !== undefined && !(typeof point === 'object' && point !== null && name((point as WatchedPoint).key) && name((point as WatchedPoint).metric))) return undefined;
  const p = point as WatchedPoint | undefined;
  return { enterpriseId, refused, taken, raised, lastRefusedAt, codes: codes as RejectCode[], ...(p ? { point: { key: p.key, metric: p.metric } } : {}) };
}
