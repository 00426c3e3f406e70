import { isCount, type Outcome } from '../domain/types.ts';
import { QUIET_TO_CLEAR_MS } from '../rules/device-clock.ts';
import { POINTS_MISNAMED_RULE, ruleKey } from '../rules/keys.ts';

/**
 * A point the device sends under a name the registry lacks: firmware that says `gas1` where the
 * registry has `gas-1`, or `lel` for `gas_lel`. The value is refused (`UNKNOWN_METRIC`, told to
 * the device only) and the registry's point never has a value: its alarms are never judged, and
 * nothing else may say so (the device is online, its other points read, its readings complete by
 * `seq`).
 *
 * A message is a fault when it carries values under unknown names (also one refused whole for
 * them: a gateway sending one message per sensor) while a registry point of the same type (a
 * number, a switch; a 0 or 1 may be either) has never had a value. A point heard by its name,
 * even refused or with a quality only, is named right. A point that had values once is not
 * silent: a device that sends only what changed must not raise this, so a point renamed after it
 * had values is not seen (README). Extra diagnostics (`rssi`) beside points that all had values
 * are no fault. A message without unknown names counts neither way while a point the alert named
 * is still silent, and as good once none is. Raised (`major`) at the third fault without a good
 * message between, FAULT_INTERVALS report intervals after the first; cleared at the third good
 * message in a row, once no fault has come for QUIET_TO_CLEAR_MS (as the other device watches).
 * The alert names the silent registry points, never the names the device sent: an alert is no
 * place for text from outside.
 */
export const MISNAMED_TO_RAISE = 3;
export const MATCHED_TO_CLEAR = 3;
/**
 * and for this many report intervals since the first fault: a point heard now and then by its
 * name only (a fault quality, a refused 65535), after a restart that forgot it, is heard again
 */
export const FAULT_INTERVALS = 3;
/** at most this many silent points named in an alert */
const POINTS_TOLD = 5;

/** What a message says of the names: a fault, good, or nothing (`neither`). */
export type NamesSeen = 'fault' | 'good' | 'neither';

export interface MisnamedState {
  enterpriseId: string;
  /** faults without a good message between */
  faults: number;
  /** when the first of them came (ms) */
  firstFaultAt: number;
  /** messages in a row without, since the alert was raised */
  good: number;
  raised: boolean;
  /** when the last fault came (ms) */
  lastFaultAt: number;
  /** the silent registry points of the last fault (at most POINTS_TOLD) */
  silent: string[];
}

type Device = { enterpriseId: string; deviceId: string };

/** `silent` null for a clear: the alert keeps the points it was raised with */
function outcome(device: Device, change: 'raise' | 'clear', silent: readonly string[] | null, at: number): Outcome {
  const named = (silent ?? []).join(', ');
  return {
    key: ruleKey(device.deviceId, POINTS_MISNAMED_RULE),
    change,
    ruleId: POINTS_MISNAMED_RULE,
    ruleKind: 'misnamed',
    enterpriseId: device.enterpriseId,
    deviceId: device.deviceId,
    metric: '_device',
    severity: change === 'raise' ? 'major' : null,
    value: silent === null ? null : silent.length,
    peak: silent === null ? null : silent.length,
    threshold: null,
    at,
    message:
      change === 'raise'
        ? `设备上报了登记册中没有的点位名称（UNKNOWN_METRIC），而登记的点位 ${named} 从未收到数据，其报警无法判定：请核对设备的点位名称与登记册 / the device sends points under names the registry does not list (UNKNOWN_METRIC), while registry points ${named} have never had a value: their alarms are not judged; check the device's point names against the registry`
        : '设备点位名称与登记册一致，数据恢复判定 / the device\'s point names match the registry again',
  };
}

/**
 * One message with readings taken, applied to a device's state. `silent`: for a fault, the
 * registry points of a type the message sent unknown names of that have never had a value.
 */
export function watchPointNames(state: MisnamedState | undefined, seen: NamesSeen, silent: readonly string[], device: Device & { reportIntervalS: number }, at: number): { state: MisnamedState | undefined; outcome: Outcome | null } {
  if (seen === 'neither') return { state, outcome: null };
  if (seen === 'good') {
    if (!state) return { state, outcome: null };
    if (!state.raised) return { state: undefined, outcome: null };
    const good = Math.min(state.good + 1, MATCHED_TO_CLEAR);
    if (good < MATCHED_TO_CLEAR || at - state.lastFaultAt < QUIET_TO_CLEAR_MS) return { state: { ...state, faults: 0, good }, outcome: null };
    return { state: undefined, outcome: outcome(device, 'clear', null, at) };
  }
  const first = state && state.faults > 0 ? state.firstFaultAt : at;
  const next: MisnamedState = { enterpriseId: device.enterpriseId, faults: (state?.faults ?? 0) + 1, firstFaultAt: first, good: 0, raised: state?.raised ?? false, lastFaultAt: at, silent: [...silent].sort().slice(0, POINTS_TOLD) };
  if (next.faults < MISNAMED_TO_RAISE || next.raised || at - first < FAULT_INTERVALS * device.reportIntervalS * 1000) return { state: next, outcome: null };
  next.raised = true;
  return { state: next, outcome: outcome(device, 'raise', next.silent, at) };
}

/** A device gone from the registry: its alert clears. */
export function misnamedGone(state: MisnamedState, deviceId: string, at: number): Outcome | null {
  return state.raised ? outcome({ enterpriseId: state.enterpriseId, deviceId }, 'clear', null, at) : null;
}

/** After a restart: an alert still open, so the messages that come next can clear it. */
export function misnamedFromOpenAlert(enterpriseId: string, now: number): MisnamedState {
  return { enterpriseId, faults: MISNAMED_TO_RAISE, firstFaultAt: now, good: 0, raised: true, lastFaultAt: now, silent: [] };
}

/** A state from a snapshot (a cluster partition's, in PostgreSQL): undefined when it is not one. */
export function misnamedStateFromSnapshot(data: unknown): MisnamedState | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { enterpriseId, faults, firstFaultAt, good, raised, lastFaultAt, silent } = data as Record<string, unknown>;
  if (typeof enterpriseId !== 'string' || enterpriseId.length > 200 || !isCount(faults) || !isCount(good) || typeof raised !== 'boolean' || typeof lastFaultAt !== 'number' || !Number.isFinite(lastFaultAt) || typeof firstFaultAt !== 'number' || !Number.isFinite(firstFaultAt)) return undefined;
  if (!Array.isArray(silent) || silent.length > POINTS_TOLD || !silent.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 64)) return undefined;
  return { enterpriseId, faults, firstFaultAt, good, raised, lastFaultAt, silent: [...(silent as string[])] };
}
