import { afterAll, beforeAll } from 'vitest';
import { join } from 'node:path';
import { InfluxTelemetryStore } from '../../services/store/influx-telemetry.ts';
import type { TelemetryStore } from '../../services/store/telemetry-store.ts';
import { tempDir } from '../support/app.ts';
import { startInfluxd, type Influxd } from '../support/influxd.ts';
import { storeContract } from './contract.ts';

/** The same contract, against a real influxd (Debian's influxdb, started here on a free port). */
let influxd: Influxd;
beforeAll(async () => {
  influxd = await startInfluxd();
}, 30_000);
afterAll(async () => influxd?.stop());

const where = new Map<TelemetryStore, { db: string; dir: string }>();
let n = 0;
const openAt = async (db: string, dir: string) => {
  const store = await InfluxTelemetryStore.create({ url: influxd.url, database: db, bufferDir: join(dir, 'buffer'), placement: () => ({ region: '321283', industry: 'hazchem' }) });
  where.set(store, { db, dir });
  return store;
};

storeContract('InfluxDB 1.x', {
  open: async () => openAt(`contract_${++n}`, await tempDir('rm-influx-store-')),
  reopen: async (store) => {
    const { db, dir } = where.get(store)!;
    await store.close();
    return openAt(db, dir);
  },
});

import { waitFor } from '../support/wait.ts';
import { describe, expect, it } from 'vitest';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { parse } from 'yaml';

describe('InfluxDB layout', () => {
  it('creates the database, the raw and year retention policies and the 1-minute downsampling query', async () => {
    const store = await openAt('layout', await tempDir('rm-influx-layout-'));
    await store.append([{ enterpriseId: 'E', deviceId: 'd', ts: Date.now(), values: { co_ppm: 5 } }]);
    await store.flush();
    const q = async (sql: string) => (await (await fetch(`${influxd.url}/query?q=${encodeURIComponent(sql)}`)).json()) as { results: { series?: { values: unknown[][]; columns: string[] }[] }[] };
    const rps = (await q('SHOW RETENTION POLICIES ON "layout"')).results[0].series![0].values.map((v) => [v[0], v[1], v[4]]);
    expect(rps).toEqual(expect.arrayContaining([['raw', '720h0m0s', true], ['year', '8760h0m0s', false]]));
    const cqs = JSON.stringify(((await q('SHOW CONTINUOUS QUERIES')).results[0].series as unknown as { name: string }[]).find((x) => x.name === 'layout'));
    expect(cqs).toContain('INTO layout.year.reading_1m FROM layout.raw.reading GROUP BY time(1m)');
    await store.close();
  });

  it('ships Grafana provisioning whose dashboards query what the store writes', async () => {
    const compose = parse(await readFile('docker-compose.yml', 'utf8')) as { services: Record<string, { volumes?: string[]; environment?: Record<string, string> }> };
    expect(compose.services.gateway.environment!.INFLUX_URL).toBe('http://influxdb:8086');
    const ds = parse(await readFile('dashboards/grafana/provisioning/datasources/influxdb.yaml', 'utf8')) as { datasources: { jsonData: { dbName: string } }[] };
    expect(ds.datasources[0].jsonData.dbName).toBe(compose.services.gateway.environment!.INFLUX_DB);
    for (const f of ['telemetry.json', 'alarm-overview.json']) {
      const text = await readFile(`dashboards/grafana/${f}`, 'utf8');
      const dash = JSON.parse(text) as { uid: string; panels: unknown[] };
      expect(dash.panels.length).toBeGreaterThan(1);
      for (const m of text.match(/FROM \\"(\w+)\\"/g) ?? []) expect(['FROM \\"reading\\"', 'FROM \\"alert_transition\\"']).toContain(m);
    }
  });
});

describe('InfluxDB refusals', () => {
  it('does not retry forever a batch InfluxDB refuses (points beyond retention): counted, and the buffer moves on', async () => {
    const store = await openAt('refusals', await tempDir('rm-influx-refused-'));
    await store.append([{ enterpriseId: 'E', deviceId: 'd', ts: Date.now() - 60 * 86_400_000, values: { co_ppm: 1 } }]);
    await store.flush(20_000);
    await store.append([{ enterpriseId: 'E', deviceId: 'd', ts: Date.now(), values: { co_ppm: 2 } }]);
    await store.flush(20_000);
    expect(store.health().buffered).toMatchObject({ batches: 0, refusedBatches: 1 });
    const points = await store.query({ deviceId: 'd', from: Date.now() - 3_600_000, to: Date.now() + 1000, limit: 10 });
    expect(points.map((p) => ('value' in p ? p.value : null))).toEqual([2]);
    await store.close();
  });
});

