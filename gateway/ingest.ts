import type { Reading } from '../domain/types.ts';
import { decodedRejects, decodeTelemetry, unnote, type DecodedReading, type DecodeLimits, type DecodeNotes, type DeviceScope } from './decode.ts';
import type { Reject } from './reject-codes.ts';
import { checkSeq, trackerFrom, trackerFromSnapshot, unsee, type SeqTracker } from './sequence.ts';

/**
 * One telemetry message from an authenticated device → the readings to accept and the rejects
 * to answer. Holds the per-device seq windows; otherwise a pure step over the payload.
 */
export class TelemetryIntake {
  private readonly seqs = new Map<string, SeqTracker>();
  gaps = 0;

  /** the registry's limits: they may change with a reload */
  constructor(public limits: DecodeLimits) {}

  /** `notes`, when given, gets what the message says of the device beyond its readings (decode.ts). */
  take(payload: Buffer, scope: DeviceScope, now: number, notes?: DecodeNotes): { readings: Reading[]; rejects: Reject[] } {
    const { readings: decoded, rejects } = decodeTelemetry(payload, scope, now, this.limits, notes);
    const readings: Reading[] = [];
    let resent: DecodedReading[] | undefined;
    for (const d of decoded) {
      const { index, reading, seqTs } = d;
      if (reading.seq !== undefined) {
        const { tracker, verdict } = checkSeq(this.seqs.get(scope.deviceId), reading.seq, seqTs);
        this.seqs.set(scope.deviceId, tracker);
        if (!verdict.accept) {
          rejects.push({ code: 'DUPLICATE_SEQ', path: decoded.length > 1 || index > 0 ? `[${index}].seq` : 'seq', detail: String(reading.seq) });
          (resent ??= []).push(d);
          continue;
        }
        this.gaps += verdict.gap;
      }
      readings.push(reading);
    }
    // a resend says nothing new of the device's clock or its points
    if (notes && resent) unnote(notes, resent);
    return { readings, rejects: decodedRejects(rejects) };
  }

  /** The store did not take these readings: their seqs count as never seen. */
  forgetSeqs(deviceId: string, readings: readonly Reading[]) {
    unsee(this.seqs.get(deviceId), readings.flatMap((r) => (r.seq === undefined ? [] : [{ seq: r.seq, ts: r.sentTs ?? r.ts }])));
  }

  /** After a restart: the seqs (with their ts) already stored per device, so resends are still caught. */
  primeSeq(deviceId: string, entries: [number, number][]) {
    const t = trackerFrom(entries);
    if (t) this.seqs.set(deviceId, t);
  }

  /** Every device's seq window as data (a cluster's partition snapshot), and taken back. */
  exportSeqs(): [string, SeqTracker][] {
    return [...this.seqs];
  }

  importSeqs(seqs: [string, SeqTracker][]) {
    this.seqs.clear();
    for (const [deviceId, data] of seqs) {
      const t = trackerFromSnapshot(data);
      if (t) this.seqs.set(deviceId, t);
    }
  }
}
