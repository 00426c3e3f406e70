import type { Outcome, Reading, Severity, Value } from '../../domain/types.ts';
import type { Reject } from '../../gateway/reject-codes.ts';
import type { LoadedRegistry } from '../registry/load.ts';
import type { RegistryChange } from '../registry/change.ts';
import type { AlertAnnotation, BufferDepth, StoreHealth } from '../store/telemetry-store.ts';

/**
 * What crosses the seam between the edge (MQTT, the alert book, notifications, the API: the main
 * thread) and the reading pipeline (decode, de-duplication, the rules, the time-series store: a
 * worker thread of its own). Everything is plain data, copied or transferred: the two sides share
 * no object. Numbers name batches and calls; each side answers in the order it was asked.
 */

/** One telemetry message, its payload a slice of the batch's bytes. */
export interface TelemetryItem {
  deviceId: string;
  /** when the gateway received it (the main thread's clock: the pipeline reads no clock) */
  at: number;
  offset: number;
  length: number;
}

/** What the rules read of the world besides readings (the engine's `World`), as data. */
export interface WorldSnapshot {
  /** silences and windows of whole devices or enterprises (a rule's own silence covers no marking) */
  maintenance: { enterpriseId: string; deviceId: string | null; from: number; until: number }[];
  suspended: string[];
}

/** An alert still open at start: where its rule stood. */
export interface OpenSeed {
  key: string;
  /** held open for flapping: stays held after a restart */
  flapping?: boolean;
  state: 'active' | 'cleared' | 'closed';
  severity: Severity;
  peak: Value | null;
  value: Value | null;
}

/** The telemetry store's questions, answered by the pipeline that owns the store. */
export type StoreCall =
  | { method: 'query'; args: [import('../store/telemetry-store.ts').TelemetryQuery] }
  | { method: 'latest'; args: [] }
  | { method: 'coverage'; args: [deviceId: string, bucketMs: number, from: number, to: number] }
  | { method: 'firstSeen'; args: [deviceId: string] }
  | { method: 'prune'; args: [before: number] }
  | { method: 'flush'; args: [timeoutMs?: number] }
  | { method: 'lastValues'; args: [deviceIds: string[]] };

export interface PipelineSettings {
  dataDir: string;
  /** the embedded readings database's memory limit (MiB) */
  storeMemoryMb: number;
  influx?: {
    url: string;
    database: string;
    username?: string;
    password?: string;
    v2?: { token: string; org: string; bucket: string };
    maxBufferBytes: number;
  };
  /** the seq window kept per device across a restart */
  seqWindow: number;
}

export type ToPipeline =
  | {
      kind: 'start';
      settings: PipelineSettings;
      registry: LoadedRegistry;
      /** the registry's number: a change names the one it is from (registry/change.ts) */
      registryVersion: number;
      world: WorldSnapshot;
      baselines: { deviceId: string; metric: string; value: number }[];
      open: OpenSeed[];
      now: number;
      /** shared: the batch and the index of the message being judged (0: none), for suspects.ts */
      judging?: SharedArrayBuffer;
    }
  | { kind: 'telemetry'; batch: number; items: TelemetryItem[]; bytes: ArrayBuffer }
  | { kind: 'readings'; batch: number; readings: Reading[]; at: number }
  /** the alert changes a batch caused are in the record (or could not be written yet) */
  | { kind: 'recorded'; batch: number }
  | { kind: 'link'; id: number; deviceId: string; link: 'online' | 'offline'; at: number }
  | { kind: 'tick'; id: number; now: number }
  /** a new registry, as what changed from the one the thread holds (registry/change.ts) */
  | { kind: 'registry'; id: number; change: RegistryChange; version: number; now: number }
  | { kind: 'world'; world: WorldSnapshot }
  | { kind: 'baseline'; deviceId: string; metric: string; value: number }
  | { kind: 'forget'; key: string }
  | { kind: 'annotate'; alert: AlertAnnotation; type: string; at: number }
  | ({ kind: 'call'; id: number } & StoreCall)
  | { kind: 'stop'; id: number }
  /** end as a crash would (tests and chaos drills), once no store call is under way */
  | { kind: 'crash' };

/** The answer to one telemetry message. */
export interface TelemetryAnswer {
  rejects: Reject[];
  /** readings kept (not refused, not duplicates) */
  accepted: number;
}

export type FromPipeline =
  | { kind: 'ready'; store: string; tid?: number }
  | {
      kind: 'decoded';
      batch: number;
      answers: TelemetryAnswer[];
      /** what the batch's readings changed, in order: for the alert book */
      outcomes: Outcome[];
      /** readings run through the rules */
      evaluated: number;
      /** readings of enterprises an uplink covers: for the forwarder */
      forward: Reading[];
    }
  /** the batch's readings are committed (error: they are not, and their seqs were forgotten) */
  | { kind: 'stored'; batch: number; error: string | null; health: StoreHealth }
  | { kind: 'outcomes'; id: number; outcomes: Outcome[] }
  /** a registry change was not from the registry the thread holds: it is sent whole */
  | { kind: 'registry-stale'; id: number; holds: number }
  /** with the store's health as it is after the call (a flush may have changed it) */
  | { kind: 'result'; id: number; value?: unknown; error?: string; health: StoreHealth }
  /** every 250 ms: the store's health, and the thread's V8 heap (used, total bytes) */
  | { kind: 'health'; health: StoreHealth; heap: [used: number, total: number] }
  | { kind: 'fault'; part: string; err: string; stack?: string; about?: unknown }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; obj: object; msg: string }
  | { kind: 'buffer'; full: boolean; depth: BufferDepth }
  | { kind: 'stopped'; id: number };

/**
 * Objects that crossed the seam come back with a prototype: values and qualities are keyed by
 * names from outside, so they are made bare again before anyone indexes them.
 */
export function bare<T>(o: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!o) return o;
  const out = Object.create(null) as Record<string, T>;
  for (const k of Object.keys(o)) out[k] = o[k];
  return out;
}

export function bareReading(r: Reading): Reading {
  const out: Reading = { enterpriseId: r.enterpriseId, deviceId: r.deviceId, ts: r.ts, values: bare(r.values)! };
  if (r.seq !== undefined) out.seq = r.seq;
  if (r.quality) out.quality = bare(r.quality);
  return out;
}
