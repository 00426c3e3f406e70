import type { Reading } from '../../domain/types.ts';

/** What the service needs of a time-series store; the embedded store and InfluxDB both provide it. */
export interface TelemetryQuery {
  enterpriseId?: string;
  deviceId?: string;
  metric?: string;
  from: number;
  to: number;
  /** window in ms: min/mean/max per window instead of raw points */
  everyMs?: number;
  limit: number;
}

export interface TelemetryPoint {
  ts: number;
  enterpriseId: string;
  deviceId: string;
  metric: string;
  value: number | boolean;
  seq?: number;
  quality?: string;
}

export interface TelemetryWindow {
  ts: number;
  enterpriseId: string;
  deviceId: string;
  metric: string;
  min: number;
  mean: number;
  max: number;
  count: number;
}

export interface StoreHealth {
  ok: boolean;
  /** readings accepted but not yet committed */
  pending: number;
  /** age of the oldest uncommitted reading, ms */
  lagMs: number;
  error?: string;
  /** messages handed to the reading pipeline and not yet answered (decoded, ruled, committed) */
  handedOver?: number;
  /** store and forward: what waits on disk for the downstream store */
  buffered?: { batches: number; bytes: number; maxBytes: number; refusedBatches?: number; missingBatches?: number };
}

/** How much waits in a store's disk buffer (InfluxDB's store and forward). */
export interface BufferDepth {
  batches: number;
  bytes: number;
}

/**
 * An alert's change as an annotation beside the telemetry (Grafana). Its point tells apart the
 * alerts of one device, rule and metric changing at the same instant (three gas points over their
 * limit together): without it they shared one series and time, and InfluxDB kept only the last.
 */
export interface AlertAnnotation {
  id: string;
  enterpriseId: string;
  deviceId: string;
  rule: string;
  severity: string;
  metric: string;
  pointId?: string | null;
  message: string;
}

export interface TelemetryStore {
  readonly kind: string;
  /** resolves when every reading given is committed (the group commit QoS 1 waits for) */
  append(readings: Reading[]): Promise<void>;
  query(q: TelemetryQuery): Promise<TelemetryPoint[] | TelemetryWindow[]>;
  /** the recent [seq, ts] pairs stored per device, to keep de-duplicating across a restart */
  recentSeqs(window: number): Promise<Map<string, [number, number][]>>;
  /** the latest value of every metric of every device, to show live status after a restart */
  latest(): Promise<TelemetryPoint[]>;
  /** how many windows of `bucketMs` within [from, to) hold at least one reading of the device */
  coverage(deviceId: string, bucketMs: number, from: number, to: number): Promise<number>;
  /** when the device's earliest stored reading was measured (null: none stored) */
  firstSeen(deviceId: string): Promise<number | null>;
  health(): StoreHealth;
  /**
   * Drop readings measured before `before`; returns how many rows went. A store whose engine keeps
   * its own retention (InfluxDB's retention policies) returns null and drops nothing.
   */
  prune(before: number): Promise<number | null>;
  /** until everything appended so far is visible to queries (for a forwarding store: shipped; rejects if not within `timeoutMs`) */
  flush(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}
