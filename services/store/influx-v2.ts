import { HttpError, InfluxDB, type QueryApi, type WriteApi } from '@influxdata/influxdb-client';
import type { InfluxBackend, Precision, WriteBody } from './influx-backend.ts';
import type { TelemetryPoint, TelemetryQuery, TelemetryWindow } from './telemetry-store.ts';

/**
 * InfluxDB 2.x through its native API (`@influxdata/influxdb-client`): token, organisation and
 * bucket; queries in Flux. The bucket must exist (a token for writing need not be allowed to
 * create buckets); downsampling in 2.x is a task, which the README shows how to add.
 */
export class FluxBackend implements InfluxBackend {
  readonly kind = 'influxdb2';
  private readonly writeApis: Record<Precision, WriteApi>;
  private readonly queryApi: QueryApi;

  constructor(private readonly opts: { url: string; token: string; org: string; bucket: string }) {
    const client = new InfluxDB({ url: opts.url, token: opts.token, timeout: 30_000 });
    // the disk buffer does the batching and the retrying: the client only carries a batch over
    const writeOptions = { batchSize: 1_000_000, flushInterval: 0, maxRetries: 0, gzipThreshold: 1000 };
    this.writeApis = { ms: client.getWriteApi(opts.org, opts.bucket, 'ms', writeOptions), u: client.getWriteApi(opts.org, opts.bucket, 'us', writeOptions), ns: client.getWriteApi(opts.org, opts.bucket, 'ns', writeOptions) };
    this.queryApi = client.getQueryApi(opts.org);
  }

  async prepare() {}

  /** the client compresses as it sends */
  async encode(lineProtocol: Uint8Array): Promise<WriteBody> {
    return { bytes: lineProtocol, gzipped: false };
  }

  async write(body: WriteBody, precision: Precision): Promise<string | null> {
    const api = this.writeApis[precision];
    api.writeRecords(Buffer.from(body.bytes.buffer, body.bytes.byteOffset, body.bytes.byteLength).toString('utf8').split('\n').filter(Boolean));
    try {
      await api.flush();
      return null;
    } catch (e) {
      if (e instanceof HttpError && (e.statusCode === 400 || e.statusCode === 422)) return `InfluxDB answered ${e.statusCode}: ${e.body?.slice(0, 300)}`;
      throw e;
    }
  }

  private range(from: number, to: number) {
    return `from(bucket: ${JSON.stringify(this.opts.bucket)}) |> range(start: time(v: ${JSON.stringify(new Date(from).toISOString())}), stop: time(v: ${JSON.stringify(new Date(to).toISOString())}))`;
  }

  private filter(q: { enterpriseId?: string; deviceId?: string; metric?: string }, fields: string[]) {
    const c = [`r._measurement == "reading"`, `(${fields.map((f) => `r._field == ${JSON.stringify(f)}`).join(' or ')})`];
    if (q.enterpriseId) c.push(`r.enterprise == ${JSON.stringify(q.enterpriseId)}`);
    if (q.deviceId) c.push(`r.device == ${JSON.stringify(q.deviceId)}`);
    if (q.metric) c.push(`r.metric == ${JSON.stringify(q.metric)}`);
    return `|> filter(fn: (r) => ${c.join(' and ')})`;
  }

  private rows<T>(flux: string): Promise<T[]> {
    return this.queryApi.collectRows<T>(flux);
  }

  async raw(q: TelemetryQuery): Promise<TelemetryPoint[]> {
    type Row = { _time: string; enterprise: string; device: string; metric: string; value?: number; state?: boolean; seq?: number; quality?: string };
    const rows = await this.rows<Row>(
      `${this.range(q.from, q.to)} ${this.filter(q, ['value', 'state', 'seq', 'quality'])} |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value") |> group() |> sort(columns: ["_time"]) |> limit(n: ${q.limit})`,
    );
    return rows.map((r) => {
      const p: TelemetryPoint = { ts: Date.parse(r._time), enterpriseId: r.enterprise, deviceId: r.device, metric: r.metric, value: (r.state ?? r.value) as number | boolean };
      if (r.seq !== undefined && r.seq !== null) p.seq = Number(r.seq);
      if (r.quality) p.quality = r.quality;
      return p;
    });
  }

  async windows(q: TelemetryQuery & { everyMs: number }): Promise<TelemetryWindow[]> {
    type Row = { _time: string; enterprise: string; device: string; metric: string; _value: number };
    const stat = (fn: string) =>
      this.rows<Row>(`${this.range(q.from, q.to)} ${this.filter(q, ['value'])} |> aggregateWindow(every: ${q.everyMs}ms, fn: ${fn}, createEmpty: false, timeSrc: "_start")`);
    const [min, mean, max, count] = await Promise.all(['min', 'mean', 'max', 'count'].map(stat));
    const key = (r: Row) => `${r.enterprise}|${r.device}|${r.metric}|${r._time}`;
    const by = (rows: Row[]) => new Map(rows.map((r) => [key(r), r._value]));
    const [mn, mx, ct] = [by(min), by(max), by(count)];
    return mean.map((r) => ({ ts: Date.parse(r._time), enterpriseId: r.enterprise, deviceId: r.device, metric: r.metric, min: mn.get(key(r))!, mean: r._value, max: mx.get(key(r))!, count: Number(ct.get(key(r))) }));
  }

  async latest(): Promise<TelemetryPoint[]> {
    type Row = { _time: string; enterprise: string; device: string; metric: string; _value: number | boolean };
    const rows = await this.rows<Row>(`from(bucket: ${JSON.stringify(this.opts.bucket)}) |> range(start: -30d) ${this.filter({}, ['value', 'state'])} |> last()`);
    return rows.map((r) => ({ ts: Date.parse(r._time), enterpriseId: r.enterprise, deviceId: r.device, metric: r.metric, value: r._value }));
  }

  async recentSeqs(window: number): Promise<Map<string, [number, number][]>> {
    type Row = { _time: string; device: string; _value: number };
    const rows = await this.rows<Row>(
      `from(bucket: ${JSON.stringify(this.opts.bucket)}) |> range(start: -7d) ${this.filter({}, ['seq'])} |> group(columns: ["device"]) |> sort(columns: ["_time"], desc: true) |> limit(n: ${window})`,
    );
    const out = new Map<string, [number, number][]>();
    for (const r of rows) out.set(r.device, [...(out.get(r.device) ?? []), [Number(r._value), Date.parse(r._time)]]);
    return out;
  }

  async coverage(deviceId: string, bucketMs: number, from: number, to: number): Promise<number> {
    const rows = await this.rows<{ _time: string }>(
      `${this.range(from, to)} ${this.filter({ deviceId }, ['value', 'state'])} |> aggregateWindow(every: ${bucketMs}ms, fn: count, createEmpty: false, timeSrc: "_start") |> group() |> keep(columns: ["_time"]) |> distinct(column: "_time")`,
    );
    return rows.length;
  }

  async firstSeen(deviceId: string): Promise<number | null> {
    const rows = await this.rows<{ _time: string }>(`${this.range(0, Date.now() + 86_400_000)} ${this.filter({ deviceId }, ['value', 'state'])} |> group() |> first(column: "_time") |> keep(columns: ["_time"])`);
    return rows.length ? Date.parse(rows[0]._time) : null;
  }
}
