import { createHash } from 'node:crypto';

/**
 * Messages that may end the reading pipeline's thread. A bug nobody foresaw that one message
 * triggers would otherwise end every new thread: its device, not acknowledged, sends it again at
 * each reconnect, and every device's readings wait (an outside probe: 66 thread ends in 70 s,
 * another device acknowledged 1 215 of 6 000 readings).
 *
 * When the thread ends unasked, the messages of the batch it was judging (the oldest not yet
 * decoded) become suspects. A suspect sent again goes alone, with nothing else in flight: if the
 * thread ends then, that message is held back for good (answered MESSAGE_NOT_PROCESSED, like a
 * message refused whole, and the operators told); if it is judged and stored, it is cleared.
 * Messages are known by device and content (a hash), only for devices with a suspect or a message
 * held back, so the usual message costs one map lookup. Suspects not sent again are forgotten
 * after `forgetAfterMs`.
 */
export type Verdict = 'suspect' | 'held back' | undefined;

export class Suspects {
  /** device → content hash → when it became a suspect */
  private readonly suspects = new Map<string, Map<string, number>>();
  /** device → content hashes held back (at most `maxHeldBack` in all, the oldest let go first) */
  private readonly heldBack = new Map<string, Set<string>>();
  private heldBackCount = 0;

  constructor(
    private readonly forgetAfterMs = 10 * 60_000,
    private readonly maxHeldBack = 1000,
  ) {}

  static hashOf(payload: Uint8Array): string {
    return createHash('sha256').update(payload).digest('base64');
  }

  /** The messages of the batch being judged when the thread ended. */
  suspect(messages: readonly { deviceId: string; payload: Uint8Array }[], now: number): void {
    for (const { deviceId, payload } of messages) {
      let m = this.suspects.get(deviceId);
      if (!m) this.suspects.set(deviceId, (m = new Map()));
      m.set(Suspects.hashOf(payload), now);
    }
  }

  /** What is known of a message: with its hash when it is a suspect or held back. */
  verdict(deviceId: string, payload: Uint8Array, now: number): { verdict: Verdict; hash?: string } {
    const suspected = this.suspects.get(deviceId);
    const held = this.heldBack.get(deviceId);
    if (!suspected && !held) return { verdict: undefined };
    const hash = Suspects.hashOf(payload);
    if (held?.has(hash)) return { verdict: 'held back', hash };
    const since = suspected?.get(hash);
    if (since === undefined) return { verdict: undefined };
    if (now - since < this.forgetAfterMs) return { verdict: 'suspect', hash };
    this.cleared(deviceId, hash);
    return { verdict: undefined };
  }

  /** Judged and stored alone: not the cause. */
  cleared(deviceId: string, hash: string): void {
    const m = this.suspects.get(deviceId);
    m?.delete(hash);
    if (m?.size === 0) this.suspects.delete(deviceId);
  }

  /** The thread ended with this message alone in flight: held back from now on. */
  convicted(deviceId: string, hash: string): void {
    this.cleared(deviceId, hash);
    let s = this.heldBack.get(deviceId);
    if (!s) this.heldBack.set(deviceId, (s = new Set()));
    if (s.has(hash)) return;
    s.add(hash);
    if (++this.heldBackCount <= this.maxHeldBack) return;
    // the oldest device's oldest (Maps and Sets keep their order)
    const [oldestDevice, hashes] = this.heldBack.entries().next().value!;
    hashes.delete(hashes.values().next().value!);
    if (!hashes.size) this.heldBack.delete(oldestDevice);
    this.heldBackCount--;
  }

  /** Suspects left (for /metrics and tests). */
  size(): number {
    let n = 0;
    for (const m of this.suspects.values()) n += m.size;
    return n;
  }
}