describe('InfluxDB requests of a bounded size', () => {
  it('writes a batch larger than one request may be in several, buffered or written through (cluster mode), and keeps every point', async () => {
    const ts0 = Date.now() - 60_000;
    const many = Array.from({ length: 3000 }, (_, i) => ({ enterpriseId: 'E', deviceId: 'big', ts: ts0 + i, seq: i, values: { co_ppm: i, gas_lel: i % 50 } }));
    for (const buffered of [true, false]) {
      const dir = await tempDir('rm-influx-chunks-');
      // a request holds at most 16 KiB here: the 3 000 readings take a few dozen
      const store = await InfluxTelemetryStore.create({ url: influxd.url, database: `chunks_${buffered}`, ...(buffered ? { bufferDir: join(dir, 'buffer') } : {}), shipBytes: 16 * 1024, placement: () => ({ region: '321283', industry: 'hazchem' }) });
      await store.append(many);
      await store.flush(20_000);
      const points = await store.query({ deviceId: 'big', metric: 'co_ppm', from: ts0 - 1, to: ts0 + 10_000, limit: 10_000 });
      expect(points.length, buffered ? 'buffered' : 'written through').toBe(3000);
      await store.close();
    }
  }, 60_000);
});

describe('InfluxDB shipping', () => {
  it('ships every buffered batch, the next made ready while one is in flight, across a failed request and a proxy\'s 400: every point once, names and values as given', async () => {
    const { createServer } = await import('node:http');
    // a real HTTP hop in front of influxd that answers the third write with a 503, the fifth with its own 400
    let writes = 0;
    const proxy = createServer(async (req, res) => {
      const body: Buffer[] = [];
      for await (const chunk of req) body.push(chunk as Buffer);
      if (req.url?.startsWith('/write') && ++writes === 3) return res.writeHead(503).end('overloaded');
      // a proxy's own error page: not InfluxDB refusing the batch
      if (req.url?.startsWith('/write') && writes === 5) return res.writeHead(400, { 'content-type': 'text/html' }).end('<html>bad request</html>');
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'content-length', 'connection'].includes(k))) as Record<string, string>;
      const answer = await fetch(`${influxd.url}${req.url}`, { method: req.method, headers, body: body.length ? Buffer.concat(body) : undefined });
      res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain', 'x-influxdb-version': answer.headers.get('x-influxdb-version') ?? '' }).end(Buffer.from(await answer.arrayBuffer()));
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const dir = await tempDir('rm-influx-ship-');
    // 4 KiB a request: the 600 readings take some thirty, each read and compressed while the one before is in flight
    const store = await InfluxTelemetryStore.create({ url, database: 'shipping', bufferDir: join(dir, 'buffer'), shipBytes: 4 * 1024, placement: () => ({ region: '321283', industry: 'hazchem' }) });
    const ts0 = Date.now() - 60_000;
    const names = ['锅炉 1号', 'a,b=c', 'plain'];
    const many = Array.from({ length: 600 }, (_, i) => ({ enterpriseId: '企业 E', deviceId: names[i % 3], ts: ts0 + i, seq: i, values: { co_ppm: i, 'gas lel': i % 50 } }));
    for (let i = 0; i < many.length; i += 50) void store.append(many.slice(i, i + 50));
    await store.flush(30_000);
    expect(writes).toBeGreaterThan(10);
    expect(store.health().buffered).toMatchObject({ batches: 0, refusedBatches: 0 });
    for (const [k, deviceId] of names.entries()) {
      const points = (await store.query({ deviceId, from: ts0 - 1, to: ts0 + 1000, limit: 10_000 })) as { enterpriseId: string; metric: string; value: number; seq: number }[];
      const mine = many.filter((_, i) => i % 3 === k);
      expect(points.filter((p) => p.metric === 'co_ppm').map((p) => p.value)).toEqual(mine.map((r) => r.values.co_ppm));
      expect(points.filter((p) => p.metric === 'gas lel').map((p) => p.seq)).toEqual(mine.map((r) => r.seq));
      expect(new Set(points.map((p) => p.enterpriseId))).toEqual(new Set(['企业 E']));
    }
    await store.close();
    proxy.close();
  }, 60_000);
});

