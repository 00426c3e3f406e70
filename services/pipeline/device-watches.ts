import type { Outcome, Reading, Severity } from '../../domain/types.ts';
import type { DecodeNotes } from '../../gateway/decode.ts';
import type { RejectCode } from '../../gateway/reject-codes.ts';
import { refusalsFromOpenAlert, refusalsGone, refusedStateFromSnapshot, watchRefusals, type MessageAnswer, type RefusedState } from '../../gateway/refused-readings.ts';
import { misnamedFromOpenAlert, misnamedGone, misnamedStateFromSnapshot, watchPointNames, type MisnamedState } from '../../gateway/misnamed-points.ts';
import { clockFromOpenAlert, clockGone, clockStateFromSnapshot, watchClock, type ClockState } from '../../rules/device-clock.ts';
import { DEVICE_CLOCK_RULE, keyParts, POINTS_MISNAMED_RULE, READINGS_REFUSED_RULE, ruleKey } from '../../rules/keys.ts';
import { isSwitchMetric } from '../../domain/indicators.ts';

/**
 * What the judge watches of each device beside its rules: its clock (rules/device-clock.ts),
 * whether its messages are taken at all, and whether each point's values are
 * (gateway/refused-readings.ts), and whether it sends its points under the registry's names
 * (gateway/misnamed-points.ts). All are pure steps over one message; this keeps their states
 * (only for devices and points with something wrong or an alert open), and takes them through a
 * registry change, a restart and a snapshot.
 */
interface Watch<S> {
  ruleId: string;
  readonly states: Map<string, S>;
  gone(state: S, deviceId: string, at: number): Outcome | null;
  fromOpenAlert(enterpriseId: string, severity: Severity, now: number): S;
  fromSnapshot(data: unknown): S | undefined;
}

type Device = { enterpriseId: string; deviceId: string };

export interface WatchesSnapshot {
  clocks?: [string, ClockState][];
  refused?: [string, RefusedState][];
  /** by `device/point` */
  refusedPoints?: [string, RefusedState][];
  misnamed?: [string, MisnamedState][];
  /** by device: registry points heard by their name without a value */
  named?: [string, string[]][];
}

/** A registry lookup: a device's point (its key, its catalogue metric), if the device has it. */
export type PointOf = (deviceId: string, point: string) => { metric: string } | undefined;

/** What tells a silent registry point: the device's points and report interval, and whether a point has ever had a value. */
export interface PointSilence {
  device(deviceId: string): { points: Iterable<[string, { metric: string }]>; reportIntervalS: number } | undefined;
  hasValue(deviceId: string, point: string): boolean;
}

export class DeviceWatches {
  private readonly clock: Watch<ClockState> = { ruleId: DEVICE_CLOCK_RULE, states: new Map(), gone: clockGone, fromOpenAlert: clockFromOpenAlert, fromSnapshot: clockStateFromSnapshot };
  private readonly refused: Watch<RefusedState> = { ruleId: READINGS_REFUSED_RULE, states: new Map(), gone: refusalsGone, fromOpenAlert: (e, _severity, now) => refusalsFromOpenAlert(e, now), fromSnapshot: refusedStateFromSnapshot };
  private readonly misnamed: Watch<MisnamedState> = { ruleId: POINTS_MISNAMED_RULE, states: new Map(), gone: misnamedGone, fromOpenAlert: (e, _severity, now) => misnamedFromOpenAlert(e, now), fromSnapshot: misnamedStateFromSnapshot };
  private readonly all = [this.clock, this.refused, this.misnamed] as Watch<unknown>[];
  /** by `device/point` (the point's key) */
  private readonly points = new Map<string, RefusedState>();
  /** the points of each device that have a state: a message of a device with none looks nothing up */
  private readonly pointsOf = new Map<string, Set<string>>();
  /**
   * registry points heard by their name without a value (refused, or with a quality only): named
   * right, so never silent, also in the messages without them (a broken sensor's 65535 every
   * fourth message)
   */
  private readonly named = new Map<string, Set<string>>();

  /** `silence` absent: points sent under other names are not watched */
  constructor(
    private readonly pointOf: PointOf,
    private readonly silence?: PointSilence,
  ) {}

