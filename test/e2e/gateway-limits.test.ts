import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect as tcpConnect } from 'node:net';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pino from 'pino';
import mqtt from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { parse, stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { apiClient, connectDevice, holdRecordCommits, startTestApp, tempDir } from '../support/app.ts';
import { freePort } from '../support/receivers.ts';
import { hashSecret } from '../../gateway/credentials.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** What keeps out whoever does not belong, and keeps one device from hurting the others. */
const withGateway = (gateway: object) => ({ ...testRegistry(), gateway });
const login = (port: number, username: string, password: string, connectTimeout = 3000) =>
  mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { username, password, reconnectPeriod: 0, connectTimeout }).then(
    (c) => (c.end(), 0),
    (e: Error & { code?: number }) => e.code ?? -1,
  );
/** A device speaking raw MQTT over TCP (a test writes its packets as it likes), once it has its CONNACK; `onPacket` hears the rest. */
async function rawDevice(port: number, deviceId: string, clientId: string, o: { will?: mqttPacket.IConnectPacket['will']; onPacket?: (p: mqttPacket.Packet) => void } = {}) {
  const sock = tcpConnect(port, '127.0.0.1');
  const parser = mqttPacket.parser();
  let connack = false;
  parser.on('packet', (p) => (p.cmd === 'connack' ? (connack = true) : o.onPacket?.(p)));
  sock.on('data', (d) => parser.parse(d)).on('error', () => {});
  await once(sock, 'connect');
  sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 30, username: deviceId, password: Buffer.from(`secret-${deviceId}`), ...(o.will ? { will: o.will } : {}) }));
  await waitFor(() => connack, 5000, 'CONNACK');
  return sock;
}
/** The test registry with `n` more gas detectors whose secret is stored as one scrypt hash (as `npm run secret` makes). */
async function withHashedFleet(n: number, gateway: object = {}) {
  const reg = withGateway(gateway) as ReturnType<typeof testRegistry> & { gateway: object };
  const secretHash = await hashSecret('hashed-secret');
  const chem = reg.enterprises.find((e) => e.id === CHEM)!;
  for (let i = 0; i < n; i++) chem.devices.push({ id: `hashed-${i}`, secretHash, templates: ['hazchem'], points: [{ metric: 'gas_lel' }] } as never);
  return reg;
}
/** logins whose secret is being checked or waits its turn; read in-process: /metrics also asks the stores, which is what a full pool holds back */
const checking = async (app: Awaited<ReturnType<typeof startTestApp>>) => (await app.metrics.registry.getSingleMetric('gateway_logins_hashing')!.get()).values.reduce((n, v) => n + v.value, 0);
const metric = async (app: { ports: { http: number } }, name: string) => (await apiClient(app as never).get('/metrics')).text.split('\n').filter((l) => l.startsWith(name));

