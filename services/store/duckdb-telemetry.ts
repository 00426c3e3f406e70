import type { DuckDBAppender } from '@duckdb/node-api';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { INDICATORS, isMetric } from '../../domain/indicators.ts';
import type { Reading } from '../../domain/types.ts';
import type { SerialConnection } from './database.ts';
import { GroupCommit } from './group-commit.ts';
import type { StoreHealth, TelemetryPoint, TelemetryQuery, TelemetryStore, TelemetryWindow } from './telemetry-store.ts';

/**
 * The embedded time-series store. Readings are kept one row per metric value; booleans as 0/1
 * (the catalogue says which metrics are switches, so they are turned back on the way out).
 * Writes are group-committed: everything appended within `flushMs` goes in one appender flush,
 * and each caller's promise resolves when its rows are committed.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS readings (
  ts BIGINT NOT NULL, enterprise VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
  value DOUBLE, seq BIGINT, quality VARCHAR
)`;

/** readings appended between two turns of the pipeline thread's event loop (about 3 ms of work) */
const APPEND_SLICE = 1000;

export class DuckDbTelemetryStore implements TelemetryStore {
  readonly kind = 'embedded';
  private readonly group: GroupCommit<Reading[]>;
  private appender?: DuckDBAppender;
  private lastError?: string;

  private constructor(
    private readonly writer: SerialConnection,
    private readonly reader: SerialConnection,
    opts: { flushMs: number; maxBatch: number },
  ) {
    this.group = new GroupCommit((batch) => this.write(batch), { maxWaitMs: opts.flushMs, maxSize: opts.maxBatch });
  }

  static async create(writer: SerialConnection, reader: SerialConnection, opts = { flushMs: 20, maxBatch: 20_000 }) {
    await writer.run(SCHEMA);
    return new DuckDbTelemetryStore(writer, reader, opts);
  }

  append(readings: Reading[]): Promise<void> {
    return this.group.add(readings, readings.length);
  }

  /** Commit everything appended so far; failures are reported to the appenders, not here. */
  flush(): Promise<void> {
    return this.group.flush();
  }

  private write(batch: Reading[][]): Promise<void> {
    return this.writer.serial(async (c) => {
      // inside a transaction the appender's flush only hands the rows over, and the commit (the
      // log write, the sync to disk, a checkpoint now and then) runs off this thread: the thread
      // that runs the rules is not held by the disk, so alarms do not wait behind readings
      let open = false;
      try {
        const appender = (this.appender ??= await c.createAppender('readings'));
        await c.run('BEGIN TRANSACTION');
        open = true;
        // APPEND_SLICE readings at a time, with the thread let go in between: the appends are
        // native calls on this thread, and a group of 20 000 readings (after a long checkpoint)
        // held it for 60-80 ms, during which no reading's rules ran, an alarm's included
        let since = 0;
        for (const readings of batch)
          for (const r of readings) {
            appendReading(appender, r);
            if (++since < APPEND_SLICE) continue;
            // handed over slice by slice: one flush of them all took another 5-10 ms
            since = 0;
            appender.flushSync();
            await nextTurn();
          }
        appender.flushSync();
        await c.run('COMMIT');
        open = false;
        this.lastError = undefined;
      } catch (e) {
        this.lastError = (e as Error).message;
        // nothing of the batch is kept: its readings are refused and come again
        if (open) await c.run('ROLLBACK').catch(() => {});
        this.appender = undefined;
        throw e;
      }
    });
  }

  async query(q: TelemetryQuery): Promise<TelemetryPoint[] | TelemetryWindow[]> {
    const where = ['ts >= $from', 'ts < $to'];
    const params: Record<string, string | number | bigint> = { from: BigInt(q.from), to: BigInt(q.to), limit: q.limit };
    if (q.enterpriseId) (where.push('enterprise = $enterprise'), (params.enterprise = q.enterpriseId));
    if (q.deviceId) (where.push('device = $device'), (params.device = q.deviceId));
    if (q.metric) (where.push('metric = $metric'), (params.metric = q.metric));
    if (q.everyMs) {
      params.every = BigInt(q.everyMs);
      const rows = await this.reader.all<{ bucket: bigint; enterprise: string; device: string; metric: string; min: number; mean: number; max: number; n: bigint }>(
        `SELECT (ts // $every) * $every AS bucket, enterprise, device, metric,
                min(value) AS min, avg(value) AS mean, max(value) AS max, count(value) AS n
           FROM readings WHERE ${where.join(' AND ')} AND value IS NOT NULL
          GROUP BY ALL ORDER BY bucket, device, metric LIMIT $limit`,
        params,
      );
      return rows.map((r) => ({ ts: Number(r.bucket), enterpriseId: r.enterprise, deviceId: r.device, metric: r.metric, min: r.min, mean: r.mean, max: r.max, count: Number(r.n) }));
    }
    const rows = await this.reader.all<{ ts: bigint; enterprise: string; device: string; metric: string; value: number | null; seq: bigint | null; quality: string | null }>(
      `SELECT ts, enterprise, device, metric, value, seq, quality FROM readings
        WHERE ${where.join(' AND ')} ORDER BY ts, device, metric LIMIT $limit`,
      params,
    );
    return rows.map(toPoint);
  }