  /** One message of a device: what decode noted of it, how it was answered, and the readings taken. */
  message(device: Device, notes: DecodeNotes, answer: MessageAnswer, readings: readonly Reading[], at: number, out: Outcome[]) {
    const seen = notes.clock;
    // a time says nothing to a device whose clock nobody worries about: nothing to look up
    if (seen.ahead + seen.behind > 0 || (seen.right > 0 && this.clock.states.has(device.deviceId))) step(this.clock, device, (s) => watchClock(s, seen, device, at), out);
    if (answer.accepted === 0 || this.refused.states.has(device.deviceId)) step(this.refused, device, (s) => watchRefusals(s, { ...answer, nothingMeasured: notes.nothingMeasured }, device, at), out);
    // a message refused whole is the device's; its points are judged in the messages that are read
    if (answer.accepted > 0 && (notes.refusedPoints.length > 0 || this.pointsOf.has(device.deviceId))) this.pointMessage(device, notes.refusedPoints, readings, at, out);
    // names the registry lacks beside readings taken: is a registry point of that type silent?
    const unknown = notes.unknown.numbers + notes.unknown.switches > 0;
    const watched = this.misnamed.states.get(device.deviceId);
    this.noteNamed(device.deviceId, notes, readings);
    // a message refused whole for its names counts too, and one without unknown names says
    // nothing while a point the alert named is still silent (a gateway that sends one message per
    // sensor: the misnamed sensor's messages have nothing taken)
    const facts = (unknown || (watched && answer.accepted > 0)) && this.silence?.device(device.deviceId);
    if (facts) {
      const silent = this.silentPoints(device.deviceId, facts.points, notes, readings);
      const seen = unknown ? (silent.sameType.length ? 'fault' : 'good') : watched!.silent.some((p) => silent.all.includes(p)) ? 'neither' : 'good';
      step(this.misnamed, device, (s) => watchPointNames(s, seen, silent.sameType, { ...device, reportIntervalS: facts.reportIntervalS }, at), out);
    }
  }

  private noteNamed(deviceId: string, notes: DecodeNotes, readings: readonly Reading[]) {
    if (!this.silence) return;
    const heard = (point: string) => {
      if (this.pointOf(deviceId, point) === undefined || this.silence!.hasValue(deviceId, point)) return;
      const set = this.named.get(deviceId);
      if (set) set.add(point);
      else this.named.set(deviceId, new Set([point]));
    };
    for (const [point] of notes.refusedPoints) heard(point);
    for (const r of readings) if (r.quality) for (const point in r.quality) heard(point);
  }

  /**
   * The device's registry points that have never had a value (`all`), and of those the ones of a
   * type the message sent unknown names of (`sameType`). A point heard by its name (a value in the
   * message; refused, or a quality, now or before: `named`) is not silent.
   */
  private silentPoints(deviceId: string, points: Iterable<[string, { metric: string }]>, notes: DecodeNotes, readings: readonly Reading[]): { all: string[]; sameType: string[] } {
    const all: string[] = [];
    const sameType: string[] = [];
    const named = this.named.get(deviceId);
    for (const [key, p] of points) {
      if (this.silence!.hasValue(deviceId, key) || named?.has(key)) continue;
      if (readings.some((r) => Object.hasOwn(r.values, key))) continue;
      all.push(key);
      if ((isSwitchMetric(p.metric) ? notes.unknown.switches : notes.unknown.numbers) > 0) sameType.push(key);
    }
    return { all, sameType };
  }

  private pointMessage(device: Device, refused: readonly [string, RejectCode][], readings: readonly Reading[], at: number, out: Outcome[]) {
    const codes = new Map<string, { code: RejectCode }[]>();
    for (const [point, code] of refused) {
      const list = codes.get(point);
      if (list) list.push({ code });
      else codes.set(point, [{ code }]);
    }
    const watched = new Set([...codes.keys(), ...(this.pointsOf.get(device.deviceId) ?? [])]);
    for (const point of watched) {
      const metric = this.pointOf(device.deviceId, point)?.metric;
      if (metric === undefined) continue;
      const taken = readings.reduce((n, r) => (Object.hasOwn(r.values, point) ? n + 1 : n), 0);
      const rejects = codes.get(point) ?? [];
      // a message without the point says nothing of it
      if (taken === 0 && rejects.length === 0) continue;
      const key = ruleKey(device.deviceId, point);
      const { state, outcome } = watchRefusals(this.points.get(key), { accepted: taken, rejects }, device, at, { key: point, metric });
      if (state) this.setPoint(key, state);
      else this.deletePoint(key);
      if (outcome) out.push(outcome);
    }
  }

  /** Devices (and points) no longer in the registry: their alerts clear. */
  registryChanged(has: (deviceId: string) => boolean, at: number, out: Outcome[]) {
    for (const w of this.all)
      for (const [deviceId, state] of w.states) {
        if (has(deviceId)) continue;
        w.states.delete(deviceId);
        const gone = w.gone(state, deviceId, at);
        if (gone) out.push(gone);
      }
    for (const [deviceId, set] of this.named) {
      for (const point of set) if (!has(deviceId) || this.pointOf(deviceId, point) === undefined) set.delete(point);
      if (!set.size) this.named.delete(deviceId);
    }
    for (const [key, state] of this.points) {
      const { deviceId, ruleId: point } = keyParts(key);
      if (has(deviceId) && this.pointOf(deviceId, point) !== undefined) continue;
      this.deletePoint(key);
      const gone = refusalsGone(state, deviceId, at);
      if (gone) out.push(gone);
    }
  }

