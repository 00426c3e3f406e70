import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp, THREADED, type DeviceClient } from '../support/app.ts';
import { startReceiver } from '../support/receivers.ts';
import { CHEM, MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Arbitrary JSON, prototype names, huge and tiny numbers, deep nesting and unicode, sent by a real
 * device over MQTT through decode → rules → alert book → dispatcher: nothing throws, only the
 * device's registry points are stored or alerted, and a genuine fire alarm of another enterprise
 * sent in the middle of it is still notified.
 */
const PROTO_NAMES = ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'prototype'];
const POINTS = ['gas_lel', 'toxic_gas_ppm', 'gas_shutoff_valve_closed'];

const name = fc.oneof(fc.constantFrom(...PROTO_NAMES, ...POINTS, 'co_ppm', 'smoke_alarm', ''), fc.string({ maxLength: 80 }), fc.string({ unit: 'grapheme', maxLength: 20 }));
const number = fc.oneof(
  fc.double(),
  fc.constantFrom(1e300, -1e300, 5e-324, -0, Number.MAX_VALUE, Number.MIN_SAFE_INTEGER, 8.64e15, 8.64e15 + 1, 1e21),
  fc.integer(),
);
const scalar = fc.oneof(number, fc.boolean(), fc.string({ maxLength: 40 }), fc.constant(null), fc.constantFrom('good', 'fault', 'maintenance'));
const value = fc.oneof(scalar, fc.jsonValue({ maxDepth: 4 }));
const reading = fc.record(
  {
    ts: fc.oneof(number, fc.string({ maxLength: 40 }), fc.constantFrom('2026-11-29T08:00:00+08:00', '+275760-09-13T00:00:00.001Z', '1e300'), fc.jsonValue({ maxDepth: 2 })),
    seq: fc.oneof(fc.integer({ min: 0 }), number, fc.string({ maxLength: 10 })),
    values: fc.oneof(fc.dictionary(name, value, { maxKeys: 8 }), value),
    quality: fc.oneof(fc.dictionary(name, scalar, { maxKeys: 6 }), value),
  },
  { requiredKeys: [] },
);
const payload = fc.oneof(
  { weight: 5, arbitrary: reading.map((r) => JSON.stringify(r)) },
  { weight: 2, arbitrary: fc.array(reading, { maxLength: 5 }).map((r) => JSON.stringify(r)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  // prototype names as raw JSON keys (JSON.stringify of an object cannot make "__proto__" own)
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...PROTO_NAMES), scalar.map((v) => JSON.stringify(v) ?? 'null')).map(([k, v]) => `{"values":{"${k}":${v},"gas_lel":1},"quality":{"${k}":"fault"}}`) },
);

describe('hostile telemetry, property-based', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let dev: DeviceClient;
  const since = Date.now() - 60_000;

  beforeAll(async () => {
    hooks = await startReceiver();
    const reg = testRegistry();
    for (const u of reg.units) if (u.id === 'ent-mall' || u.id === 'fire-b') (u as { webhooks?: object[] }).webhooks = [{ url: `${hooks.url}/${u.id}`, format: 'generic' }];
    // the fuzzing device may send as fast as the property runs
    (reg as Record<string, unknown>).gateway = { messagesPerS: 10_000, messageBurst: 10_000 };
    app = await startTestApp({ ...THREADED, registry: reg });
    dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
  });
  afterAll(async () => {
    await dev?.end();
    await app?.stop();
    await hooks?.close();
  });

  it('never throws, stores and alerts only registry points, and a real fire is still told', async () => {
    let fireSent = false;
    await fc.assert(
      fc.asyncProperty(payload, async (p) => {
        // QoS 1: the PUBACK comes only once the gateway is done with the message
        await dev.client.publishAsync(`v1/${CHEM}/gas-1/telemetry`, p, { qos: 1 });
        if (!fireSent) {
          fireSent = true;
          const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
          await smoke.telemetry({ values: { smoke_alarm: true } });
          await smoke.end();
        }
      }),
      { numRuns: 300, seed: 20261129 },
    );
    expect(dev.client.connected).toBe(true);
    const metrics = (await apiClient(app).get('/metrics')).text;
    expect(metrics).not.toMatch(/^(internal_faults_total|gateway_publish_faults_total)\S* [1-9]/m);
    expect((await apiClient(app).get('/api/health')).json.status).toBe('ok');

    const api = apiClient(app, 'token-operator');
    const stored = (await api.get(`/api/telemetry?device=gas-1&from=${since}&to=${Date.now() + 600_000}&limit=100000`)).json.points as { metric: string }[];
    expect([...new Set(stored.map((p) => p.metric))].filter((m) => !POINTS.includes(m))).toEqual([]);
    const alerts = (await api.get(`/api/alerts?enterprise=${CHEM}&limit=1000`)).json.items as { metric: string; deviceId: string }[];
    // a point of the registry, or the device as a whole ('_device': offline, unannounced maintenance)
    for (const a of alerts) expect(POINTS.includes(a.metric) || a.metric === '' || a.metric === '_device', JSON.stringify(a)).toBe(true);

    const fire = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${MALL}`)).json.items.find((a: { metric: string }) => a.metric === 'smoke_alarm'), 5000, 'the fire alert');
    for (const unit of ['ent-mall', 'fire-b'])
      await waitFor(() => hooks.requests.some((r) => r.url === `/${unit}` && JSON.stringify(r.body).includes(fire.id)), 10_000, `${unit} told of the fire`);
  });
});