  prune(before: number): Promise<number> {
    // on the writer: a delete must not interleave with a group commit's appender
    return this.writer.serial(async (c) => {
      const r = await c.run('DELETE FROM readings WHERE ts < $before', { before: BigInt(before) });
      return Number(r.rowsChanged);
    });
  }

  async recentSeqs(window: number): Promise<Map<string, [number, number][]>> {
    const rows = await this.reader.all<{ device: string; seq: bigint; ts: bigint }>(
      `WITH m AS (SELECT device, max(seq) AS mx FROM readings WHERE seq IS NOT NULL GROUP BY device)
       SELECT DISTINCT r.device, r.seq, r.ts FROM readings r JOIN m USING (device) WHERE r.seq > m.mx - $w`,
      { w: BigInt(window) },
    );
    const out = new Map<string, [number, number][]>();
    for (const r of rows) {
      let list = out.get(r.device);
      if (!list) out.set(r.device, (list = []));
      list.push([Number(r.seq), Number(r.ts)]);
    }
    return out;
  }

  async latest(): Promise<TelemetryPoint[]> {
    const rows = await this.reader.all<{ ts: bigint; enterprise: string; device: string; metric: string; value: number | null; seq: bigint | null; quality: string | null }>(
      `SELECT max(ts) AS ts, enterprise, device, metric, arg_max(value, ts) AS value, NULL AS seq, arg_max(quality, ts) AS quality
         FROM readings WHERE value IS NOT NULL GROUP BY enterprise, device, metric`,
    );
    return rows.map(toPoint);
  }

  async coverage(deviceId: string, bucketMs: number, from: number, to: number): Promise<number> {
    const [r] = await this.reader.all<{ n: bigint }>('SELECT count(DISTINCT ts // $b) AS n FROM readings WHERE device = $d AND ts >= $from AND ts < $to', {
      b: BigInt(bucketMs),
      d: deviceId,
      from: BigInt(from),
      to: BigInt(to),
    });
    return Number(r?.n ?? 0);
  }

  async firstSeen(deviceId: string): Promise<number | null> {
    const [r] = await this.reader.all<{ t: bigint | null }>('SELECT min(ts) AS t FROM readings WHERE device = $d', { d: deviceId });
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  }

  health(): StoreHealth {
    const { size, since } = this.group.waiting;
    return { ok: this.lastError === undefined, pending: size, lagMs: since ? Date.now() - since : 0, error: this.lastError };
  }

  async close(): Promise<void> {
    await this.flush();
    await this.writer.serial(() => this.appender?.closeSync());
    this.appender = undefined;
  }
}

function appendReading(a: DuckDBAppender, r: Reading) {
  const ts = BigInt(r.ts);
  const seq = r.seq === undefined ? undefined : BigInt(r.seq);
  for (const metric in r.values) {
    const v = r.values[metric];
    appendRow(a, ts, r, seq, metric, typeof v === 'boolean' ? (v ? 1 : 0) : v, r.quality?.[metric]);
  }
  // a point reported as faulted with no value is still a fact worth keeping
  if (r.quality) for (const metric in r.quality) if (!(metric in r.values)) appendRow(a, ts, r, seq, metric, null, r.quality[metric]);
}

function appendRow(a: DuckDBAppender, ts: bigint, r: Reading, seq: bigint | undefined, metric: string, value: number | null, quality: string | undefined) {
  a.appendBigInt(ts);
  a.appendVarchar(r.enterpriseId);
  a.appendVarchar(r.deviceId);
  a.appendVarchar(metric);
  value === null ? a.appendNull() : a.appendDouble(value);
  seq === undefined ? a.appendNull() : a.appendBigInt(seq);
  quality === undefined ? a.appendNull() : a.appendVarchar(quality);
  a.endRow();
}

function toPoint(r: { ts: bigint; enterprise: string; device: string; metric: string; value: number | null; seq: bigint | null; quality: string | null }): TelemetryPoint {
  const isBool = isMetric(r.metric) && INDICATORS[r.metric].type === 'boolean';
  const p: TelemetryPoint = { ts: Number(r.ts), enterpriseId: r.enterprise, deviceId: r.device, metric: r.metric, value: isBool ? r.value === 1 : (r.value as number) };
  if (r.seq !== null) p.seq = Number(r.seq);
  if (r.quality !== null) p.quality = r.quality;
  return p;
}
