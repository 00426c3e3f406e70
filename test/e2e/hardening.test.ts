import { readFile, rename, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { connect as tcpConnect } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { WebSocket } from 'ws';
import pino from 'pino';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRegistry, RegistryError } from '../../services/registry/load.ts';
import { apiClient, connectDevice, followStream, startTestApp, THREADED } from '../support/app.ts';
import { startReceiver } from '../support/receivers.ts';
import { CAST, CHEM, MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * What an outside probe found against a running service, each tried again from outside (a real
 * MQTT client, real HTTP): one message must not stop the service, a client id must not take over
 * another device's session, a name like "toString" must not silence anyone's alarms, and the
 * registry, the API and the stores must hold their promises under hostile input.
 */
type App = Awaited<ReturnType<typeof startTestApp>>;
const mqttUrl = (app: App) => `mqtt://127.0.0.1:${app.ports.mqtt}`;
const refusal = (p: Promise<MqttClient>) => p.then((c) => (c.end(), null), (e: Error & { code?: number }) => e.code ?? -1);
/** the client's next `event` (mqtt.js clients are not typed as Node emitters) */
const next = (c: MqttClient, event: 'close' | 'connect') => new Promise<void>((resolve) => c.once(event, () => resolve()));
const metric = async (app: App, name: string) => {
  const text = (await apiClient(app).get('/metrics')).text;
  return text.split('\n').filter((l) => l.startsWith(name)).reduce((n, l) => n + Number(l.split(' ').pop()), 0);
};

describe('one device cannot stop, impersonate or silence', () => {
  let app: App;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    hooks = await startReceiver();
    const reg = testRegistry({ webhookUrl: hooks.url });
    // the mall's unit and the fire brigade hear by webhook here
    for (const u of reg.units) if (u.id === 'ent-mall' || u.id === 'fire-b') (u as { webhooks?: object[] }).webhooks = [{ url: `${hooks.url}/${u.id}`, format: 'generic' }];
    (reg as Record<string, unknown>).gateway = { maxConnectionsPerDevice: 2, maxOfflineQueue: 3 };
    (reg.enterprises[0] as Record<string, unknown>).alarmDevice = 'gas-2';
    // casting alarms hold for seconds before they raise: the rules are re-checked as time passes
    app = await startTestApp({ ...THREADED, registry: reg, tickMs: 250 });
  });
  afterAll(async () => {
    await app?.stop();
    await hooks?.close();
  });

  it('answers a timestamp no Date can hold (ts 1e300) with TS_INVALID and keeps running', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    for (const ts of [1e300, -1e300, 8.64e15 + 1, '+275760-09-13T00:00:00.001Z', '9'.repeat(400)]) await dev.telemetry({ ts, values: { gas_lel: 1 } });
    await waitFor(() => dev.rejects.filter((r) => r.error === 'TS_INVALID').length === 5, 5000, 'five TS_INVALID');
    // numbers far outside any sensor's range are no measurement: refused, named by their path
    await dev.telemetry({ values: { gas_lel: 1e300 } });
    await waitFor(() => dev.rejects.find((r) => r.error === 'VALUE_OUT_OF_RANGE' && r.path === 'values.gas_lel'), 5000, 'VALUE_OUT_OF_RANGE');
    // the service is alive and storing
    await dev.telemetry({ seq: 1, values: { gas_lel: 2 } });
    expect((await apiClient(app).get('/api/health')).json.status).toBe('ok');
    const stored = await apiClient(app, 'token-operator').get(`/api/telemetry?device=gas-1&from=${Date.now() - 60_000}`);
    expect(stored.json.points.map((p: { value: number }) => p.value)).toContain(2);
    await dev.end();
  });

  it("keeps each device's session its own, whatever client id another device presents", async () => {
    const url = mqttUrl(app);
    const will = { topic: `v1/${CHEM}/gas-2/status`, payload: Buffer.from('offline'), qos: 1 as const, retain: false };
    // gas-2 is the chemical plant's on-site alarm: its commands wait in its persistent session
    const a = await mqtt.connectAsync(url, { username: 'gas-2', password: 'secret-gas-2', clientId: 'plant-a-link', clean: false, will, reconnectPeriod: 0 });
    await a.subscribeAsync(`v1/${CHEM}/gas-2/command`, { qos: 1 });
    let aClosed = false;
    a.on('close', () => (aClosed = true));
    // another enterprise's device presents the same client id, and gas-2's own id: each gets a
    // session of its own, and gas-2 stays connected (no takeover, no last will, no false offline)
    const intruders = await Promise.all(['plant-a-link', 'gas-2'].map((clientId) => mqtt.connectAsync(url, { username: 'smoke-1', password: 'secret-smoke-1', clientId, clean: false, reconnectPeriod: 0 })));
    const stolen: string[] = [];
    for (const c of intruders) c.on('message', (t) => stolen.push(t));
    expect(a.connected && !aClosed).toBe(true);
    const api = apiClient(app, 'token-operator');
    expect((await api.get(`/api/alerts?enterprise=${CHEM}&state=open`)).json.items.filter((x: { rule: string }) => x.rule === 'device-offline')).toEqual([]);

    // gas-2 goes away; a critical gas alarm queues alarm_on for its session; the intruder reconnects
    // with gas-2's client id and gets nothing; gas-2 comes back and gets its command
    await a.endAsync();
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await gas.telemetry({ values: { gas_lel: 45 } });
    await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.some((x: { metric: string; severity: string }) => x.metric === 'gas_lel' && x.severity === 'critical'), 5000, 'critical gas alert');
    await intruders[0].endAsync();
    const again = await mqtt.connectAsync(url, { username: 'smoke-1', password: 'secret-smoke-1', clientId: 'plant-a-link', clean: false, reconnectPeriod: 0 });
    again.on('message', (t) => stolen.push(t));
    const back = mqtt.connect(url, { username: 'gas-2', password: 'secret-gas-2', clientId: 'plant-a-link', clean: false, reconnectPeriod: 0 });
    const commands: string[] = [];
    back.on('message', (_t, p) => commands.push(JSON.parse(p.toString()).command));
    await waitFor(() => commands.includes('alarm_on'), 5000, 'alarm_on delivered to gas-2');
    expect(stolen).toEqual([]);
    for (const c of [again, back, intruders[1]]) await c.endAsync();
    await gas.end();
  });

  it('lets a device that takes a new client id at every boot back in after its eighth, and lets go of the session it left longest ago', async () => {
    const url = mqttUrl(app);
    const command = `v1/${CHEM}/gas-2/command`;
    type Persistence = { outgoingStream(c: { id: string }): AsyncIterable<unknown>; subscriptionsByClient(c: { id: string }): Promise<unknown[] | null> };
    const persistence = (app.gateway.broker as unknown as { persistence: Persistence }).persistence;
    const held = async (clientId: string) => {
      const id = { id: `device:gas-2/${clientId}` };
      let queued = 0;
      for await (const _ of persistence.outgoingStream(id)) queued++;
      return { queued, subscriptions: (await persistence.subscriptionsByClient(id))?.length ?? 0 };
    };
    // eight boots, each under a client id of its own, each session kept (clean: false) with its subscription
    const boot = async (i: number) => {
      const c = await mqtt.connectAsync(url, { username: 'gas-2', password: 'secret-gas-2', clientId: `boot-${i}`, clean: false, reconnectPeriod: 0 });
      await c.subscribeAsync(command, { qos: 1 });
      await c.endAsync();
    };
    for (let i = 0; i < 8; i++) await boot(i);
    // a command while it is away is kept for each of them
    await app.gateway.publish(command, JSON.stringify({ command: 'alarm_on' }), 1);
    await waitFor(async () => (await held('boot-0')).queued === 1, 5000, 'the command kept for boot-0');
    const before = await metric(app, 'gateway_sessions_replaced_total');
    // the ninth boot gets in (CONNACK 5, session_limit, until this change) ...
    await boot(8);
    expect(await metric(app, 'gateway_sessions_replaced_total')).toBeGreaterThan(before);
    // ... in place of the session left longest ago: its subscription and queue let go, not kept forever
    await waitFor(async () => JSON.stringify(await held('boot-0')) === JSON.stringify({ queued: 0, subscriptions: 0 }), 5000, "boot-0's session let go");
    // the sessions left later keep what they hold: boot-1 comes back to its command
    const back = mqtt.connect(url, { username: 'gas-2', password: 'secret-gas-2', clientId: 'boot-1', clean: false, reconnectPeriod: 0 });
    const got: string[] = [];
    back.on('message', (_t, p) => got.push(JSON.parse(p.toString()).command));
    await waitFor(() => got.includes('alarm_on'), 5000, 'boot-1 gets its kept command');
    await back.endAsync();
  });

  it("does not let wrong secrets from one address lock the device out from another", async () => {
    const login = (username: string, password: string, localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const sock = tcpConnect({ port: app.ports.mqtt, host: '127.0.0.1', localAddress });
        const parser = mqttPacket.parser();
        parser.on('packet', (p) => (sock.destroy(), resolve((p as { returnCode: number }).returnCode)));
        sock.on('data', (d) => parser.parse(d)).on('error', reject).on('close', () => resolve(-1));
        sock.on('connect', () => sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: '', keepalive: 30, username, password: Buffer.from(password) })));
      });
    // five wrong secrets for gas-1 from 127.0.0.5: that address is barred for gas-1 (not everywhere)
    for (let i = 0; i < 5; i++) expect(await login('gas-1', `guess-${i}`, '127.0.0.5')).toBe(4);
    expect(await login('gas-1', 'secret-gas-1', '127.0.0.5')).toBe(5);
    // the genuine device, elsewhere, still gets in
    expect(await login('gas-1', 'secret-gas-1', '127.0.0.6')).toBe(0);
  });

  it('judges a reading stamped ahead of the gateway clock as of now, so correct readings after it still alarm', async () => {
    const dev = await connectDevice(app, CAST, 'caster-1', 'secret-caster-1');
    // within the allowed skew (300 s): accepted
    await dev.telemetry({ ts: Date.now() + 290_000, values: { cooling_water_pressure: 0.3 } });
    await dev.telemetry({ values: { casting_active: true, cooling_water_pressure: 0.01 } });
    const api = apiClient(app, 'token-operator');
    await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CAST}&state=active`)).json.items.some((x: { metric: string }) => x.metric === 'cooling_water_pressure'), 5000, 'low cooling water pressure alarm');
    await dev.end();
  });

  it('refuses a SUBSCRIBE of thousands of filters and caps subscriptions, so no device can stall the alarms of others', async () => {
    // one SUBSCRIBE of 6000 filters inside the device's own topics (≈ 500 KB): the broker's work for
    // it grows with the square of its filters, a minute of every device's alarms held up
    const sock = tcpConnect({ port: app.ports.mqtt, host: '127.0.0.1' });
    let closed = false;
    sock.on('close', () => (closed = true)).on('error', () => {});
    const subscriptions = Array.from({ length: 6000 }, (_, i) => ({ topic: `v1/${MALL}/smoke-1/${i}-${'x'.repeat(60)}/+/#`, qos: 1 as const }));
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: false, clientId: 'subs', keepalive: 30, username: 'smoke-1', password: Buffer.from('secret-smoke-1') }));
    sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions }));
    await waitFor(() => closed, 5000, 'the connection closed');
    // another enterprise's alarm goes through as usual
    const dev = await connectDevice(app, CAST, 'caster-1', 'secret-caster-1');
    await dev.telemetry({ values: { casting_active: true, melt_level: 900 } });
    const api = apiClient(app, 'token-operator');
    await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CAST}&state=active`)).json.items.some((x: { metric: string }) => x.metric === 'melt_level'), 5000, 'melt level alarm');
    await dev.end();
    // subscriptions one by one: a device gets 16
    const c = await mqtt.connectAsync(mqttUrl(app), { username: 'smoke-1', password: 'secret-smoke-1', reconnectPeriod: 0 });
    // mqtt.js reports a SUBACK with refusals as an error that carries the SUBACK
    const suback = await c.subscribeAsync(Array.from({ length: 20 }, (_, i) => `v1/${MALL}/smoke-1/s${i}`), { qos: 0 }).then(
      () => null,
      (e: { packet?: { granted: number[] } }) => e.packet,
    );
    expect(suback?.granted.filter((g) => g !== 128)).toHaveLength(16);
    await c.endAsync();
  });

  it('bounds a WebSocket message as it bounds an MQTT packet (maxPacketBytes)', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${app.ports.ws}`, 'mqtt');
    await new Promise((r, j) => ws.once('open', r).once('error', j));
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.send(Buffer.alloc(3 * 1024 * 1024, 1));
    expect(await closed).toBe(1009);
    expect((await apiClient(app).get('/api/health')).json.status).toBe('ok');
  });

  it('does not let one device take its enterprise\'s whole connection quota', async () => {
    const url = mqttUrl(app);
    const c1 = await mqtt.connectAsync(url, { username: 'gas-2', password: 'secret-gas-2', reconnectPeriod: 0 });
    const c2 = await mqtt.connectAsync(url, { username: 'gas-2', password: 'secret-gas-2', reconnectPeriod: 0 });
    expect(await refusal(mqtt.connectAsync(url, { username: 'gas-2', password: 'secret-gas-2', reconnectPeriod: 0 }))).toBe(5);
    // the enterprise's other devices are still served
    const other = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await other.end();
    await c1.endAsync();
    await c2.endAsync();
  });

  it('ignores quality and value keys that name no point ("toString", "__proto__"), and still tells everyone of a real fire', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    const hostile = '{"values":{"gas_lel":1,"__proto__":{"gas_lel":99},"constructor":5},"quality":{"toString":"fault","__proto__":"fault","hasOwnProperty":"fault","valueOf":"maintenance"}}';
    await Promise.all([dev.telemetry(hostile), smoke.telemetry({ values: { smoke_alarm: true } })]);
    await waitFor(() => dev.rejects.filter((r) => r.error === 'UNKNOWN_METRIC').length >= 6, 5000, 'unknown names refused');
    expect(dev.rejects.map((r) => r.path)).toEqual(expect.arrayContaining(['quality.toString', 'quality.__proto__', 'values.__proto__', 'values.constructor']));
    const api = apiClient(app, 'token-operator');
    const fire = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${MALL}&state=open`)).json.items.find((a: { metric: string }) => a.metric === 'smoke_alarm'), 5000, 'fire alert');
    // the mall's unit and the fire brigade were told
    for (const unit of ['ent-mall', 'fire-b'])
      await waitFor(() => hooks.requests.some((r) => r.url === `/${unit}` && JSON.stringify(r.body).includes(fire.id)), 5000, `${unit} told of the fire`);
    const chem = (await api.get(`/api/alerts?enterprise=${CHEM}`)).json.items;
    expect(chem.filter((a: { metric: string }) => ['toString', '__proto__', 'hasOwnProperty', 'valueOf', 'constructor'].includes(a.metric))).toEqual([]);
    expect(await metric(app, 'internal_faults_total')).toBe(0);
    await dev.end();
    await smoke.end();
  });

  it('routes telemetry it refused whole to no subscriber', async () => {
    const dev = await connectDevice(app, CAST, 'caster-1', 'secret-caster-1');
    const seen: string[] = [];
    dev.client.on('message', (topic, payload) => topic.endsWith('/telemetry') && seen.push(payload.toString()));
    await dev.client.subscribeAsync(`v1/${CAST}/caster-1/telemetry`, { qos: 0 });
    await dev.telemetry('{"values":{"melt_level":"high"}}');
    await dev.telemetry({ values: { melt_level: 0.5 } });
    await waitFor(() => seen.length >= 1, 5000, 'the good reading routed');
    expect(seen).toEqual([JSON.stringify({ values: { melt_level: 0.5 } })]);
    await dev.end();
  });

  it("hands a device's messages to the broker's router only once one of its sessions follows them", async () => {
    // what the router was given, from the broker's own word for each message it routed
    const routed: string[] = [];
    const onPublish = (packet: { topic: string }, client: unknown) => client && packet.topic.includes('/gas-2/') && routed.push(packet.topic);
    app.gateway.broker.on('publish', onPublish);
    try {
      const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
      // its command topic is not its telemetry: nobody follows those readings yet
      await dev.client.subscribeAsync(`v1/${CHEM}/gas-2/command`, { qos: 0 });
      await dev.telemetry({ seq: 1, values: { gas_lel: 1 } });
      expect(routed).toEqual([]);
      // a second session of the device (a site display) follows them: from then on they are routed
      const display = await mqtt.connectAsync(mqttUrl(app), { username: 'gas-2', password: 'secret-gas-2', clientId: 'gas-2-display', reconnectPeriod: 0 });
      const seen: string[] = [];
      display.on('message', (_t, payload) => seen.push(payload.toString()));
      await display.subscribeAsync(`v1/${CHEM}/gas-2/+`, { qos: 0 });
      await dev.telemetry({ seq: 2, values: { gas_lel: 2 } });
      await waitFor(() => seen.length === 1, 5000, 'the reading at the display');
      expect(JSON.parse(seen[0])).toMatchObject({ seq: 2 });
      expect(routed).toEqual([`v1/${CHEM}/gas-2/telemetry`]);
      await Promise.all([dev.end(), display.endAsync()]);
    } finally {
      app.gateway.broker.off('publish', onPublish);
    }
  });

  it('keeps at most maxOfflineQueue messages for a persistent session that stays away', async () => {
    const watcher = await mqtt.connectAsync(mqttUrl(app), { username: 'operator', password: 'token-operator', clientId: 'control-room-tool', clean: false, reconnectPeriod: 0 });
    await watcher.subscribeAsync('alerts/#', { qos: 1 });
    await watcher.endAsync();
    const before = await metric(app, 'gateway_offline_queue_dropped_total');
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    // 6 alert events (raise, clear) while the watcher is away
    for (const v of [60, 1, 60, 1, 60, 1]) await dev.telemetry({ values: { gas_lel: v } });
    // deadlines for a loaded machine (a CI run at load 7 missed 5 s); what is waited for is the same
    await waitFor(async () => (await metric(app, 'gateway_offline_queue_dropped_total')) - before >= 3, 15_000, 'drops counted');
    const back = await mqtt.connect(mqttUrl(app), { username: 'operator', password: 'token-operator', clientId: 'control-room-tool', clean: false, reconnectPeriod: 0 });
    const got: unknown[] = [];
    back.on('message', (_t, p) => got.push(JSON.parse(p.toString())));
    await next(back, 'connect');
    await waitFor(() => got.length === 3, 15_000, 'three queued');
    await back.endAsync();
    await dev.end();
  });
});

describe('the API authorizes the route that runs, and keeps tokens out of logs', () => {
  let app: App;
  const lines: string[] = [];
  beforeAll(async () => {
    const sink = new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) });
    // requests are logged at debug: that is the log whose lines must not carry a token
    app = await startTestApp({ ...THREADED, logger: pino({ level: 'debug' }, sink) });
  });
  afterAll(async () => app?.stop());

  it('refuses percent-encoded API paths without a token, streams included', async () => {
    const anon = apiClient(app);
    for (const path of ['/%61pi/silences', '/%61pi/alerts', '/api/%61lerts', '/%2561pi/silences', '/%61pi/alerts/stream', '/api/alerts/%73tream']) {
      const r = await anon.get(path);
      expect([401, 404], path).toContain(r.status);
      if (r.status === 401) expect(r.json.error).toBe('UNAUTHORIZED');
    }
    expect((await apiClient(app, 'token-operator').get('/%61pi/silences')).status).toBe(200);
  });

  it('never logs a token, in a header or in the query', async () => {
    const res = await fetch(`http://127.0.0.1:${app.ports.http}/api/alerts/stream?token=token-operator`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
    await apiClient(app, 'token-regulator-a').get('/api/alerts?token=token-chem&Access_Token=secret-xyz');
    await waitFor(() => lines.some((l) => l.includes('/api/alerts/stream')), 5000, 'request logged');
    const all = lines.join('\n');
    for (const secret of ['token-operator', 'token-regulator-a', 'token-chem', 'secret-xyz']) expect(all).not.toContain(secret);
  });

  it('answers bad cursors and out-of-range times with 400 naming the field, never 500', async () => {
    const api = apiClient(app, 'token-operator');
    const cursor = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const [q, field] of [
      [`cursor=${cursor([1.5, 'x'])}`, 'cursor'],
      [`cursor=${cursor([1e300, 'x'])}`, 'cursor'],
      [`cursor=${cursor({ 0: 1, 1: 'x' })}`, 'cursor'],
      ['cursor=%%%', 'cursor'],
      ['to=99999999999999999999', 'to'],
      ['from=-5', 'from'],
      [`to=${'9'.repeat(300)}`, 'to'],
    ]) {
      const r = await api.get(`/api/alerts?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.json.field, q).toBe(field);
    }
    for (const path of ['/api/telemetry?to=99999999999999999999', '/api/reports/summary?from=1e400']) expect((await api.get(path)).status, path).toBe(400);
  });
});

describe('failed API logins', () => {
  it('are limited per address: after API_LOGIN_FAILURES wrong tokens a minute the address waits, all but the tokens used from it before', async () => {
    const app = await startTestApp({ ...THREADED, settings: { API_LOGIN_FAILURES: 20 } });
    try {
      // the duty board, behind the same address, has used its token before
      expect((await apiClient(app, 'token-operator').get('/api/alerts')).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 22; i++) statuses.push((await apiClient(app, `guess-${i}-xxxxxxxx`).get('/api/alerts')).status);
      expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(statuses.slice(20)).toEqual([429, 429]);
      const r = await apiClient(app, 'guess-again-xxxx').get('/api/alerts');
      expect(r.json.error).toBe('RATE_LIMITED');
      // the health check and metrics stay open, and so does the duty board: whoever shares its
      // address cannot lock it out by failing logins; a token new to the address waits
      expect((await apiClient(app).get('/api/health')).status).toBe(200);
      expect((await apiClient(app, 'token-operator').get('/api/alerts')).status).toBe(200);
      expect((await apiClient(app, 'token-regulator-a').get('/api/alerts')).status).toBe(429);
    } finally {
      await app.stop();
    }
  });
});

describe('the registry', () => {
  let app: App;
  beforeAll(async () => {
    app = await startTestApp({ ...THREADED, watchRegistry: true });
  });
  afterAll(async () => app?.stop());
  const reloads = async (outcome: string) => metric(app, `registry_reloads_total{outcome="${outcome}"}`);
  const edit = async (change: (r: any) => void, viaRename = false) => {
    const r = parse(await readFile(app.configPath, 'utf8'));
    change(r);
    if (!viaRename) return writeFile(app.configPath, stringify(r));
    // as vim and `sed -i` save: a new file renamed over the old one
    await writeFile(`${app.configPath}.new`, stringify(r));
    await rename(`${app.configPath}.new`, app.configPath);
  };

  it('refuses an empty or comment-only file on reload, and everyone keeps being served', async () => {
    const text = await readFile(app.configPath, 'utf8');
    for (const empty of ['', '# nothing here\n', 'enterprises: []\nusers: []\n']) {
      await writeFile(app.configPath, empty);
      const r = await app.reload();
      expect(r.ok, JSON.stringify(empty)).toBe(false);
    }
    await writeFile(app.configPath, text);
    await app.reload();
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.end();
    expect((await apiClient(app, 'token-operator').get('/api/alerts')).status).toBe(200);
  });

  it('refuses absurd numbers (groupWaitS 1e300, reminderEveryMin 1e-9) naming the field', () => {
    const bad = (change: (r: any) => void) => {
      const r = testRegistry() as any;
      change(r);
      try {
        parseRegistry(stringify(r));
        return null;
      } catch (e) {
        return (e as RegistryError).problems.join('\n');
      }
    };
    expect(bad((r) => (r.routing.groupWaitS = 1e300))).toMatch(/routing\.groupWaitS/);
    expect(bad((r) => (r.routing.reminderEveryMin = 1e-9))).toMatch(/routing\.reminderEveryMin/);
    expect(bad((r) => (r.enterprises[0].devices[0].reportIntervalS = 1e300))).toMatch(/reportIntervalS/);
    expect(bad((r) => (r.gateway = { messagesPerS: 1e300 }))).toMatch(/gateway\.messagesPerS/);
    expect(bad((r) => (r.enterprises[0].devices[0].rules = [{ id: 'gas-lel', above: [{ severity: 'warning', value: 1e300 }] }]))).toMatch(/value/);
  });

  it('hears every save, including editors that save by renaming a new file over the old one', async () => {
    for (let i = 1; i <= 3; i++) {
      const before = await reloads('applied');
      await edit((r) => (r.enterprises[0].name = `测试化工有限公司 ${i}`), true);
      await waitFor(async () => (await reloads('applied')) > before, 5000, `reload after rename-save ${i}`);
    }
    expect(app.registry().enterprises.get(CHEM)?.name).toBe('测试化工有限公司 3');
  });

  it('ends the session of a device whose secret is rotated or that is removed, at reload', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const closed = next(dev.client, 'close');
    await edit((r) => (r.enterprises[0].devices[0].secret = 'rotated-secret-1'));
    expect((await app.reload()).ok).toBe(true);
    await closed;
    expect(await refusal(mqtt.connectAsync(mqttUrl(app), { username: 'gas-1', password: 'secret-gas-1', reconnectPeriod: 0 }))).toBe(4);
    const fresh = await connectDevice(app, CHEM, 'gas-1', 'rotated-secret-1');

    // removed: the live session ends and nothing more it sends is stored
    const gone = next(fresh.client, 'close');
    await edit((r) => (r.enterprises[0].devices = r.enterprises[0].devices.filter((d: { id: string }) => d.id !== 'gas-1')));
    expect((await app.reload()).ok).toBe(true);
    await gone;
    expect(await refusal(mqtt.connectAsync(mqttUrl(app), { username: 'gas-1', password: 'rotated-secret-1', reconnectPeriod: 0 }))).toBe(4);
    await edit((r) => r.enterprises[0].devices.unshift(testRegistry().enterprises[0].devices[0]));
    expect((await app.reload()).ok).toBe(true);
  });

  it('keeps no login secret in the clear once it is checked, and still ends a control-room session whose token is removed', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const watcher = await mqtt.connectAsync(mqttUrl(app), { username: 'control-room', password: 'token-mall', reconnectPeriod: 0 });
    // each connection keeps its CONNECT packet (as its parser's settings) for as long as it lasts
    type Kept = { _parser: { settings: { username?: string; password?: Buffer } } };
    const kept = Object.values((app.gateway.broker as unknown as { clients: Record<string, Kept> }).clients).map((c) => c._parser.settings);
    expect(kept.map((s) => s.username).sort()).toEqual(['control-room', 'gas-1']);
    for (const s of kept) expect(s.password!.length > 0 && s.password!.every((b) => b === 0)).toBe(true);
    // the watcher's session knows its token by digest only, and that is enough to end it
    const closed = next(watcher, 'close');
    await edit((r) => (r.users = r.users.filter((u: { token?: string }) => u.token !== 'token-mall')));
    expect((await app.reload()).ok).toBe(true);
    await closed;
    expect(await refusal(mqtt.connectAsync(mqttUrl(app), { username: 'control-room', password: 'token-mall', reconnectPeriod: 0 }))).toBe(4);
    await edit((r) => r.users.push(testRegistry().users.find((u: { token?: string }) => u.token === 'token-mall')));
    expect((await app.reload()).ok).toBe(true);
    await dev.end();
  });

  it('lets the operator\'s file win over a device id an enterprise registered first, at reload and at the next start', async () => {
    const chem = apiClient(app, 'token-chem');
    const r = await chem.post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-9', points: [{ metric: 'gas_lel' }] });
    expect(r.status).toBe(201);
    // the operator now lists a device gas-9 of their own (another enterprise's)
    await edit((reg) => reg.enterprises[1].devices.push({ id: 'gas-9', secret: 'operator-gas-9', points: [{ metric: 'melt_level' }] }));
    expect((await app.reload()).ok).toBe(true);
    expect(app.registry().devices.get('gas-9')?.enterprise.id).toBe(CAST);
    const dev = await connectDevice(app, CAST, 'gas-9', 'operator-gas-9');
    await dev.end();
    // and the service starts again on the same data
    await app.stop();
    app = await startTestApp({ ...THREADED, dataDir: app.dataDir, registry: parse(await readFile(app.configPath, 'utf8')), watchRegistry: true });
    expect(app.registry().devices.get('gas-9')?.enterprise.id).toBe(CAST);
  });

  it('bounds what an enterprise may register: field sizes and counts', async () => {
    const chem = apiClient(app, 'token-chem');
    const long = await chem.post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-long', points: [{ metric: 'gas_lel', unit: 'x'.repeat(60_000) }] });
    expect(long.status).toBe(400);
    expect(long.json.field).toBe('points[0].unit');
    const many = await chem.post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-many', points: Array.from({ length: 300 }, () => ({ metric: 'gas_lel' })) });
    expect(many.status).toBe(400);
  });

  it('registers devices one at a time: concurrent registrations all land, on disk too, with the secrets they were given', async () => {
    const chem = apiClient(app, 'token-chem');
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => chem.post(`/api/enterprises/${CHEM}/devices`, { id: `c-${i % 20}`, points: [{ metric: 'gas_lel' }] })));
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(20);
    expect(answers.filter((a) => a.status === 409)).toHaveLength(4);
    await app.stop();
    app = await startTestApp({ ...THREADED, dataDir: app.dataDir, registry: parse(await readFile(app.configPath, 'utf8')), watchRegistry: true });
    for (const a of created.slice(0, 3)) {
      const dev = await connectDevice(app, CHEM, a.json.device.id, a.json.secret);
      await dev.end();
    }
    expect([...app.registry().devices.keys()].filter((id) => id.startsWith('c-'))).toHaveLength(20);
  });

  it("keeps a control-room tool logged in when an enterprise registers a device under its username", async () => {
    const url = mqttUrl(app);
    const before = await mqtt.connectAsync(url, { username: 'dashboard', password: 'token-operator', reconnectPeriod: 0 });
    await before.endAsync();
    expect((await apiClient(app, 'token-chem').post(`/api/enterprises/${CHEM}/devices`, { id: 'dashboard', points: [{ metric: 'gas_lel' }] })).status).toBe(201);
    const after = await mqtt.connectAsync(url, { username: 'dashboard', password: 'token-operator', reconnectPeriod: 0 });
    expect((await after.subscribeAsync('alerts/#', { qos: 0 }))[0].qos).toBe(0);
    await after.endAsync();
  });

  it('ends the live stream of a withdrawn token, and narrows an open stream with its regulator\'s regions, at reload', async () => {
    const operator = await followStream(app, 'token-operator');
    const regulator = await followStream(app, 'token-regulator-a');
    const mall = await followStream(app, 'token-mall');
    const original = parse(await readFile(app.configPath, 'utf8'));
    await edit((r) => {
      r.users.find((u: { token?: string }) => u.token === 'token-regulator-a').regions = ['999999'];
      r.users = r.users.filter((u: { token?: string }) => u.token !== 'token-mall');
    });
    expect((await app.reload()).ok).toBe(true);
    await waitFor(() => mall.events.some((e) => e.event === 'ended'), 5000, "the withdrawn token's stream ended");
    expect(mall.events.find((e) => e.event === 'ended')!.data).toMatchObject({ error: 'UNAUTHORIZED' });
    // an alarm in the regions the regulator no longer has: the operator hears it, the regulator does not
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await dev.telemetry({ values: { gas_lel: 45 } });
    await waitFor(() => operator.events.some((e) => e.data?.deviceId === 'gas-2'), 5000, 'the operator told');
    await dev.telemetry({ values: { gas_lel: 1 } });
    await app.settled();
    expect(regulator.events.filter((e) => e.data?.deviceId === 'gas-2')).toEqual([]);
    for (const s of [operator, regulator, mall]) s.close();
    await dev.end();
    await writeFile(app.configPath, stringify(original));
    expect((await app.reload()).ok).toBe(true);
  });

  it('names registered-devices.json when it is corrupt, instead of failing without a word', async () => {
    await app.stop();
    await writeFile(`${app.dataDir}/registered-devices.json`, '{"half": ');
    await expect(startTestApp({ ...THREADED, dataDir: app.dataDir, registry: parse(await readFile(app.configPath, 'utf8')) })).rejects.toThrow(/registered-devices\.json is not valid JSON/);
    await writeFile(`${app.dataDir}/registered-devices.json`, '[]');
    app = await startTestApp({ ...THREADED, dataDir: app.dataDir, registry: parse(await readFile(app.configPath, 'utf8')) });
  });
});
