import { execFile } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { createServer as createTlsServer } from 'node:tls';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp, tempDir } from '../support/app.ts';
import { startDesPlatform, startSm4Platform, type Platform } from '../support/platforms.ts';
import { startReceiver } from '../support/receivers.ts';
import { CAST, CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** The test registry with uplinks, and upstream codes on the chemical plant's and the casting plant's points. */
function registryWith(uplinks: object[], webhookUrl?: string) {
  const reg = testRegistry({ webhookUrl }) as ReturnType<typeof testRegistry> & { uplinks?: object[] };
  for (const ent of reg.enterprises)
    for (const dev of ent.devices as { id: string; points: { metric: string; code?: string }[] }[])
      for (const p of dev.points) p.code = `${dev.id.toUpperCase()}-${p.metric.toUpperCase()}`;
  reg.uplinks = uplinks;
  return reg;
}

// 2026-11-22 08:00:00 UTC = 16:00:00 China Standard Time
const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);
const cst = (ms: number) => new Date(ms + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ');
const FAST = { forward: { baseDelayMs: 100, maxDelayMs: 400 } };

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('forwarding to a provincial dust interface (HTTP + DES-CBC, hex)', () => {
  it('sends real-time items and alarm events with every field as the platform reads them', async () => {
    const platform = await startDesPlatform('k3y-8chr', 'iv-8char');
    cleanups.push(platform.close);
    const uplink = { id: 'js-dust', kind: 'http-des', url: `${platform.url}/realtime`, alarmUrl: `${platform.url}/alarm`, key: 'k3y-8chr', iv: 'iv-8char', gatewayCode: 'WG-0001', enterprises: [CHEM], enterpriseCodes: { [CHEM]: 'QY-CHEM' }, send: 'all', readingsEveryS: 3600 };
    const app = await startTestApp({ registry: registryWith([uplink]), ...FAST, clock: () => Date.now() });
    cleanups.push(app.stop);
    const chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const cast = await connectDevice(app, CAST, 'caster-1', 'secret-caster-1');
    cleanups.push(chem.end, cast.end);
    await chem.telemetry({ ts: new Date(T0).toISOString(), values: { gas_lel: 5, toxic_gas_ppm: 0.5 } });
    await chem.telemetry({ ts: new Date(T0 + 1000).toISOString(), values: { gas_lel: 6 } });
    await cast.telemetry({ ts: new Date(T0).toISOString(), values: { melt_level: 500 } });
    expect(cast.rejects).toEqual([]);
    await app.forwarder.cut();

    const batch = await waitFor(() => platform.received.find((r) => r.path === '/realtime'), 5000, 'real-time batch');
    expect(batch.body).toMatchObject({ qybm: 'QY-CHEM', wgbm: 'WG-0001' });
    expect(batch.body.data).toMatch(/^[0-9A-F]+$/);
    expect(batch.plain).toEqual([
      { tnm: 'GAS-1-GAS_LEL', ts: cst(T0), val: '5' },
      { tnm: 'GAS-1-TOXIC_GAS_PPM', ts: cst(T0), val: '0.5' },
      { tnm: 'GAS-1-GAS_LEL', ts: cst(T0 + 1000), val: '6' },
    ]);
    expect(cst(T0)).toBe('2026-11-22 16:00:00');

    // an alarm goes at once, not at the next interval; its clearing too
    await chem.telemetry({ values: { gas_lel: 25 } });
    const raised = await waitFor(() => platform.received.find((r) => r.path === '/alarm'), 5000, 'alarm event');
    const [ev] = raised.plain as Record<string, unknown>[];
    expect(ev).toMatchObject({ oname: 'GAS-1-GAS_LEL', avx: '25', scd: 3, threshold: '20' });
    expect(ev.ts).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(String(ev.content)).toContain('gas');
    await chem.telemetry({ values: { gas_lel: 1 } });
    const cleared = await waitFor(() => platform.received.filter((r) => r.path === '/alarm')[1], 5000, 'clearing event');
    expect((cleared.plain as Record<string, unknown>[])[0]).toMatchObject({ oname: 'GAS-1-GAS_LEL', scd: 0, avx: '1', threshold: '20' });

    // only the enterprises the uplink covers: the casting plant never reaches this platform
    expect(platform.received.every((r) => r.body.qybm === 'QY-CHEM')).toBe(true);
    const status = (await apiClient(app, 'token-operator').get('/api/uplinks')).json.items[0];
    expect(status).toMatchObject({ id: 'js-dust', kind: 'http-des', enterprises: [CHEM], deadLetters: 0 });
    expect(JSON.stringify(status)).not.toContain('k3y-8chr');
  });

  it('sends the latest value of each point per interval when the platform wants the latest', async () => {
    const platform = await startDesPlatform('12345678');
    cleanups.push(platform.close);
    const uplink = { id: 'latest', kind: 'http-des', url: platform.url, key: '12345678', gatewayCode: 'WG', enterprises: [CHEM] };
    const app = await startTestApp({ registry: registryWith([uplink]), ...FAST });
    cleanups.push(app.stop);
    const chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    cleanups.push(chem.end);
    for (let i = 0; i < 5; i++) await chem.telemetry({ ts: new Date(T0 + i * 1000).toISOString(), values: { gas_lel: i } });
    await app.forwarder.cut();
    const batch = await waitFor(() => platform.received[0], 5000, 'batch');
    expect(batch.plain).toEqual([{ tnm: 'GAS-1-GAS_LEL', ts: cst(T0 + 4000), val: '4' }]);
  });
});

describe('forwarding to the national dust platform (HTTP + SM4-CBC)', () => {
  it('posts { appid, data } with the app secret in a header, readings and alarms decrypting to every field', async () => {
    const keyHex = '0123456789abcdeffedcba9876543210';
    const ivHex = '00112233445566778899aabbccddeeff';
    const platform = await startSm4Platform({ keyHex, ivHex, appId: 'APP-001', appSecret: 's3cret', header: 'appSecret' });
    cleanups.push(platform.close);
    const uplink = { id: 'national', kind: 'http-sm4', url: platform.url, appId: 'APP-001', appSecret: 's3cret', key: keyHex, iv: ivHex, regions: ['321283'], send: 'all', readingsEveryS: 3600 };
    const app = await startTestApp({ registry: registryWith([uplink]), ...FAST });
    cleanups.push(app.stop);
    const chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    cleanups.push(chem.end);
    await chem.telemetry({ ts: new Date(T0).toISOString(), values: { gas_lel: 3.5, gas_shutoff_valve_closed: false } });
    await app.forwarder.cut();
    const batch = await waitFor(() => platform.received[0], 5000, 'batch');
    expect(batch.headers.appsecret).toBe('s3cret');
    expect(batch.body.appid).toBe('APP-001');
    expect(batch.plain).toEqual({
      enterpriseCode: CHEM,
      type: 'realtime',
      items: [
        { pointCode: 'GAS-1-GAS_LEL', ts: cst(T0), value: 3.5 },
        { pointCode: 'GAS-1-GAS_SHUTOFF_VALVE_CLOSED', ts: cst(T0), value: false },
      ],
    });
    await chem.telemetry({ values: { gas_lel: 45, gas_shutoff_valve_closed: true } });
    const alarm = await waitFor(() => platform.received.find((r) => (r.plain as { type: string }).type === 'alarm'), 5000, 'alarm');
    const plain = alarm.plain as { enterpriseCode: string; items: Record<string, unknown>[] };
    expect(plain.enterpriseCode).toBe(CHEM);
    expect(plain.items[0]).toMatchObject({ pointCode: 'GAS-1-GAS_LEL', state: 'alarm', level: 'critical', value: 45, threshold: 40 });
    expect(plain.items[0].alarmId).toEqual(expect.any(String));
  });
});

describe('an MQTT bridge to another broker', () => {
  it('publishes readings and alarm events with QoS 1 over TLS on the mapped topics', async () => {
    const dir = await tempDir('rm-bridge-');
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
    // the city platform: a plain aedes over TLS, with a login of its own
    const broker = await Aedes.createBroker();
    broker.authenticate = (_c, user, pass, done) => done(null, user === 'gw' && pass?.toString() === 'pw');
    const server = createTlsServer({ key: await readFile(key), cert: await readFile(cert) }, broker.handle);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    cleanups.push(() => new Promise<void>((r) => broker.close(() => server.close(() => r()))));
    const sub = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { username: 'gw', password: 'pw', ca: await readFile(cert), reconnectPeriod: 0 });
    cleanups.push(() => sub.endAsync());
    const got: { topic: string; payload: any; qos: number }[] = [];
    sub.on('message', (topic, payload, packet) => got.push({ topic, payload: JSON.parse(payload.toString()), qos: packet.qos }));
    await sub.subscribeAsync('city/#', { qos: 1 });

    const uplink = { id: 'city', kind: 'mqtt', url: `mqtts://127.0.0.1:${port}`, username: 'gw', password: 'pw', caFile: cert, topic: 'city/{enterprise}/{device}/{type}', enterprises: [CHEM] };
    const registry = registryWith([uplink]);
    // an upstream code is the enterprise's to choose, even one named like Object's prototype
    const gas = registry.enterprises.find((e) => e.id === CHEM)!.devices.find((d) => d.id === 'gas-1') as { points: { metric: string; code?: string }[] };
    gas.points.find((p) => p.metric === 'toxic_gas_ppm')!.code = '__proto__';
    const app = await startTestApp({ registry, ...FAST });
    cleanups.push(app.stop);
    await waitFor(async () => (await apiClient(app, 'token-operator').get('/api/uplinks')).json.items.length, 5000, 'uplink');
    const chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    cleanups.push(chem.end);
    await chem.telemetry({ ts: new Date(T0).toISOString(), values: { gas_lel: 7, toxic_gas_ppm: 1.5 } });
    const reading = await waitFor(() => got.find((g) => g.topic === `city/${CHEM}/gas-1/telemetry`), 8000, 'bridged reading');
    expect(reading.payload).toEqual({ ts: new Date(T0).toISOString(), values: JSON.parse('{"GAS-1-GAS_LEL":7,"__proto__":1.5}') });
    expect(Object.keys(reading.payload.values)).toEqual(['GAS-1-GAS_LEL', '__proto__']);
    expect(reading.qos).toBe(1);
    await chem.telemetry({ values: { gas_lel: 30 } });
    const alarm = await waitFor(() => got.find((g) => g.topic === `city/${CHEM}/gas-1/alarm`), 8000, 'bridged alarm');
    expect(alarm.payload).toMatchObject({ code: 'GAS-1-GAS_LEL', state: 'alarm', severity: 'major', value: 30, threshold: 20 });
    // the audit trail's head, retained, so the platform holds a copy a cut-short trail cannot match
    await app.publishAuditHead();
    const head = await waitFor(() => got.find((g) => g.topic.startsWith('city/_gateway/') && g.topic.endsWith('/audit-head')), 8000, 'audit head');
    expect(head.payload).toMatchObject({ n: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const verified = (await apiClient(app, 'token-operator').get(`/api/audit/verify?head=${head.payload.n}:${head.payload.hash}`)).json;
    expect(verified).toMatchObject({ ok: true, missingHead: null });
  });
});

describe('store and forward', () => {
  it('keeps everything through an outage and a restart, then delivers every reading and alarm event once, in order', async () => {
    const platform = await startDesPlatform('outage-k');
    cleanups.push(platform.close);
    platform.mode = 'down';
    const uplink = { id: 'prov', kind: 'http-des', url: `${platform.url}/rt`, alarmUrl: `${platform.url}/alarm`, key: 'outage-k', gatewayCode: 'WG', enterprises: [CHEM], send: 'all', readingsEveryS: 1 };
    const registry = registryWith([uplink]);
    const dataDir = await tempDir();
    let app = await startTestApp({ registry, dataDir, ...FAST });
    let chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const sent: number[] = [];
    const send = async (value: number) => {
      const ts = T0 + sent.length * 1000;
      sent.push(value);
      await chem.telemetry({ ts: new Date(ts).toISOString(), values: { gas_lel: value } });
    };
    for (const v of [1, 2, 3, 25, 26, 4, 5]) await send(v); // one alarm raised and cleared
    await waitFor(() => platform.state.attempts >= 2, 8000, 'tries against the platform that is down');
    await chem.end();
    await app.stop();

    app = await startTestApp({ registry, dataDir, ...FAST });
    cleanups.push(() => app.stop());
    chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    cleanups.push(() => chem.end());
    for (const v of [6, 30, 7, 8]) await send(v); // another alarm, raised and cleared
    const uplinkNow = async () => (await apiClient(app, 'token-operator').get('/api/uplinks')).json.items[0];
    const queued = await waitFor(async () => {
      const u = await uplinkNow();
      return u.lanes.alarms.queued === 4 && u.lanes.readings.attempts > 0 && u;
    }, 8000, 'four alarm events queued and readings tried again');
    expect(queued.lanes.alarms.queued).toBe(4);
    expect(platform.received).toHaveLength(0);

    platform.mode = 'up';
    const items = () => platform.received.filter((r) => r.path === '/rt').flatMap((r) => r.plain as { val: string; ts: string }[]);
    await waitFor(() => items().length >= sent.length && platform.received.filter((r) => r.path === '/alarm').length >= 4, 15_000, 'the backlog delivered');
    // nothing left queued: nothing can be sent again
    await waitFor(async () => {
      const u = await uplinkNow();
      return u.lanes.alarms.queued === 0 && u.lanes.readings.queued === 0;
    }, 8000, 'the queues empty');
    expect(items().map((i) => Number(i.val))).toEqual(sent);
    expect(items().map((i) => i.ts)).toEqual(sent.map((_, i) => cst(T0 + i * 1000)));
    const alarms = platform.received.filter((r) => r.path === '/alarm').map((r) => (r.plain as { scd: number; avx: string }[])[0]);
    expect(alarms.map((a) => [a.scd, a.avx])).toEqual([
      [3, '25'],
      [0, '4'],
      [3, '30'],
      [0, '7'],
    ]);
  });

  it('goes on past a queued alarm event whose file was removed by hand: the others are delivered, the queue empties', async () => {
    const platform = await startDesPlatform('gone-key');
    cleanups.push(platform.close);
    platform.mode = 'down';
    const uplink = { id: 'prov', kind: 'http-des', url: `${platform.url}/rt`, alarmUrl: `${platform.url}/alarm`, key: 'gone-key', gatewayCode: 'WG', enterprises: [CHEM], send: 'all', readingsEveryS: 3600 };
    const dataDir = await tempDir();
    const app = await startTestApp({ registry: registryWith([uplink]), dataDir, ...FAST });
    cleanups.push(() => app.stop());
    const chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    cleanups.push(() => chem.end());
    for (const [i, v] of [25, 4, 30, 7].entries()) await chem.telemetry({ ts: new Date(T0 + i * 1000).toISOString(), values: { gas_lel: v } });
    const uplinkNow = async () => (await apiClient(app, 'token-operator').get('/api/uplinks')).json.items[0];
    await waitFor(async () => (await uplinkNow()).lanes.alarms.queued === 4, 8000, 'four alarm events queued');
    const lane = join(dataDir, 'forward', 'prov', 'alarms');
    const oldest = (await readdir(lane)).filter((n) => n.endsWith('.batch')).sort()[0];
    const triedBefore = (await uplinkNow()).lanes.alarms.attempts;
    await rm(join(lane, oldest));
    // an attempt under way read the oldest entry before it was removed, and would deliver it
    // once the platform is up: two failed attempts after the removal mean the one now under
    // way, if any, began after it
    await waitFor(async () => (await uplinkNow()).lanes.alarms.attempts >= triedBefore + 2, 8000, 'two attempts after the removal');
    platform.mode = 'up';
    await waitFor(() => platform.received.filter((r) => r.path === '/alarm').length >= 3, 15_000, 'the other three delivered');
    await waitFor(async () => (await uplinkNow()).lanes.alarms.queued === 0, 8000, 'the queue empty');
    const alarms = platform.received.filter((r) => r.path === '/alarm').map((r) => (r.plain as { scd: number; avx: string }[])[0]);
    expect(alarms.map((a) => [a.scd, a.avx])).toEqual([
      [0, '4'],
      [3, '30'],
      [0, '7'],
    ]);
  });

  it('queues after a restart the alarm events that changes committed before the stop still owed the platform, once', async () => {
    const platform = await startDesPlatform('owed-key');
    cleanups.push(platform.close);
    const uplink = { id: 'prov', kind: 'http-des', url: `${platform.url}/rt`, alarmUrl: `${platform.url}/alarm`, key: 'owed-key', gatewayCode: 'WG', enterprises: [CHEM], send: 'all', readingsEveryS: 3600 };
    const registry = registryWith([uplink]);
    const dataDir = await tempDir();
    let app = await startTestApp({ registry, dataDir, ...FAST });
    // the uplink's queue cannot take the alarm (its disk fails between the record's commit and the queue)
    (app.forwarder.get('prov') as unknown as { alarm: () => Promise<void> }).alarm = async () => Promise.reject(new Error('ENOSPC: no space left on device'));
    const chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await chem.telemetry({ values: { gas_lel: 27 } });
    await chem.end();
    await waitFor(async () => (await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CHEM}&state=open`)).json.items.length > 0, 5000, 'the alarm in the record');
    await app.settled();
    await app.stop();
    const alarms = () => platform.received.filter((r) => r.path === '/alarm');
    expect(alarms()).toEqual([]);

    app = await startTestApp({ registry, dataDir, ...FAST });
    await waitFor(() => alarms().length > 0, 10_000, 'the owed alarm event at the platform');
    expect((alarms()[0].plain as { scd: number; avx: string }[])[0]).toMatchObject({ scd: 3, avx: '27' });
    await app.stop();
    // no longer owed: a third start sends nothing again
    app = await startTestApp({ registry, dataDir, ...FAST });
    cleanups.push(() => app.stop());
    await app.settled();
    await waitFor(async () => (await apiClient(app, 'token-operator').get('/api/uplinks')).json.items[0]?.lanes.alarms.queued === 0, 5000, 'nothing queued');
    expect(alarms().length).toBe(1);
  });

  it('never lets a wrong key or a failing platform hold up the local pipeline; what is refused becomes a dead letter', async () => {
    const platform = await startDesPlatform('right-ky');
    cleanups.push(platform.close);
    const hook = await startReceiver();
    cleanups.push(hook.close);
    const uplink = { id: 'wrong-key', kind: 'http-des', url: platform.url, key: 'wrongkey', gatewayCode: 'WG', enterprises: [CHEM], maxRefusals: 3 };
    const app = await startTestApp({ registry: registryWith([uplink], hook.url), ...FAST });
    cleanups.push(app.stop);
    const chem = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    cleanups.push(chem.end);
    await chem.telemetry({ values: { gas_lel: 28 } });
    // the enterprise's webhook hears of the alarm at once, whatever the platform says
    await waitFor(() => hook.requests.some((r) => JSON.stringify(r.body).includes('gas_lel')), 3000, 'local webhook');

    const op = apiClient(app, 'token-operator');
    const dead = await waitFor(async () => (await op.get('/api/uplinks/wrong-key/dead-letters')).json.items[0], 8000, 'dead letter');
    expect(dead).toMatchObject({ lane: 'alarms', enterpriseId: CHEM });
    expect(dead.reason).toMatch(/refused 3 times/);
    expect(platform.received).toHaveLength(0);
    const metrics = (await op.get('/metrics')).text;
    expect(metrics).toMatch(/forward_dead_letters\{uplink="wrong-key"\} 1/);
    expect(metrics).toMatch(/forward_entries_total\{uplink="wrong-key",lane="alarms",outcome="refused"\} 3/);
    // regulators may look, only the centre puts dead letters back; an enterprise may not look
    expect((await apiClient(app, 'token-chem').get('/api/uplinks/wrong-key/dead-letters')).status).toBe(403);
    expect((await apiClient(app, 'token-regulator-a').post('/api/uplinks/wrong-key/dead-letters/requeue')).status).toBe(403);
    expect((await op.post('/api/uplinks/wrong-key/dead-letters/requeue')).json).toEqual({ requeued: 1 });
    expect((await op.get('/api/uplinks/nope/dead-letters')).status).toBe(404);
    // and the device's readings are all stored locally meanwhile
    const stored = await op.get('/api/telemetry?device=gas-1');
    expect(JSON.stringify(stored.json)).toContain('28');
  });
});
