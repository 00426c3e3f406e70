import { promisify } from 'node:util';
import { gzip as gzipCb } from 'node:zlib';
import { InfluxDB } from 'influx';
import type { InfluxBackend, Precision, WriteBody } from './influx-backend.ts';
import type { TelemetryPoint, TelemetryQuery, TelemetryWindow } from './telemetry-store.ts';

const gzip = promisify(gzipCb);

/**
 * InfluxDB over its 1.x HTTP API (`/write`, `/query`, InfluxQL): served by InfluxDB 1.x, and by
 * 2.x and 3.x in compatibility mode. Admin and queries through npm `influx`; writes are gzipped
 * line protocol posted directly, so one request carries a whole buffered batch.
 */
export class InfluxQlBackend implements InfluxBackend {
  readonly kind = 'influxdb';
  private readonly influx: InfluxDB;
  private ready = false;

  /** `gzip`: compress writes (a buffered batch shipped over a WAN); a cluster's workers write small batches on the LAN, where compressing costs more CPU than it saves */
  constructor(private readonly opts: { url: string; database: string; username?: string; password?: string; gzip?: boolean }) {
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

  /** Database, retention policies (`raw` 30 d default, `year` 365 d) and the 1-minute downsampling query. */
  async prepare() {
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

  /**
   * Gzipped at the fastest level: level 1 takes a third of the default's time for a body a little
   * larger (on the libuv pool, not the service's thread).
   */
  async encode(lineProtocol: Uint8Array): Promise<WriteBody> {
    return (this.opts.gzip ?? true) ? { bytes: await gzip(lineProtocol, { level: 1 }), gzipped: true } : { bytes: lineProtocol, gzipped: false };
  }

  async write(body: WriteBody, precision: Precision): Promise<string | null> {
    const u = new URL('/write', this.opts.url);
    u.searchParams.set('db', this.opts.database);
    u.searchParams.set('precision', precision);
    const headers: Record<string, string> = { ...(body.gzipped ? { 'content-encoding': 'gzip' } : {}), 'content-type': 'text/plain; charset=utf-8' };
    if (this.opts.username) headers.authorization = `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}`;
    const res = await fetch(u, { method: 'POST', headers, body: body.bytes, signal: AbortSignal.timeout(30_000) });
    if (res.status === 204) return null;
    const answer = `InfluxDB answered ${res.status}: ${(await res.text()).slice(0, 300)}`;
    // the database was dropped (or InfluxDB replaced by an empty one): made again before the retry
    if (res.status === 404) this.ready = false;
    // a refusal for good only when InfluxDB says it (1.x and 2.x name their version in every answer;
    // every version answers a refusal in JSON): a 400 from something in between (a proxy's error
    // page) is tried again, not taken as a reason to drop readings that were acknowledged
    if (res.status === 400 && (res.headers.has('x-influxdb-version') || /json/i.test(res.headers.get('content-type') ?? ''))) return answer;
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

  async windows(q: TelemetryQuery & { everyMs: number }): Promise<TelemetryWindow[]> {
    const series = await this.q<[number, number, number, number, number]>(
      `SELECT min("value"), mean("value"), max("value"), count("value") FROM "reading" WHERE ${this.where(q)} GROUP BY time(${q.everyMs}ms), "enterprise", "device", "metric" fill(none)`,
    );
    const out: TelemetryWindow[] = [];
    for (const s of series) for (const [ts, min, mean, max, count] of s.values) out.push({ ts, enterpriseId: s.tags!.enterprise, deviceId: s.tags!.device, metric: s.tags!.metric, min, mean, max, count });
    return out;
  }

  async raw(q: TelemetryQuery): Promise<TelemetryPoint[]> {
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
    return out;
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
    const count = async (field: string) =>
      (await this.q(`SELECT count("${field}") FROM "reading" WHERE ${this.where({ deviceId, from, to })} GROUP BY time(${bucketMs}ms) fill(none)`)).reduce((n, s) => n + s.values.length, 0);
    return Math.max(await count('value'), await count('state'));
  }

  async firstSeen(deviceId: string): Promise<number | null> {
    let first: number | null = null;
    for (const field of ['value', 'state'] as const)
      for (const s of await this.q<[number, unknown]>(`SELECT first("${field}") FROM "reading" WHERE ${this.where({ deviceId, from: 0, to: Date.now() + 86_400_000 })}`)) for (const [ts] of s.values) if (first === null || ts < first) first = ts;
    return first;
  }
}