describe('InfluxDB replaced under the running service', () => {
  it('makes its database again when it was dropped, and ships what waited', async () => {
    const store = await openAt('dropped', await tempDir('rm-influx-dropped-'));
    const ts0 = Date.now() - 60_000;
    await store.append([{ enterpriseId: 'E', deviceId: 'd', ts: ts0, seq: 1, values: { co_ppm: 1 } }]);
    await store.flush(20_000);
    expect((await fetch(`${influxd.url}/query?q=${encodeURIComponent('DROP DATABASE dropped')}`, { method: 'POST' })).status).toBe(200);
    // InfluxDB 1.x may still take a write into a database it has just dropped (204, the points
    // kept nowhere: influxdata/influxdb#5547, #6650): the store's next write is made once InfluxDB
    // itself refuses writes there, which is the state this test is about
    await waitFor(async () => (await fetch(`${influxd.url}/write?db=dropped`, { method: 'POST', body: 'probe value=1' })).status === 404, 10_000, 'InfluxDB refusing writes to the dropped database');
    await store.append([{ enterpriseId: 'E', deviceId: 'd', ts: ts0 + 1, seq: 2, values: { co_ppm: 2 } }]);
    await store.flush(20_000);
    expect(store.health()).toMatchObject({ ok: true, buffered: { batches: 0 } });
    expect(await (await fetch(`${influxd.url}/query?q=${encodeURIComponent('SHOW DATABASES')}`)).text()).toContain('"dropped"');
    const points = await store.query({ deviceId: 'd', from: ts0 - 1, to: ts0 + 1000, limit: 10 });
    expect(points.map((p) => ('value' in p ? p.value : null))).toEqual([2]);
    await store.close();
  }, 30_000);
});

describe('InfluxDB store upgraded with readings still buffered', () => {
  it('ships a batch the version before buffered in microseconds as microseconds, beside new ones in nanoseconds', async () => {
    const dir = await tempDir('rm-influx-upgrade-');
    const ts = Date.now() - 60_000;
    await mkdir(join(dir, 'buffer'), { recursive: true });
    await writeFile(join(dir, 'buffer', '000000000001.us.batch'), `reading,enterprise=E,device=old,metric=co_ppm,region=r,industry=i value=7,seq=3i ${ts}003\n`);
    const store = await openAt('upgrade', dir);
    await store.append([{ enterpriseId: 'E', deviceId: 'old', ts: ts + 1, seq: 4, values: { co_ppm: 8 } }]);
    await store.flush(20_000);
    const points = await store.query({ deviceId: 'old', from: ts - 1, to: ts + 1000, limit: 10 });
    expect(points.map((p) => [p.ts, 'value' in p ? p.value : null])).toEqual([
      [ts, 7],
      [ts + 1, 8],
    ]);
    await store.close();
  });
});

describe('InfluxDB flush', () => {
  it('rejects, saying why, when what was appended is not in InfluxDB by its deadline', async () => {
    const store = await InfluxTelemetryStore.create({ url: 'http://127.0.0.1:9', database: 'nowhere', bufferDir: join(await tempDir('rm-influx-nowhere-'), 'buffer'), placement: () => ({ region: '321283', industry: 'hazchem' }) });
    await store.append([{ enterpriseId: 'E', deviceId: 'd', ts: Date.now(), seq: 1, values: { co_ppm: 1 } }]);
    await expect(store.flush(300)).rejects.toThrow(/1 batches still wait for InfluxDB after 300 ms/);
    expect(store.health().buffered).toMatchObject({ batches: 1 });
    await store.close();
  });
});

describe('InfluxDB annotations', () => {
  it('keeps the changes of alerts on different points of one device, rule and metric at the same instant', async () => {
    const store = await openAt('annotations', await tempDir('rm-influx-annotations-'));
    const at = Date.now() - 60_000;
    for (const pointId of ['lel.p0', 'lel.p1', 'lel.p2']) await store.annotate({ id: `a-${pointId}`, enterpriseId: 'E', deviceId: 'd', rule: 'gas-lel', severity: 'critical', metric: 'gas_lel', pointId, message: `${pointId} over its limit` }, 'raised', at);
    await store.flush(20_000);
    const res = (await (await fetch(`${influxd.url}/query?db=annotations&q=${encodeURIComponent('SELECT alert_id, point FROM alert_transition')}`)).json()) as { results: { series?: { values: [string, string, string][] }[] }[] };
    expect(res.results[0].series?.[0].values.map(([, id, point]) => [id, point]).sort()).toEqual([
      ['a-lel.p0', 'lel.p0'],
      ['a-lel.p1', 'lel.p1'],
      ['a-lel.p2', 'lel.p2'],
    ]);
    await store.close();
  });
});
