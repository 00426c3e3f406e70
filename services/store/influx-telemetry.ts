import type { Reading } from '../../domain/types.ts';
import { BufferFull, DiskBuffer } from './disk-buffer.ts';
import { GroupCommit } from './group-commit.ts';
import { LineBatch, lineCount, readingLines, transitionLine } from './influx-lines.ts';
import type { InfluxBackend, Precision } from './influx-backend.ts';
import type { AlertAnnotation, BufferDepth, StoreHealth, TelemetryPoint, TelemetryQuery, TelemetryStore, TelemetryWindow } from './telemetry-store.ts';

/**
 * Time series in InfluxDB over its 1.x HTTP API (served by 1.x, and by 2.x and 3.x in
 * compatibility mode). Store and forward: every batch is first written to a disk buffer under
 * DATA_DIR (the append resolves, and a QoS 1 PUBACK goes, only then), then shipped in order,
 * gzipped, and removed once InfluxDB has it. While InfluxDB is down or slow, batches wait on disk,
 * also across a restart. A point is identified by its tags and time, so a batch shipped twice
 * (a crash between shipping and removing) overwrites itself: nothing is counted twice.
 *
 * Layout: measurement `reading` (tags enterprise, device, metric, region, industry; fields
 * `value` for numbers or `state` for switches, `seq`, `quality`), measurement `alert_transition`
 * for annotations. Retention: `raw` (default, 30 days); a continuous query keeps 1-minute
 * min/mean/max/count in `year`.`reading_1m` for 365 days.
 */
/** Where batches go and queries come from: InfluxDB 1.x (InfluxQL) or 2.x (Flux). */

export interface InfluxOptions {
  url: string;
  database: string;
  username?: string;
  password?: string;
  /** InfluxDB 2.x native API instead of 1.x: token, organisation and bucket */
  v2?: { token: string; org: string; bucket: string };
  /**
   * Where batches wait for InfluxDB (store and forward). Without it (cluster mode: the log keeps
   * what is not stored yet) an append resolves only once InfluxDB has the batch, and fails when
   * it cannot be written.
   */
  bufferDir?: string;
  maxBufferBytes?: number;
  /** readings are grouped this long (or up to `batchLines`) into one buffered batch */
  batchMs?: number;
  batchLines?: number;
  /** how much one write to InfluxDB carries */
  shipBytes?: number;
  placement(enterpriseId: string): { region: string; industry: string };
  /** the buffer refused a batch (`full`), or has room again (below half) after it did */
  onBuffer?(full: boolean, depth: BufferDepth): void;
  log?: { warn(o: object, msg?: string): void };
}

/** the buffer's names for batches by their time precision (older, unmarked batches are milliseconds) */
const NANOS = 'ns';
const MICROS = 'us';
const precisionOf = (suffix: string): Precision => (suffix === NANOS ? 'ns' : suffix === MICROS ? 'u' : 'ms');

export class InfluxTelemetryStore implements TelemetryStore {
  readonly kind: string;
  /** readings wait here as they came and become lines when their group is written */
  private readonly group: GroupCommit<readonly Reading[] | string>;
  private shipping = false;
  private stopped = false;
  private lastError?: string;
  private refusedBatches = 0;
  /** batch files that were gone when their turn came */
  private missingBatches = 0;
  /** the buffer refused a batch and has not had room since */
  private full = false;
  private backoffMs = 500;
  private shipTimer?: NodeJS.Timeout;
  /** per device without seqs: its last reading's ms and the sub-millisecond count used for it */
  private readonly lastStamp = new Map<string, { ts: number; n: number }>();

  private constructor(
    private readonly opts: InfluxOptions,
    private readonly buffer: DiskBuffer | null,
    private readonly backend: InfluxBackend,
  ) {
    this.kind = backend.kind;
    this.group = new GroupCommit((batch) => this.write(batch), { maxWaitMs: opts.batchMs ?? 20, maxSize: opts.batchLines ?? 20_000 });
  }

  static async create(opts: InfluxOptions): Promise<InfluxTelemetryStore> {
    const buffer = opts.bufferDir === undefined ? null : await DiskBuffer.open(opts.bufferDir, opts.maxBufferBytes ?? 512 * 1024 * 1024);
    // each client package loads only when its InfluxDB is used (a start without INFLUX_URL loads neither)
    const backend = opts.v2 ? new (await import('./influx-v2.ts')).FluxBackend({ url: opts.url, ...opts.v2 }) : new (await import('./influx-v1.ts')).InfluxQlBackend({ ...opts, gzip: buffer !== null });
    const store = new InfluxTelemetryStore(opts, buffer, backend);
    store.ship();
    return store;
  }

