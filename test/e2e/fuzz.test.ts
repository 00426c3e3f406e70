import fc from 'fast-check';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp, THREADED, type DeviceClient } from '../support/app.ts';
import { CHEM } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Hostile and broken input on both ports while a well-behaved device publishes throughout: no
 * crash, no unbounded memory, and every reading of the good device stored.
 */
describe('fuzzing the MQTT port and the API', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let good: DeviceClient;
  let goodSeq = 0;
  let pump: NodeJS.Timeout;
  const acked = new Set<number>();
  const rssBefore = process.memoryUsage().rss;

  beforeAll(async () => {
    app = await startTestApp(THREADED);
    good = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    pump = setInterval(() => {
      const seq = ++goodSeq;
      good.client.publish(`v1/${CHEM}/gas-2/telemetry`, JSON.stringify({ seq, values: { gas_lel: 1 } }), { qos: 1 }, (err) => !err && acked.add(seq));
    }, 20);
  });
  afterAll(async () => {
    clearInterval(pump);
    await good?.end();
    await app?.stop();
  });

  const send = async (bytes: Uint8Array, prefix?: Buffer) => {
    const sock = tcpConnect(app.ports.mqtt, '127.0.0.1');
    sock.on('error', () => {});
    await once(sock, 'connect');
    if (prefix) sock.write(prefix);
    // written out, then hung up
    await new Promise<void>((r) => sock.end(bytes, () => r()));
    sock.destroy();
  };

  it('survives random bytes, truncated and oversized packets on the MQTT port', async () => {
    const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'fuzz', keepalive: 30, username: 'gas-1', password: Buffer.from('secret-gas-1') });
    const publish = mqttPacket.generate({ cmd: 'publish', topic: `v1/${CHEM}/gas-1/telemetry`, payload: Buffer.from('{"values":{"gas_lel":1}}'), qos: 1, messageId: 7, dup: false, retain: false });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 3000 }),
          fc.integer({ min: 1, max: connect.length - 1 }).map((n) => connect.subarray(0, n)),
          fc.integer({ min: 1, max: publish.length - 1 }).map((n) => Buffer.concat([connect, publish.subarray(0, n)])),
          fc.uint8Array({ minLength: 1, maxLength: 500 }).map((b) => Buffer.concat([connect, Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), b])),
          fc.uint8Array({ minLength: 1, maxLength: 500 }).map((b) => Buffer.concat([connect, b])),
        ),
        async (bytes) => send(bytes),
      ),
      { numRuns: 300 },
    );
    expect((await apiClient(app).get('/api/health')).json.status).toBe('ok');
  }, 60_000);

  it('answers hostile payloads from an authenticated device without harm', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything().map((v) => JSON.stringify(v) ?? 'undefined'),
          fc.record({ ts: fc.anything(), seq: fc.anything(), values: fc.dictionary(fc.string(), fc.anything()), quality: fc.anything() }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
          fc.array(fc.record({ seq: fc.nat(), values: fc.dictionary(fc.constantFrom('gas_lel', 'toxic_gas_ppm', '__proto__', 'constructor', 'x'), fc.oneof(fc.double(), fc.boolean(), fc.string())) }), { maxLength: 50 }).map((v) => JSON.stringify(v)),
          fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
          fc.string({ maxLength: 5000 }),
        ),
        async (payload) => {
          sent++;
          await dev.client.publishAsync(`v1/${CHEM}/gas-1/telemetry`, payload as string | Buffer, { qos: 0 });
        },
      ),
      { numRuns: 400 },
    );
    await waitFor(() => dev.rejects.length > sent / 4, 10_000, 'rejects answered');
    expect(dev.client.connected).toBe(true);
    await dev.end();
  }, 60_000);

  it('never answers 5xx to random API requests', async () => {
    const api = apiClient(app, 'token-operator');
    const paths = ['/api/alerts', '/api/alerts/x', '/api/telemetry', '/api/enterprises', `/api/enterprises/${CHEM}/devices`, '/api/silences', '/api/reports/summary', '/api/alerts/export.csv'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.dictionary(fc.constantFrom('state', 'limit', 'from', 'to', 'every', 'device', 'enterprise', 'severity', 'cursor', 'region', 'metric', 'x'), fc.string({ maxLength: 30 })),
        fc.oneof(fc.constant(undefined), fc.anything().map((v) => JSON.stringify(v) ?? '{}'), fc.string({ maxLength: 300 })),
        async (path, query, body) => {
          const qs = new URLSearchParams(query).toString();
          const r = body === undefined ? await api.get(`${path}?${qs}`) : await api.post(`${path}?${qs}`, body);
          expect(r.status, `${path}?${qs} ${String(body).slice(0, 80)}: ${r.text.slice(0, 200)}`).toBeLessThan(500);
        },
      ),
      { numRuns: 300 },
    );
  }, 60_000);

  it('kept storing every reading of the well-behaved device, with memory bounded', async () => {
    // however quickly the fuzzing went, the good device has published a fair number by now
    await waitFor(() => acked.size > 100, 10_000, 'a hundred readings of the good device');
    clearInterval(pump);
    await waitFor(() => acked.size >= goodSeq - 5, 10_000, 'good device acked');
    await app.telemetry.flush();
    const points = await app.telemetry.query({ deviceId: 'gas-2', from: 0, to: Date.now() + 1000, limit: 100_000 });
    const stored = new Set(points.map((p) => ('seq' in p ? p.seq : -1)));
    // what the gateway said to the good device, should one be missing
    expect([...acked].filter((s) => !stored.has(s)), `rejects to the good device: ${JSON.stringify(good.rejects).slice(0, 500)}`).toEqual([]);
    expect(acked.size).toBeGreaterThan(100);
    const grownMb = (process.memoryUsage().rss - rssBefore) / 1e6;
    expect(grownMb).toBeLessThan(400);
  });
});
