import type { Outcome, Severity } from '../../domain/types.ts';
import { READINGS_REFUSED_RULE, refusalsFromOpenAlert, refusalsGone, refusedStateFromSnapshot, watchRefusals, type MessageAnswer, type RefusedState } from '../../gateway/refused-readings.ts';
import { clockFromOpenAlert, clockGone, clockStateFromSnapshot, DEVICE_CLOCK_RULE, watchClock, type ClockSeen, type ClockState } from '../../rules/device-clock.ts';
import { keyParts } from '../../rules/keys.ts';

/**
 * What the judge watches of each device beside its rules: its clock (rules/device-clock.ts) and
 * whether its messages are taken at all (gateway/refused-readings.ts). Both are pure steps over
 * one message; this keeps their per-device states (only for devices with something wrong or an
 * alert open), and takes them through a registry change, a restart and a snapshot.
 */
interface Watch<S> {
  ruleId: string;
  readonly states: Map<string, S>;
  gone(state: S, deviceId: string, at: number): Outcome | null;
  fromOpenAlert(enterpriseId: string, severity: Severity): S;
  fromSnapshot(data: unknown): S | undefined;
}

type Device = { enterpriseId: string; deviceId: string };

export interface WatchesSnapshot {
  clocks?: [string, ClockState][];
  refused?: [string, RefusedState][];
}

export class DeviceWatches {
  private readonly clock: Watch<ClockState> = { ruleId: DEVICE_CLOCK_RULE, states: new Map(), gone: clockGone, fromOpenAlert: clockFromOpenAlert, fromSnapshot: clockStateFromSnapshot };
  private readonly refused: Watch<RefusedState> = { ruleId: READINGS_REFUSED_RULE, states: new Map(), gone: refusalsGone, fromOpenAlert: refusalsFromOpenAlert, fromSnapshot: refusedStateFromSnapshot };
  private readonly all = [this.clock, this.refused] as Watch<unknown>[];

  /** One message of a device: what its times said, and how it was answered. */
  message(device: Device, seen: ClockSeen, answer: MessageAnswer, at: number, out: Outcome[]) {
    // a time says nothing to a device whose clock nobody worries about: nothing to look up
    if (seen.ahead + seen.behind > 0 || (seen.right > 0 && this.clock.states.has(device.deviceId))) step(this.clock, device, (s) => watchClock(s, seen, device, at), out);
    if (answer.accepted === 0 || this.refused.states.has(device.deviceId)) step(this.refused, device, (s) => watchRefusals(s, answer, device, at), out);
  }

  /** Devices no longer in the registry: their alerts clear. */
  registryChanged(has: (deviceId: string) => boolean, at: number, out: Outcome[]) {
    for (const w of this.all)
      for (const [deviceId, state] of w.states) {
        if (has(deviceId)) continue;
        w.states.delete(deviceId);
        const gone = w.gone(state, deviceId, at);
        if (gone) out.push(gone);
      }
  }

  /** After a restart: an alert still open of a watch, so what comes next can clear it. */
  seed(open: readonly { key: string; state: string; severity: Severity }[], enterpriseOf: (deviceId: string) => string | undefined) {
    for (const a of open) {
      if (a.state !== 'active') continue;
      const { deviceId, ruleId } = keyParts(a.key);
      const w = this.all.find((x) => x.ruleId === ruleId);
      const enterpriseId = w && enterpriseOf(deviceId);
      if (w && enterpriseId !== undefined) w.states.set(deviceId, w.fromOpenAlert(enterpriseId, a.severity));
    }
  }

  /** An alert of a watch closed while its condition held: the device is watched afresh. False when the key is no watch's. */
  forget(key: string): boolean {
    const { deviceId, ruleId } = keyParts(key);
    const w = this.all.find((x) => x.ruleId === ruleId);
    w?.states.delete(deviceId);
    return w !== undefined;
  }

  export(): WatchesSnapshot {
    return { clocks: [...this.clock.states], refused: [...this.refused.states] };
  }

  /** Taken back from a snapshot: entries that are not a watch's state are left out (snapshots made before have none). */
  import(s: WatchesSnapshot) {
    take(this.clock, s.clocks);
    take(this.refused, s.refused);
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