  append(readings: Reading[]): Promise<void> {
    const lines = lineCount(readings);
    return lines ? this.group.add(readings, lines) : Promise.resolve();
  }

  /**
   * The reading's nanoseconds within its millisecond: its seq (mod 1 000 000) or, for a device
   * without seqs, a count of its readings stamped with that same millisecond.
   */
  private nanos(r: Reading): number {
    if (r.seq !== undefined) return r.seq % 1_000_000;
    const last = this.lastStamp.get(r.deviceId);
    const sub = last && last.ts === r.ts ? (last.n + 1) % 1_000_000 : 0;
    this.lastStamp.set(r.deviceId, { ts: r.ts, n: sub });
    return sub;
  }

  /** An alert transition, for Grafana annotations beside the telemetry. */
  annotate(a: AlertAnnotation, type: string, at: number): Promise<void> {
    return this.group.add(transitionLine(a, type, at), 1);
  }

  /**
   * A group's lines, made only now: an append costs its caller nothing but a count, and a large
   * stretch of readings becomes lines group by group, the first shipped while the next is made.
   * In pieces InfluxDB takes in one request (`shipBytes`, 4 MiB): one request for a stretch of
   * hundreds of thousands of readings would be refused as too large (InfluxDB takes 25 MB), again
   * at every try, and hold its partition (or the buffer) for ever.
   */
  private pieces(group: (readonly Reading[] | string)[]): Buffer[] {
    let count = 0;
    for (const item of group) count += typeof item === 'string' ? 1 : item.length * 4;
    // a piece the buffer could never hold would be refused as if InfluxDB were down: a buffer smaller
    // than a request (INFLUX_BUFFER_MB of 1) takes pieces of a quarter of it
    const lines = new LineBatch(this.buffer ? Math.min(this.shipBytes, Math.floor(this.buffer.maxBytes / 4)) : this.shipBytes, count);
    for (const item of group) {
      if (typeof item === 'string') lines.push(item);
      else for (const r of item) readingLines(r, this.opts.placement(r.enterpriseId), this.nanos(r), lines);
    }
    return lines.pieces();
  }

  private get shipBytes() {
    return this.opts.shipBytes ?? 4 * 1024 * 1024;
  }

  /** One buffered (fsync'd) batch for everything in the group; or, without a buffer, straight to InfluxDB. */
  private async write(group: (readonly Reading[] | string)[]): Promise<void> {
    const pieces = this.pieces(group);
    if (!this.buffer) return this.writeThrough(pieces);
    try {
      for (const piece of pieces) await this.buffer.append(piece, NANOS);
    } catch (e) {
      // said once when it fills (every refused group in an outage would say it again)
      if (e instanceof BufferFull && !this.full) {
        this.full = true;
        this.opts.onBuffer?.(true, this.buffer.depth);
      }
      throw e;
    }
    this.ship();
  }

  /**
   * A batch InfluxDB refuses as such (points beyond retention, a field of another type) will be
   * refused again: it is logged and counted, not retried forever.
   */
  private refusal(refused: string | null, batches: number) {
    if (refused === null) return;
    this.refusedBatches++;
    this.opts.log?.warn({ refused, batches }, 'InfluxDB refused (part of) a batch; it is not retried');
  }

  /** Room again (half the buffer free: not a raise and a clear at every batch near the limit). */
  private roomAgain() {
    if (!this.full || !this.buffer || this.buffer.depth.bytes > this.buffer.maxBytes / 2) return;
    this.full = false;
    this.opts.onBuffer?.(false, this.buffer.depth);
  }

  private async writeThrough(pieces: Buffer[]) {
    try {
      await this.backend.prepare();
      for (const piece of pieces) {
        this.refusal(await this.backend.write(await this.backend.encode(piece), 'ns'), 1);
      }
      this.lastError = undefined;
    } catch (e) {
      this.lastError = (e as Error).message;
      throw e;
    }
  }

