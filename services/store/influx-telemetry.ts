import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { InfluxDB } from 'influx';
import { INDICATORS, isMetric } from '../../rules/indicators.ts';
import type { Reading } from '../../rules/types.ts';
import { BufferFull, DiskBuffer } from './disk-buffer.ts';
import type { StoreHealth, TelemetryPoint, TelemetryQuery, TelemetryStore, TelemetryWindow } from './telemetry-store.ts';

const gzip = promisify(gzipCb);

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
export interface InfluxOptions {
  url: string;
  database: string;
  username?: string;
  password?: string;
  bufferDir: string;
  maxBufferBytes?: number;
  /** readings are grouped this long (or up to `batchLines`) into one buffered batch */
  batchMs?: number;
  batchLines?: number;
  /** how much one write to InfluxDB carries */
  shipBytes?: number;
  placement(enterpriseId: string): { region: string; industry: string };
  onBufferFull?(depth: { batches: number; bytes: number }): void;
  log?: { warn(o: object, msg?: string): void };
}

const escTag = (s: string) => s.replace(/[,= \\]/g, (c) => `\\${c}`);
const escStr = (s: string) => `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;

interface Waiting {
  lines: string[];
  resolve(): void;
  reject(err: Error): void;
}

export class InfluxTelemetryStore implements TelemetryStore {
  readonly kind = 'influxdb';
  private readonly influx: InfluxDB;
  private queue: Waiting[] = [];
  private queuedLines = 0;
  private timer?: NodeJS.Timeout;
  private writing: Promise<void> = Promise.resolve();
  private shipping = false;
  private stopped = false;
  private lastError?: string;
  private refusedBatches = 0;
  private ready = false;
  private backoffMs = 500;
  private shipTimer?: NodeJS.Timeout;

  private constructor(
    private readonly opts: InfluxOptions,
    private readonly buffer: DiskBuffer,
  ) {
    const u = new URL(opts.url);
    this.influx = new InfluxDB({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 8086)),
      protocol: u.protocol === 'https:' ? 'https' : 'http',
      database: opts.database,
      username: opts.username,
      password: opts.password,
    });
  }

  static async create(opts: InfluxOptions): Promise<InfluxTelemetryStore> {
    const buffer = await DiskBuffer.open(opts.bufferDir, opts.maxBufferBytes ?? 512 * 1024 * 1024);
    const store = new InfluxTelemetryStore(opts, buffer);
    store.ship();
    return store;
  }

  /** Database, retention policies and the downsampling query, created when missing. */
  private async prepare() {
    if (this.ready) return;
    const db = this.opts.database;
    const names = await this.influx.getDatabaseNames();
    if (!names.includes(db)) await this.influx.createDatabase(db);
    const rps = (await this.influx.showRetentionPolicies(db)).map((r) => r.name);
    if (!rps.includes('raw')) await this.influx.createRetentionPolicy('raw', { database: db, duration: '30d', replication: 1, isDefault: true });
    if (!rps.includes('year')) await this.influx.createRetentionPolicy('year', { database: db, duration: '365d', replication: 1 });
    // SHOW CONTINUOUS QUERIES lists every database's: look in this database's series only
    const raw = (await this.influx.queryRaw('SHOW CONTINUOUS QUERIES')) as { results: { series?: { name: string; values?: string[][] }[] }[] };
    const cqs = (raw.results[0]?.series?.find((x) => x.name === db)?.values ?? []).map((v) => v[0]);
    if (!cqs.includes('reading_1m'))
      await this.influx.createContinuousQuery(
        'reading_1m',
        `SELECT min("value") AS "min", mean("value") AS "mean", max("value") AS "max", count("value") AS "count" INTO "${db}"."year"."reading_1m" FROM "${db}"."raw"."reading" GROUP BY time(1m), *`,
        db,
      );
    this.ready = true;
  }

  append(readings: Reading[]): Promise<void> {
    const lines: string[] = [];
    for (const r of readings) {
      const place = this.opts.placement(r.enterpriseId);
      const tags = `enterprise=${escTag(r.enterpriseId)},device=${escTag(r.deviceId)}`;
      const where = `,region=${escTag(place.region || 'none')},industry=${escTag(place.industry || 'none')}`;
      const extra = (metric: string) => `${r.seq !== undefined ? `,seq=${r.seq}i` : ''}${r.quality?.[metric] ? `,quality=${escStr(r.quality[metric])}` : ''}`;
      for (const [metric, v] of Object.entries(r.values)) {
        const field = typeof v === 'boolean' ? `state=${v}` : `value=${v}`;
        lines.push(`reading,${tags},metric=${escTag(metric)}${where} ${field}${extra(metric)} ${r.ts}`);
      }
      for (const [metric, q] of Object.entries(r.quality ?? {}))
        if (!(metric in r.values)) lines.push(`reading,${tags},metric=${escTag(metric)}${where} quality=${escStr(q)}${r.seq !== undefined ? `,seq=${r.seq}i` : ''} ${r.ts}`);
    }
    return this.enqueue(lines);
  }

  /** An alert transition, for Grafana annotations beside the telemetry. */
  annotate(a: { id: string; enterpriseId: string; deviceId: string; rule: string; severity: string; metric: string; message: string }, type: string, at: number): Promise<void> {
    const tags = `enterprise=${escTag(a.enterpriseId)},device=${escTag(a.deviceId)},rule=${escTag(a.rule)},severity=${a.severity},type=${type},metric=${escTag(a.metric || 'none')}`;
    return this.enqueue([`alert_transition,${tags} alert_id=${escStr(a.id)},message=${escStr(a.message.slice(0, 500))} ${at}`]);
  }

  private enqueue(lines: string[]): Promise<void> {
    if (!lines.length) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queue.push({ lines, resolve, reject });
      this.queuedLines += lines.length;
      if (this.queuedLines >= (this.opts.batchLines ?? 20_000)) void this.flushQueue();
      else this.timer ??= setTimeout(() => void this.flushQueue(), this.opts.batchMs ?? 20);
    });
  }

  /** One buffered (fsync'd) batch for everything queued: the group commit. */
  private flushQueue(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.queuedLines = 0;
    this.writing = this.writing.then(async () => {
      if (!batch.length) return;
      try {
        await this.buffer.append(batch.flatMap((w) => w.lines).join('\n') + '\n');
        for (const w of batch) w.resolve();
        this.ship();
      } catch (e) {
        if (e instanceof BufferFull) this.opts.onBufferFull?.(this.buffer.depth);
        for (const w of batch) w.reject(e as Error);
      }
    });
    return this.writing;
  }

  /** Ship buffered batches in order; on failure wait (doubling up to 30 s) and try again. */
  private ship() {
    if (this.shipping || this.stopped) return;
    this.shipping = true;
    clearTimeout(this.shipTimer);
    void (async () => {
      try {
        for (;;) {
          const { names, text } = await this.buffer.peek(this.opts.shipBytes ?? 4 * 1024 * 1024);
          if (!names.length) break;
          await this.prepare();
          const refused = await this.write(text);
          // a batch InfluxDB refuses as such (points beyond retention, a field of another type)
          // will be refused again: it is logged and counted, not retried forever
          if (refused) {
            this.refusedBatches++;
            this.opts.log?.warn({ refused, batches: names.length }, 'InfluxDB refused (part of) a batch; it is not retried');
          }
          await this.buffer.remove(names);
          this.lastError = undefined;
          this.backoffMs = 500;
        }
      } catch (e) {
        this.lastError = (e as Error).message;
        this.opts.log?.warn({ err: this.lastError, buffered: this.buffer.depth }, 'InfluxDB write failed; readings wait on disk');
        this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
        this.shipTimer = setTimeout(() => this.ship(), this.backoffMs);
        this.shipTimer.unref();
      } finally {
        this.shipping = false;
      }
    })();
  }

  private async write(text: string) {
    const u = new URL('/write', this.opts.url);
    u.searchParams.set('db', this.opts.database);
    u.searchParams.set('precision', 'ms');
    const headers: Record<string, string> = { 'content-encoding': 'gzip', 'content-type': 'text/plain; charset=utf-8' };
    if (this.opts.username) headers.authorization = `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}`;
    const res = await fetch(u, { method: 'POST', headers, body: await gzip(text), signal: AbortSignal.timeout(30_000) });
    if (res.status === 204) return null;
    const answer = `InfluxDB answered ${res.status}: ${(await res.text()).slice(0, 300)}`;
    if (res.status === 400) return answer;
    throw new Error(answer);
  }

  private async q<T = unknown[]>(query: string): Promise<{ name: string; tags?: Record<string, string>; columns: string[]; values: T[] }[]> {
    await this.prepare();
    const raw = (await this.influx.queryRaw(query, { precision: 'ms' })) as { results: { series?: { name: string; tags?: Record<string, string>; columns: string[]; values: T[] }[]; error?: string }[] };
    const r = raw.results[0];
    if (r?.error) throw new Error(r.error);
    return r?.series ?? [];
  }

  private where(q: { enterpriseId?: string; deviceId?: string; metric?: string; from: number; to: number }) {
    const w = [`time >= ${q.from}ms`, `time < ${q.to}ms`];
    const lit = (s: string) => `'${s.replace(/['\\]/g, (c) => `\\${c}`)}'`;
    if (q.enterpriseId) w.push(`"enterprise" = ${lit(q.enterpriseId)}`);
    if (q.deviceId) w.push(`"device" = ${lit(q.deviceId)}`);
    if (q.metric) w.push(`"metric" = ${lit(q.metric)}`);
    return w.join(' AND ');
  }

  async query(q: TelemetryQuery): Promise<TelemetryPoint[] | TelemetryWindow[]> {
    if (q.everyMs) {
      const series = await this.q<[number, number, number, number, number]>(
        `SELECT min("value"), mean("value"), max("value"), count("value") FROM "reading" WHERE ${this.where(q)} GROUP BY time(${q.everyMs}ms), "enterprise", "device", "metric" fill(none)`,
      );
      const out: TelemetryWindow[] = [];
      for (const s of series)
        for (const [ts, min, mean, max, count] of s.values) out.push({ ts, enterpriseId: s.tags!.enterprise, deviceId: s.tags!.device, metric: s.tags!.metric, min, mean, max, count });
      return out.sort((a, b) => a.ts - b.ts || a.deviceId.localeCompare(b.deviceId) || a.metric.localeCompare(b.metric)).slice(0, q.limit);
    }
    const series = await this.q<[number, number | null, boolean | null, number | null, string | null, string, string, string]>(
      `SELECT "value", "state", "seq", "quality", "enterprise", "device", "metric" FROM "reading" WHERE ${this.where(q)} ORDER BY time ASC LIMIT ${q.limit * 4}`,
    );
    const out: TelemetryPoint[] = [];
    for (const s of series)
      for (const [ts, value, state, seq, quality, enterpriseId, deviceId, metric] of s.values) {
        const p: TelemetryPoint = { ts, enterpriseId, deviceId, metric, value: (state ?? value) as number | boolean };
        if (seq !== null) p.seq = seq;
        if (quality !== null) p.quality = quality;
        out.push(p);
      }
    return out.sort((a, b) => a.ts - b.ts || a.deviceId.localeCompare(b.deviceId) || a.metric.localeCompare(b.metric)).slice(0, q.limit);
  }

  async recentSeqs(window: number): Promise<Map<string, [number, number][]>> {
    const series = await this.q<[number, number]>(`SELECT "seq" FROM "reading" WHERE time > now() - 7d GROUP BY "device" ORDER BY time DESC LIMIT ${window}`);
    const out = new Map<string, [number, number][]>();
    for (const s of series) out.set(s.tags!.device, s.values.filter(([, seq]) => seq !== null).map(([ts, seq]) => [seq, ts]));
    return out;
  }

  async latest(): Promise<TelemetryPoint[]> {
    const out: TelemetryPoint[] = [];
    for (const field of ['value', 'state'] as const) {
      const series = await this.q<[number, number | boolean]>(`SELECT last("${field}") FROM "reading" GROUP BY "enterprise", "device", "metric"`);
      for (const s of series) for (const [ts, v] of s.values) out.push({ ts, enterpriseId: s.tags!.enterprise, deviceId: s.tags!.device, metric: s.tags!.metric, value: v });
    }
    return out;
  }

  async coverage(deviceId: string, bucketMs: number, from: number, to: number): Promise<number> {
    const series = await this.q(`SELECT count("seq") FROM "reading" WHERE ${this.where({ deviceId, from, to })} GROUP BY time(${bucketMs}ms) fill(none)`);
    const viaSeq = series.reduce((n, s) => n + s.values.length, 0);
    if (viaSeq) return viaSeq;
    const any = await this.q(`SELECT count("value") FROM "reading" WHERE ${this.where({ deviceId, from, to })} GROUP BY time(${bucketMs}ms) fill(none)`);
    return any.reduce((n, s) => n + s.values.length, 0);
  }

  health(): StoreHealth {
    const d = this.buffer.depth;
    return {
      ok: this.lastError === undefined,
      pending: this.queuedLines + d.batches,
      lagMs: d.oldestAt ? Date.now() - d.oldestAt : 0,
      error: this.lastError,
      buffered: { batches: d.batches, bytes: d.bytes, maxBytes: this.buffer.maxBytes, refusedBatches: this.refusedBatches },
    } as StoreHealth;
  }

  /** Until everything appended so far is in InfluxDB (tests, shutdown with InfluxDB up). */
  async flush(timeoutMs = 10_000): Promise<void> {
    await this.flushQueue();
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.depth.batches > 0 && Date.now() < deadline) {
      this.ship();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await this.flushQueue();
    this.stopped = true;
    clearTimeout(this.shipTimer);
  }
}
