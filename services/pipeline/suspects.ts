import { createHash } from 'node:crypto';

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
 */
export class Suspects {
  /** `device\ncontent hash` → when it became a suspect */
  private readonly suspects = new Map<string, number>();
  /** device → content hashes held back */
  private readonly heldBack = new Map<string, Set<string>>();
  private heldBackCount = 0;

  constructor(
    private readonly forgetAfterMs = 10 * 60_000,
    private readonly max = 1000,
  ) {}

  static hashOf(payload: Uint8Array): string {
    return createHash('sha256').update(payload).digest('base64');
  }

  /** The thread ended judging this message: true when it had before (it is held back from now on). */
  ended(deviceId: string, payload: Uint8Array, now: number): boolean {
    for (const [key, since] of this.suspects) {
      if (now - since < this.forgetAfterMs && this.suspects.size < this.max) break;
      this.suspects.delete(key);
    }
    const hash = Suspects.hashOf(payload);
    const key = `${deviceId}\n${hash}`;
    const since = this.suspects.get(key);
    if (since === undefined || now - since >= this.forgetAfterMs) {
      this.suspects.delete(key);
      this.suspects.set(key, now);
      return false;
    }
    this.suspects.delete(key);
    this.hold(deviceId, hash);
    return true;
  }

  /** Held back? */
  heldBackNow(deviceId: string, payload: Uint8Array): boolean {
    const held = this.heldBack.get(deviceId);
    return held !== undefined && held.has(Suspects.hashOf(payload));
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

  /** Suspects kept (for tests). */
  size(): number {
    return this.suspects.size;
  }
}