  /**
   * Ship buffered batches in order, one request at a time; the next batch is read and compressed
   * while one is in flight. On failure wait (doubling up to 10 s) and try again.
   */
  private ship() {
    const buffer = this.buffer;
    if (!buffer || this.shipping || this.stopped) return;
    this.shipping = true;
    clearTimeout(this.shipTimer);
    const read = async (skip: number) => {
      const batch = await buffer.peek(this.shipBytes, skip);
      if (batch.missing.length) {
        this.missingBatches += batch.missing.length;
        this.opts.log?.warn({ missing: batch.missing }, 'buffered batches are gone from the disk buffer (removed by hand?): their readings never reach InfluxDB');
      }
      return { ...batch, body: batch.names.length ? await this.backend.encode(batch.bytes) : null };
    };
    const ahead = (skip: number) => {
      const next = read(skip);
      next.catch(() => undefined); // awaited below; a failure while one is in flight is not unhandled
      return next;
    };
    void (async () => {
      try {
        let next = ahead(0);
        for (;;) {
          const { names, body, suffix } = await next;
          if (!body) {
            // a batch buffered after that read began: read again
            if (!buffer.depth.batches) break;
            next = ahead(0);
            continue;
          }
          await this.backend.prepare();
          const sent = this.backend.write(body, precisionOf(suffix));
          next = ahead(names.length);
          this.refusal(await sent, names.length);
          await buffer.remove(names);
          this.roomAgain();
          this.lastError = undefined;
          this.backoffMs = 500;
        }
      } catch (e) {
        this.lastError = (e as Error).message;
        this.opts.log?.warn({ err: this.lastError, buffered: buffer.depth }, 'InfluxDB write failed; readings wait on disk');
        // at most 10 s: a retry is one request, and after an outage the buffer should drain within
        // seconds of InfluxDB's return (at 30 s it went on filling for up to half a minute)
        this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
        this.shipTimer = setTimeout(() => this.ship(), this.backoffMs);
        this.shipTimer.unref();
      } finally {
        this.shipping = false;
      }
    })();
  }

  async query(q: TelemetryQuery): Promise<TelemetryPoint[] | TelemetryWindow[]> {
    const order = (a: { ts: number; deviceId: string; metric: string }, b: { ts: number; deviceId: string; metric: string }) => a.ts - b.ts || a.deviceId.localeCompare(b.deviceId) || a.metric.localeCompare(b.metric);
    if (q.everyMs) return (await this.backend.windows({ ...q, everyMs: q.everyMs })).sort(order).slice(0, q.limit);
    return (await this.backend.raw(q)).sort(order).slice(0, q.limit);
  }

  /** InfluxDB keeps its own retention (the `raw` and `year` policies): nothing to do here */
  async prune(): Promise<null> {
    return null;
  }

  recentSeqs(window: number) {
    return this.backend.recentSeqs(window);
  }

  latest() {
    return this.backend.latest();
  }

  firstSeen(deviceId: string) {
    return this.backend.firstSeen(deviceId);
  }

  coverage(deviceId: string, bucketMs: number, from: number, to: number) {
    return this.backend.coverage(deviceId, bucketMs, from, to);
  }

  health(): StoreHealth {
    const d = this.buffer?.depth ?? { batches: 0, bytes: 0, oldestAt: undefined };
    return {
      ok: this.lastError === undefined,
      pending: this.group.waiting.size + d.batches,
      lagMs: d.oldestAt ? Date.now() - d.oldestAt : 0,
      error: this.lastError,
      buffered: { batches: d.batches, bytes: d.bytes, maxBytes: this.buffer?.maxBytes ?? 0, refusedBatches: this.refusedBatches, missingBatches: this.missingBatches },
    };
  }

  /**
   * Until everything appended so far is in InfluxDB (tests, shutdown with InfluxDB up); rejects
   * when batches still wait after `timeoutMs`, so a caller never takes "flushed" for "shipped".
   */
  async flush(timeoutMs = 10_000): Promise<void> {
    await this.group.flush();
    const deadline = Date.now() + timeoutMs;
    while (this.buffer && this.buffer.depth.batches > 0) {
      if (Date.now() >= deadline) throw new Error(`${this.buffer.depth.batches} batches still wait for InfluxDB after ${timeoutMs} ms${this.lastError ? ` (${this.lastError})` : ''}`);
      this.ship();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await this.group.flush();
    this.stopped = true;
    clearTimeout(this.shipTimer);
  }
}