describe('gateway limits', () => {
  it('bans a device id after repeated wrong secrets, and an address after repeated failures', async () => {
    const app = await startTestApp({ registry: withGateway({ maxLoginFailuresPerDevice: 3, maxLoginFailuresPerAddress: 6, loginBanS: 60 }) });
    for (let i = 0; i < 3; i++) expect(await login(app.ports.mqtt, 'gas-1', 'guess-' + i)).toBe(4);
    // banned now: even the right secret is refused, as "not authorized"
    expect(await login(app.ports.mqtt, 'gas-1', 'secret-gas-1')).toBe(5);
    expect(await login(app.ports.mqtt, 'gas-2', 'secret-gas-2')).toBe(0);
    for (let i = 0; i < 3; i++) await login(app.ports.mqtt, 'caster-1', 'guess-' + i);
    // six failures from this address: the address is banned for names not seen here before, even
    // with the right secret (nothing is hashed for them)...
    expect(await login(app.ports.mqtt, 'smoke-1', 'secret-smoke-1')).toBe(5);
    expect((await metric(app, 'gateway_connections_refused_total')).join()).toContain('address_banned');
    // ...while a device that logged in from here before keeps working: whoever shares its NAT
    // cannot keep it offline by failing logins
    expect(await login(app.ports.mqtt, 'gas-2', 'secret-gas-2')).toBe(0);
    await app.stop();
  });

  it('checks hashed secrets a few at a time: a fleet logging in does not hold back an acknowledged alarm', async () => {
    // scrypt runs on the thread pool every store write runs on: 40 checks at once held the alarm's
    // record behind nearly all of them
    const app = await startTestApp({ registry: await withHashedFleet(40) });
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    let loggedIn = 0;
    const fleet = Array.from({ length: 40 }, (_, i) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: `hashed-${i}`, password: 'hashed-secret', reconnectPeriod: 0 }).then((c) => (loggedIn++, c)),
    );
    await waitFor(async () => (await checking(app)) >= 20, 10_000, 'the logins being checked');
    // QoS 1: the PUBACK waits for the reading and its alarm to be committed
    await gas.telemetry({ ts: Date.now(), seq: 1, values: { gas_lel: 60 } });
    const whenAcknowledged = loggedIn;
    const open = await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CHEM}&state=active`);
    expect(open.json.items.filter((a: { deviceId: string }) => a.deviceId === 'gas-1').map((a: { rule: string }) => a.rule)).toContain('gas-lel');
    // most of the fleet still waited for its check (without the lane: all 40)
    expect(whenAcknowledged).toBeLessThan(20);
    // and every one of them gets in, none banned for having waited
    const clients = await Promise.all(fleet);
    expect(loggedIn).toBe(40);
    await Promise.all(clients.map((c) => c.endAsync()));
    await gas.end();
    await app.stop();
  });

  it('answers "server unavailable" past the logins allowed to wait, counts it, bans nobody for it, and lets the device in when it tries again', async () => {
    const app = await startTestApp({ registry: await withHashedFleet(12, { maxLoginsWaiting: 4, maxLoginFailuresPerDevice: 1, maxLoginFailuresPerAddress: 1 }) });
    const codes = await Promise.all(Array.from({ length: 12 }, (_, i) => login(app.ports.mqtt, `hashed-${i}`, 'hashed-secret', 60_000)));
    expect(codes.filter((c) => c === 3).length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 0 || c === 3)).toBe(true);
    expect((await metric(app, 'gateway_connections_refused_total')).join()).toContain('logins_waiting');
    // one failure would ban the device or the address: waiting was not a failure
    for (let i = 0; i < 12; i++) if (codes[i] === 3) expect(await login(app.ports.mqtt, `hashed-${i}`, 'hashed-secret')).toBe(0);
    await app.stop();
  });

  it('refuses a login whose secret the registry rotated while it waited to be checked', async () => {
    const app = await startTestApp({ registry: await withHashedFleet(41) });
    const rotated = await hashSecret('rotated-secret');
    // a login waits its turn behind dozens of scrypts: on a busy machine, longer than 3 s
    const slowLogin = (user: string, secret: string) => login(app.ports.mqtt, user, secret, 60_000);
    const ahead = Array.from({ length: 40 }, (_, i) => slowLogin(`hashed-${i}`, 'hashed-secret'));
    await waitFor(async () => (await checking(app)) >= 30, 10_000, 'the lane full');
    // the last device's login is taken (its entry looked up, its check queued behind the others)...
    let asked = false;
    const authenticate = app.gateway.broker.authenticate;
    app.gateway.broker.authenticate = (c, u, p, cb) => (authenticate(c, u, p, cb), u === 'hashed-40' && (asked = true));
    const late = slowLogin('hashed-40', 'hashed-secret');
    await waitFor(() => asked, 10_000, 'the late login taken');
    // ...and its secret rotated before its turn comes
    const reg = parse(await readFile(app.configPath, 'utf8'));
    reg.enterprises.find((e: { id: string }) => e.id === CHEM).devices.find((d: { id: string }) => d.id === 'hashed-40').secretHash = rotated;
    await writeFile(app.configPath, stringify(reg));
    await app.reload();
    expect(await checking(app)).toBeGreaterThan(0);
    expect(await late).toBe(5);
    expect((await Promise.all(ahead)).every((c) => c === 0)).toBe(true);
    expect(await login(app.ports.mqtt, 'hashed-40', 'rotated-secret')).toBe(0);
    await app.stop();
  });

  it('says what a banned address keeps trying once a minute with a count (counted each time), and cuts a name no device could have', async () => {
    const lines: string[] = [];
    const app = await startTestApp({ registry: withGateway({ maxLoginFailuresPerAddress: 3 }), logger: pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) })) });
    const long = 'x'.repeat(60_000);
    expect(await login(app.ports.mqtt, long, 'whatever')).toBe(4);
    // two more failures: the address is banned
    for (let i = 0; i < 2; i++) expect(await login(app.ports.mqtt, `nobody-${i}`, 'whatever')).toBe(4);
    const codes = await Promise.all(Array.from({ length: 20 }, (_, i) => login(app.ports.mqtt, `stranger-${i}`, 'whatever')));
    expect(codes).toEqual(Array(20).fill(5));
    expect((await metric(app, 'gateway_auth_failures_total{reason="address_banned"}')).join()).toMatch(/ 20$/);
    // one line (and one audit entry, written with it) for the twenty
    expect(lines.filter((l) => l.includes('mqtt login refused') && l.includes('address_banned'))).toHaveLength(1);
    // the 60 000-character name was kept as its first 128 characters, in the log as in the ban keys
    expect(lines.some((l) => l.includes('username_too_long') && l.includes(`"${'x'.repeat(128)}…"`))).toBe(true);
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThan(2000);
    await app.stop();
  });

  it('checks no secret for a login whose address was banned while it waited its turn', async () => {
    const app = await startTestApp({ registry: await withHashedFleet(30, { maxLoginFailuresPerAddress: 3 }) });
    const codes = await Promise.all(Array.from({ length: 30 }, (_, i) => login(app.ports.mqtt, `hashed-${i}`, 'wrong-secret', 60_000)));
    // the first wrong secrets banned the address; the logins behind them were answered without a check
    expect(codes.filter((c) => c === 4).length).toBeLessThan(10);
    expect(codes.filter((c) => c === 5).length).toBeGreaterThan(20);
    const checked = Number(/ (\d+)$/.exec((await metric(app, 'gateway_auth_failures_total{reason="device_secret"}')).join())?.[1]);
    expect(checked).toBeLessThan(10);
    await app.stop();
  });

  it("keeps trusting a device at the address it logged in from across a restart: a banned NAT still lets it in", async () => {
    const registry = withGateway({ maxLoginFailuresPerAddress: 3 });
    const first = await startTestApp({ registry });
    expect(await login(first.ports.mqtt, 'gas-2', 'secret-gas-2')).toBe(0);
    await first.stop();
    const app = await startTestApp({ registry, dataDir: first.dataDir });
    for (let i = 0; i < 3; i++) expect(await login(app.ports.mqtt, `nobody-${i}`, 'whatever')).toBe(4);
    // the address is banned for names not seen there; gas-2 was, before the restart
    expect(await login(app.ports.mqtt, 'smoke-1', 'secret-smoke-1')).toBe(5);
    expect(await login(app.ports.mqtt, 'gas-2', 'secret-gas-2')).toBe(0);
    await app.stop();
  });

  it('lets a device that logged in from here before go ahead of logins never seen here, and never refuses it for the queue', async () => {
    const registry = await withHashedFleet(30, { maxLoginsWaiting: 5 });
    const first = await startTestApp({ registry });
    expect(await login(first.ports.mqtt, 'hashed-29', 'hashed-secret')).toBe(0);
    await first.stop();
    // after a restart nothing is known yet: every login here costs a scrypt
    const app = await startTestApp({ registry, dataDir: first.dataDir });
    let strangersIn = 0;
    const strangers = Array.from({ length: 20 }, (_, i) => login(app.ports.mqtt, `hashed-${i}`, 'hashed-secret', 60_000).then((c) => (c === 0 && strangersIn++, c)));
    await waitFor(async () => (await checking(app)) >= 5, 10_000, 'the queue full');
    expect(await login(app.ports.mqtt, 'hashed-29', 'hashed-secret', 60_000)).toBe(0);
    // ahead of those that waited: at most the checks already running when it came were done first
    expect(strangersIn).toBeLessThan(5);
    const codes = await Promise.all(strangers);
    expect(codes.every((c) => c === 0 || c === 3)).toBe(true);
    await app.stop();
  });

  it('closes a connection that announces an oversized packet, before reading it, and keeps serving others', async () => {
    const app = await startTestApp();
    const good = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    const sock = tcpConnect(app.ports.mqtt, '127.0.0.1');
    let closed = false;
    let connack = false;
    sock.on('close', () => (closed = true)).on('error', () => {}).on('data', () => (connack = true));
    await once(sock, 'connect');
    sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'x', keepalive: 30, username: 'gas-1', password: Buffer.from('secret-gas-1') }));
    await waitFor(() => connack, 5000, 'CONNACK');
    // a PUBLISH announcing 100 MB, followed by a trickle of its body
    sock.write(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x30]));
    sock.write(Buffer.alloc(4096, 1));
    await waitFor(() => closed, 5000, 'connection closed');
    expect((await metric(app, 'gateway_connections_refused_total')).join()).toContain('packet_too_large');
    await good.telemetry({ seq: 1, values: { gas_lel: 3 } });
    expect(good.rejects).toEqual([]);
    await good.end();
    await app.stop();
  });

  it('takes 300 QoS 1 readings written in one go a few at a time: each acknowledged, each stored once', async () => {
    const app = await startTestApp({ registry: withGateway({ messagesPerS: 10_000, messageBurst: 1000 }) });
    const acked = new Set<number>();
    const sock = await rawDevice(app.ports.mqtt, 'gas-1', 'burst', { onPacket: (p) => p.cmd === 'puback' && acked.add(p.messageId!) });
    // one write: the broker gets them a few packets per read (gateway/frame-guard.ts)
    const topic = `v1/${CHEM}/gas-1/telemetry`;
    sock.write(Buffer.concat(Array.from({ length: 300 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify({ seq: i + 1, values: { gas_lel: 1 } })), qos: 1, messageId: i + 1, retain: false, dup: false }))));
    await waitFor(() => acked.size === 300, 20_000, 'every PUBACK');
    sock.end(mqttPacket.generate({ cmd: 'disconnect' }));
    await app.telemetry.flush();
    const points = await app.telemetry.query({ deviceId: 'gas-1', from: 0, to: Date.now() + 1000, limit: 1000 });
    expect(points.map((p) => ('seq' in p ? p.seq! : 0)).sort((a, b) => a - b)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    await app.stop();
  });

  it('holds a bounded number of unanswered readings whatever the number of devices, serves a newcomer meanwhile, and loses none', async () => {
    const devices = Array.from({ length: 10 }, (_, i) => `crowd-${i}`);
    const reg = withGateway({ messagesPerS: 10_000, messageBurst: 1000 }) as ReturnType<typeof testRegistry> & { gateway: object };
    const chem = reg.enterprises.find((e) => e.id === CHEM)!;
    // every reading raises or clears (never held as flapping): each batch has a change for the record
    for (const id of devices) chem.devices.push({ id, secret: `secret-${id}`, templates: ['hazchem'], points: [{ metric: 'gas_lel' }], flapping: { changes: 1000, windowS: 1 } } as never);
    const crowdedAt = 20;
    const app = await startTestApp({ registry: reg, gateway: { crowdedAt } });
    // the record's commits are held: no PUBACK of these readings can go out, so what the gateway
    // took stays taken, and only the frame guard stops it taking more
    const release = holdRecordCommits(app);
    const acked = new Map(devices.map((d) => [d, new Set<number>()]));
    const topic = (id: string) => `v1/${CHEM}/${id}/telemetry`;
    const socks = await Promise.all(devices.map((id) => rawDevice(app.ports.mqtt, id, `crowd-${id}`, { onPacket: (p) => p.cmd === 'puback' && acked.get(id)!.add(p.messageId!) })));
    // forty pipelined readings each: 400 against a bound of 20 (sixteen a connection would take 160)
    socks.forEach((s, d) => s.write(Buffer.concat(Array.from({ length: 40 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: topic(devices[d]), payload: Buffer.from(JSON.stringify({ seq: i + 1, values: { gas_lel: i % 2 ? 1 : 45 } })), qos: 1, messageId: i + 1, retain: false, dup: false })))));
    const taken = async () => Number((await metric(app, 'gateway_messages_in_total'))[0]?.split(' ')[1] ?? 0);
    await waitFor(async () => (await taken()) >= crowdedAt, 10_000, 'the gateway crowded');
    // a device arriving now is read and answered: one reading of no alarm, committed at once
    const late = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await late.telemetry({ seq: 1, values: { gas_lel: 1 } });
    // at most the bound, one reading of each connection past it, and the reads that crossed it
    expect(await taken()).toBeLessThanOrEqual(crowdedAt + 16 + devices.length + 1);
    expect([...acked.values()].every((s) => s.size === 0)).toBe(true);
    // what the operators see of it
    const unanswered = async () => Number((await metric(app, 'gateway_publishes_unanswered '))[0]?.split(' ')[1]);
    expect(await unanswered()).toBeGreaterThanOrEqual(crowdedAt);
    release();
    await waitFor(() => [...acked.values()].every((s) => s.size === 40), 30_000, 'every PUBACK');
    await waitFor(async () => (await unanswered()) === 0, 5000, 'nothing unanswered');
    await app.telemetry.flush();
    for (const id of devices) {
      const points = await app.telemetry.query({ deviceId: id, from: 0, to: Date.now() + 1000, limit: 100 });
      expect(points.map((p) => ('seq' in p ? p.seq! : 0)).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    }
    for (const s of socks) s.end(mqttPacket.generate({ cmd: 'disconnect' }));
    await late.end();
    await app.stop();
  });

  it('lets go of a connection that stops reading what it subscribed to: every other message is still answered', async () => {
    const app = await startTestApp({ registry: withGateway({ messagesPerS: 10_000, messageBurst: 1000 }), gateway: { maxUnsentBytes: 1024 * 1024 } });
    // gas-1 follows its own telemetry on one link, then reads nothing more
    let subscribed = false;
    const reader = await rawDevice(app.ports.mqtt, 'gas-1', 'gas-1-reader', { onPacket: (p) => p.cmd === 'suback' && (subscribed = true) });
    reader.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `v1/${CHEM}/gas-1/#`, qos: 1 }] }));
    await waitFor(() => subscribed, 5000, 'SUBACK');
    reader.pause();
    const closed = once(reader, 'close');
    // and sends large readings on another: 150 of 40 KB, more than the broker's router delivers
    // at once (100), each waiting for the reader's drain before output was bounded
    const writer = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'gas-1', password: 'secret-gas-1', clientId: 'gas-1-writer', reconnectPeriod: 0 });
    const pad = 'x'.repeat(40_000);
    await Promise.all(Array.from({ length: 150 }, (_, i) => writer.publishAsync(`v1/${CHEM}/gas-1/telemetry`, JSON.stringify({ seq: i + 1, values: { gas_lel: 1, pad } }), { qos: 1 })));
    // another device is answered as ever
    const other = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    for (let seq = 1; seq <= 20; seq++) await other.telemetry({ seq, values: { gas_lel: 1 } });
    expect(await metric(app, 'gateway_connections_refused_total{reason="slow_reader"}')).toEqual(['gateway_connections_refused_total{reason="slow_reader"} 1']);
    // the gateway closed the reader's link (seen once the reader reads again)
    reader.resume();
    await closed;
    await Promise.all([writer.endAsync(), other.end()]);
    await app.stop();
  });

  it('counts the answers a device left too early to hear, and logs no line for each', async () => {
    const lines: string[] = [];
    const app = await startTestApp({ registry: withGateway({ messagesPerS: 10_000, messageBurst: 1000 }), logger: pino({ level: 'warn' }, new Writable({ write: (chunk, _enc, cb) => (lines.push(chunk.toString()), cb()) })) });
    // the readings raise an alarm, and a PUBACK waits for its record: that commit is held until
    // the device has gone, so their PUBACKs have nowhere to go
    const release = holdRecordCommits(app);
    const sock = await rawDevice(app.ports.mqtt, 'gas-1', 'leaves-early');
    const topic = `v1/${CHEM}/gas-1/telemetry`;
    sock.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify({ seq: i + 1, values: { gas_lel: 45 } })), qos: 1, messageId: i + 1, retain: false, dup: false }))));
    await waitFor(async () => (await metric(app, 'gateway_messages_in_total')).join() === 'gateway_messages_in_total 10', 5000, 'the readings taken');
    sock.destroy();
    await waitFor(async () => (await metric(app, 'devices_online')).join() === 'devices_online 0', 5000, 'the device gone');
    release();
    await waitFor(async () => (await metric(app, 'gateway_answers_unsent_total')).some((l) => Number(l.split(' ')[1]) > 0), 5000, 'unsent answers counted');
    // stored all the same: the device sends them again and they are known by seq
    await app.telemetry.flush();
    const points = await app.telemetry.query({ deviceId: 'gas-1', from: 0, to: Date.now() + 1000, limit: 100 });
    expect(points.map((p) => ('seq' in p ? p.seq! : 0)).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    expect(lines.filter((l) => l.includes('connection closed'))).toEqual([]);
    await app.stop();
  });

  it("keeps the offline alarm of a link that ends behind a burst: its will (or its own 'offline') goes after the readings it sent first", async () => {
    const app = await startTestApp({ registry: withGateway({ messagesPerS: 10_000, messageBurst: 1000 }) });
    const op = apiClient(app, 'token-operator');
    const offline = async (deviceId: string) => ((await op.get(`/api/alerts?state=all&limit=100`)).json.items as { deviceId: string; rule: string; state: string }[]).find((a) => a.deviceId === deviceId && a.rule === 'device-offline');
    const burst = async (deviceId: string, tail: Buffer[]) => {
      const sock = await rawDevice(app.ports.mqtt, deviceId, `${deviceId}-burst`, { will: { topic: `v1/${CHEM}/${deviceId}/status`, payload: Buffer.from('offline'), qos: 1, retain: false } });
      const topic = `v1/${CHEM}/${deviceId}/telemetry`;
      // twenty readings, more than one read takes, then the end of the link in the same write
      const readings = Array.from({ length: 20 }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from(JSON.stringify({ seq: i + 1, values: { gas_lel: 1 } })), qos: 1, messageId: i + 1, retain: false, dup: false }));
      sock.end(Buffer.concat([...readings, ...tail.map((t) => t)]));
      await once(sock, 'close');
      await waitFor(async () => (await offline(deviceId))?.state === 'active', 10_000, `${deviceId} offline`);
      await app.telemetry.flush();
      // every reading was judged (all stored), and none of them cleared the alarm raised after them
      await waitFor(async () => (await app.telemetry.query({ deviceId, from: 0, to: Date.now() + 1000, limit: 100 })).length === 20, 10_000, 'the readings stored');
      await app.book.settled();
      expect((await offline(deviceId))?.state).toBe('active');
    };
    // the link simply ends: its will says offline
    await burst('gas-1', []);
    // the device says offline itself, behind its readings
    await burst('gas-2', [mqttPacket.generate({ cmd: 'publish', topic: `v1/${CHEM}/gas-2/status`, payload: Buffer.from('offline'), qos: 1, messageId: 99, retain: false, dup: false })]);
    await app.stop();
  });

  it('drops QoS 0 beyond the device rate with RATE_LIMITED, and slows QoS 1 without losing any', async () => {
    const app = await startTestApp({ registry: withGateway({ messagesPerS: 20, messageBurst: 10 }) });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    for (let i = 1; i <= 60; i++) dev.client.publish(`v1/${CHEM}/gas-1/telemetry`, JSON.stringify({ seq: i, values: { gas_lel: 1 } }), { qos: 0 });
    await waitFor(() => dev.rejects.find((r) => r.error === 'RATE_LIMITED'), 5000, 'RATE_LIMITED');
    const started = Date.now();
    await Promise.all(Array.from({ length: 40 }, (_, i) => dev.telemetry({ seq: 1000 + i, values: { gas_lel: 2 } }, 1)));
    // 40 at 20/s after the burst is spent: the PUBACKs were paced
    expect(Date.now() - started).toBeGreaterThan(1000);
    await app.telemetry.flush();
    const points = await app.telemetry.query({ deviceId: 'gas-1', from: 0, to: Date.now() + 1000, limit: 1000 });
    const seqs = points.map((p) => ('seq' in p ? p.seq! : 0));
    expect(seqs.filter((s) => s >= 1000)).toHaveLength(40);
    expect(seqs.filter((s) => s < 1000).length).toBeLessThan(60);
    await dev.end();
    await app.stop();
  });

  it('limits connections per enterprise and caps keepalive so silent links are closed', async () => {
    const app = await startTestApp({ registry: withGateway({ maxConnectionsPerEnterprise: 1, maxKeepaliveS: 1 }) });
    const first = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'gas-1', password: 'secret-gas-1', reconnectPeriod: 0, keepalive: 0 });
    expect(await login(app.ports.mqtt, 'gas-2', 'secret-gas-2')).toBe(5);
    // it asked for no keepalive and sends nothing: closed after 1.5 × the 1 s cap
    await waitFor(() => !first.connected, 5000, 'silent link closed');
    expect(await login(app.ports.mqtt, 'gas-2', 'secret-gas-2')).toBe(0);
    await app.stop();
  });

  it('takes a device back under its own client id at its enterprise\'s limit (its old link not yet timed out)', async () => {
    const app = await startTestApp({ registry: withGateway({ maxConnectionsPerEnterprise: 1 }) });
    const old = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'gas-1', password: 'secret-gas-1', clientId: 'gas-1-link', reconnectPeriod: 0 });
    let oldClosed = false;
    old.on('close', () => (oldClosed = true));
    // the link is still open (a network blip leaves it so until its keepalive runs out): the
    // device's reconnect under the same client id replaces it, it is not one connection more
    const back = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'gas-1', password: 'secret-gas-1', clientId: 'gas-1-link', reconnectPeriod: 0 });
    await waitFor(() => oldClosed, 5000, 'the old link taken over');
    expect(back.connected).toBe(true);
    // and the limit still holds for one more
    expect(await login(app.ports.mqtt, 'gas-2', 'secret-gas-2')).toBe(5);
    await back.endAsync();
    await app.stop();
  });

  it('closes a client that never completes its CONNECT (slow client)', async () => {
    const app = await startTestApp({ registry: withGateway({ connectTimeoutS: 1 }) });
    const sock = tcpConnect(app.ports.mqtt, '127.0.0.1');
    let closed = false;
    sock.on('close', () => (closed = true)).on('error', () => {}).resume();
    await once(sock, 'connect');
    const header = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'slow', keepalive: 30 });
    // a byte at a time, never the last one
    let i = 0;
    const drip = setInterval(() => i < header.length - 1 && sock.write(header.subarray(i, ++i)), 100);
    // closed by the gateway: this side never hangs up
    await waitFor(() => closed, 15_000, 'slow client closed');
    clearInterval(drip);
    await app.stop();
  });

  it('takes MQTT over TLS with a certificate made here', async () => {
    const dir = await tempDir('rm-tls-');
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
    const port = await freePort();
    const app = await startTestApp({ settings: { MQTTS_PORT: port, TLS_CERT: cert, TLS_KEY: key } });
    const { readFile } = await import('node:fs/promises');
    const tls = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { username: 'gas-1', password: 'secret-gas-1', ca: await readFile(cert), rejectUnauthorized: true, reconnectPeriod: 0 });
    await tls.publishAsync(`v1/${CHEM}/gas-1/telemetry`, JSON.stringify({ seq: 1, values: { gas_lel: 7 } }), { qos: 1 });
    const r = await apiClient(app, 'token-operator').get('/api/telemetry?device=gas-1');
    expect(r.json.points.map((p: any) => p.value)).toEqual([7]);
    // a client that does not trust the certificate is refused by TLS itself
    const untrusting = await mqtt.connectAsync(`mqtts://127.0.0.1:${port}`, { username: 'gas-1', password: 'secret-gas-1', rejectUnauthorized: true, reconnectPeriod: 0, connectTimeout: 2000 }).then(
      () => 'connected',
      (e: Error) => e.message,
    );
    expect(untrusting).toMatch(/self[- ]signed|certificate/i);
    await tls.endAsync();
    await app.stop();
  });
});
