import type { TelemetryPoint, TelemetryQuery, TelemetryWindow } from './telemetry-store.ts';

/**
 * Line-protocol time precision. Readings go in nanoseconds: readings of one point that share a
 * millisecond (a second-resolution device clock, a whole tick stamped at once) each get their own
 * nanosecond, so InfluxDB keeps both as the embedded store does instead of overwriting one. In
 * microseconds there were only a thousand places in a millisecond: two readings of one point whose
 * seqs differ by a multiple of 1 000 (a 2 kHz sensor stamping whole seconds) overwrote each other.
 * Batches buffered in milliseconds or microseconds by an older version are still shipped as such.
 */
export type Precision = 'ms' | 'u' | 'ns';

/** What `encode` made, for the same backend's `write` only. */
export interface WriteBody {
  readonly bytes: Uint8Array;
  readonly gzipped: boolean;
}

export interface InfluxBackend {
  readonly kind: string;
  /** database / retention / downsampling, created when missing (where the backend can) */
  prepare(): Promise<void>;
  /**
   * Line protocol made ready to send (compressed, where the backend compresses): a shipper makes
   * the next batch's body while the one before is in flight.
   */
  encode(lineProtocol: Uint8Array): Promise<WriteBody>;
  /** null when written; a message when InfluxDB refused it for good; throws when a retry may work */
  write(body: WriteBody, precision: Precision): Promise<string | null>;
  raw(q: TelemetryQuery): Promise<TelemetryPoint[]>;
  windows(q: TelemetryQuery & { everyMs: number }): Promise<TelemetryWindow[]>;
  latest(): Promise<TelemetryPoint[]>;
  recentSeqs(window: number): Promise<Map<string, [number, number][]>>;
  coverage(deviceId: string, bucketMs: number, from: number, to: number): Promise<number>;
  firstSeen(deviceId: string): Promise<number | null>;
}
