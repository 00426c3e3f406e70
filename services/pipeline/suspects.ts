import { createHash } from 'node:crypto';

/** Why a message is not taken: its content ended the thread twice, or its device's messages did, often. */
export type HeldBack = { what: 'message' } | { what: 'device'; until: number };

/**
 * Messages that end the reading pipeline's thread. A fault nobody foresaw that one message
 * triggers (it runs the thread out of memory, say) would otherwise end every new thread: its
 * device, not acknowledged, sends it again at each reconnect, and every device's readings wait
 * (an outside probe: 66 thread ends in 70 s, another device acknowledged 1 215 of 6 000 readings).
 *
 * The thread marks the message it is judging (a shared word, no message across). When it ends
 * unasked while judging one, that message becomes a suspect; when it ends judging the same message
 * (device and content) a second time, the message is held back from then on: answered
 * MESSAGE_NOT_PROCESSED like a message refused whole, and the operators told. One suspect at most
 * per end, so an end costs no more than it did; suspects are forgotten after `forgetAfterMs`, and
 * at most `max` of each kind are kept (the oldest let go first). Messages are known by device and
 * a hash of their content, looked up only for devices with a message held back.
 *
 * A device that sends a new message each time (a new seq, QoS 0) is never caught by content, and
 * each of its messages would end the thread again: every other device's readings and alarms wait
 * a restart each time (an outside probe: 6 ends in 30 s, PUBACKs held up to 2 s). So a device whose
 * messages, whatever they are, end the thread `deviceEnds` times within `forgetAfterMs` is held
 * back whole for `forgetAfterMs`: one device may cost the others a few restarts, never a stream of
 * them. A device's ends are told apart from the fleet's because each is pinned on the message being
 * judged; a fault elsewhere (a timer, the store) marks no message and counts against no device.
 */
export class Suspects {
  /** `device\ncontent hash` → when it became a suspect */
  private readonly suspects = new Map<string, number>();
  /** device → content hashes held back */
  private readonly heldBack = new Map<string, Set<string>>();
  private heldBackCount = 0;
  /** device → when its messages ended the thread, within `forgetAfterMs` */
  private readonly deviceEnds = new Map<string, number[]>();
  /** device → held back whole until then */
  private readonly devicesHeld = new Map<string, number>();

  constructor(
    private readonly forgetAfterMs = 10 * 60_000,
    private readonly max = 1000,
    private readonly deviceEndsToHold = 3,
  ) {}

  static hashOf(payload: Uint8Array): string {
    return createHash('sha256').update(payload).digest('base64');
  }

  /**
   * The thread ended judging this message: what is held back from now on because of it (its
   * content, ended twice; its device, whose messages ended it `deviceEnds` times), or null.
   */
  ended(deviceId: string, payload: Uint8Array, now: number): HeldBack | null {
    const device = this.deviceEnded(deviceId, now);
    const message = this.messageEnded(deviceId, payload, now);
    return device ?? message;
  }

  /** Held back, and why: null for a message to take. */
  heldBackNow(deviceId: string, payload: Uint8Array, now: number): HeldBack | null {
    const until = this.devicesHeld.size ? this.deviceHeldUntil(deviceId, now) : null;
    if (until !== null) return { what: 'device', until };
    const held = this.heldBack.get(deviceId);
    return held !== undefined && held.has(Suspects.hashOf(payload)) ? { what: 'message' } : null;
  }

  /** Until when the device is held back whole, or null (a hold over is let go). */
  deviceHeldUntil(deviceId: string, now: number): number | null {
    const until = this.devicesHeld.get(deviceId);
    if (until === undefined) return null;
    if (within(until - this.forgetAfterMs, now, this.forgetAfterMs)) return until;
    this.devicesHeld.delete(deviceId);
    return null;
  }

  /** Suspects kept (for tests). */
  size(): number {
    return this.suspects.size;
  }

  private messageEnded(deviceId: string, payload: Uint8Array, now: number): HeldBack | null {
    for (const [key, since] of this.suspects) {
      if (within(since, now, this.forgetAfterMs) && this.suspects.size < this.max) break;
      this.suspects.delete(key);
    }
    const hash = Suspects.hashOf(payload);
    const key = `${deviceId}\n${hash}`;
    const since = this.suspects.get(key);
    if (since === undefined || !within(since, now, this.forgetAfterMs)) {
      this.suspects.delete(key);
      this.suspects.set(key, now);
      return null;
    }
    this.suspects.delete(key);
    this.hold(deviceId, hash);
    return { what: 'message' };
  }

  private deviceEnded(deviceId: string, now: number): HeldBack | null {
    const ends = (this.deviceEnds.get(deviceId) ?? []).filter((at) => within(at, now, this.forgetAfterMs));
    ends.push(now);
    // last in the Map's order: the oldest device is the first let go
    this.deviceEnds.delete(deviceId);
    if (ends.length < this.deviceEndsToHold) {
      this.deviceEnds.set(deviceId, ends);
      if (this.deviceEnds.size > this.max) this.deviceEnds.delete(this.deviceEnds.keys().next().value!);
      return null;
    }
    const until = now + this.forgetAfterMs;
    this.devicesHeld.delete(deviceId);
    this.devicesHeld.set(deviceId, until);
    if (this.devicesHeld.size > this.max) this.devicesHeld.delete(this.devicesHeld.keys().next().value!);
    return { what: 'device', until };
  }

  private hold(deviceId: string, hash: string) {
    let s = this.heldBack.get(deviceId);
    if (!s) this.heldBack.set(deviceId, (s = new Set()));
    if (s.has(hash)) return;
    s.add(hash);
    if (++this.heldBackCount <= this.max) return;
    // the oldest device's oldest (Maps and Sets keep their order)
    const [oldestDevice, hashes] = this.heldBack.entries().next().value!;
    hashes.delete(hashes.values().next().value!);
    if (!hashes.size) this.heldBack.delete(oldestDevice);
    this.heldBackCount--;
  }
}

/**
 * `since` was less than `ms` before `now`. The clock is the wall clock: one set a day ahead and
 * put right would otherwise have held a device a day (an outside probe); a time ahead of now is
 * the clock's mistake, not a recent end.
 */
function within(since: number, now: number, ms: number): boolean {
  return since <= now && now - since < ms;
}