  private deletePoint(key: string) {
    if (!this.points.delete(key)) return;
    const { deviceId, ruleId: point } = keyParts(key);
    const of = this.pointsOf.get(deviceId);
    of?.delete(point);
    if (of?.size === 0) this.pointsOf.delete(deviceId);
  }

  private setPoint(key: string, state: RefusedState) {
    const { deviceId, ruleId: point } = keyParts(key);
    const of = this.pointsOf.get(deviceId);
    if (of) of.add(point);
    else this.pointsOf.set(deviceId, new Set([point]));
    this.points.set(key, state);
  }

  /** After a restart: an alert still open of a watch, so what comes next can clear it. */
  seed(open: readonly { key: string; state: string; severity: Severity }[], enterpriseOf: (deviceId: string) => string | undefined, now: number) {
    for (const a of open) {
      if (a.state !== 'active') continue;
      const { deviceId, ruleId, metric: point } = keyParts(a.key);
      if (point !== undefined) {
        const p = ruleId === READINGS_REFUSED_RULE ? this.pointOf(deviceId, point) : undefined;
        const enterpriseId = p && enterpriseOf(deviceId);
        if (p && enterpriseId !== undefined) this.setPoint(ruleKey(deviceId, point), refusalsFromOpenAlert(enterpriseId, now, { key: point, metric: p.metric }));
        continue;
      }
      const w = this.all.find((x) => x.ruleId === ruleId);
      const enterpriseId = w && enterpriseOf(deviceId);
      if (w && enterpriseId !== undefined) w.states.set(deviceId, w.fromOpenAlert(enterpriseId, a.severity, now));
    }
  }

  /** An alert of a watch closed while its condition held: the device is watched afresh. False when the key is no watch's. */
  forget(key: string): boolean {
    const { deviceId, ruleId, metric: point } = keyParts(key);
    if (point !== undefined) {
      if (ruleId !== READINGS_REFUSED_RULE) return false;
      this.deletePoint(ruleKey(deviceId, point));
      return true;
    }
    const w = this.all.find((x) => x.ruleId === ruleId);
    w?.states.delete(deviceId);
    return w !== undefined;
  }

  export(): WatchesSnapshot {
    // (misnamed and named: left out while empty, as snapshots before them had none)
    return {
      clocks: [...this.clock.states],
      refused: [...this.refused.states],
      refusedPoints: [...this.points],
      ...(this.misnamed.states.size ? { misnamed: [...this.misnamed.states] } : {}),
      ...(this.named.size ? { named: [...this.named].map(([d, set]) => [d, [...set]] as [string, string[]]) } : {}),
    };
  }

  /** Taken back from a snapshot: entries that are not a watch's state are left out (snapshots made before have none). */
  import(s: WatchesSnapshot) {
    take(this.clock, s.clocks);
    take(this.refused, s.refused);
    take(this.misnamed, s.misnamed);
    this.named.clear();
    for (const entry of Array.isArray(s.named) ? s.named : []) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) continue;
      const points = (entry[1] as unknown[]).filter((p): p is string => typeof p === 'string' && this.pointOf(entry[0], p) !== undefined);
      if (points.length) this.named.set(entry[0], new Set(points));
    }
    this.points.clear();
    this.pointsOf.clear();
    for (const entry of Array.isArray(s.refusedPoints) ? s.refusedPoints : []) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
      const { deviceId, ruleId: point, metric: extra } = keyParts(entry[0]);
      const state = refusedStateFromSnapshot(entry[1]);
      if (state?.point && state.point.key === point && extra === undefined && deviceId) this.setPoint(entry[0], state);
    }
  }
}

function step<S>(w: Watch<S>, device: Device, fn: (s: S | undefined) => { state: S | undefined; outcome: Outcome | null }, out: Outcome[]) {
  const { state, outcome } = fn(w.states.get(device.deviceId));
  if (state) w.states.set(device.deviceId, state);
  else w.states.delete(device.deviceId);
  if (outcome) out.push(outcome);
}

function take<S>(w: Watch<S>, entries: unknown) {
  w.states.clear();
  for (const entry of Array.isArray(entries) ? entries : []) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') continue;
    const state = w.fromSnapshot(entry[1]);
    if (state) w.states.set(entry[0], state);
  }
}
