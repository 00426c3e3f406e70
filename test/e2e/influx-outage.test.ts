import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startTestApp, THREADED, tempDir } from '../support/app.ts';
import { startInfluxd, type Influxd } from '../support/influxd.ts';
import { CAST, CHEM } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * InfluxDB goes down while devices publish, and the service restarts once during the outage:
 * afterwards every reading a device got a PUBACK for is in InfluxDB exactly once (by seq).
 */
describe('InfluxDB outage', () => {
  let influxd: Influxd;
  beforeAll(async () => {
    influxd = await startInfluxd();
  }, 30_000);
  afterAll(async () => influxd?.stop());

  it('keeps every accepted reading across an outage and a restart, and replays it in order', async () => {
    const dataDir = await tempDir();
    const settings = { INFLUX_URL: influxd.url, INFLUX_DB: 'outage' };
    let app = await startTestApp({ ...THREADED, dataDir, settings });
    const devices = [
      { ent: CHEM, id: 'gas-1', secret: 'secret-gas-1', metric: 'gas_lel' },
      { ent: CAST, id: 'caster-1', secret: 'secret-caster-1', metric: 'melt_level' },
    ];
    const acked = new Map(devices.map((d) => [d.id, new Set<number>()]));
    const t0 = Date.now();
    const clients = await Promise.all(
      devices.map(async (d) => {
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: d.id, password: d.secret, clientId: `outage-${d.id}`, clean: false, reconnectPeriod: 200 });
        return { d, c, seq: 0 };
      }),
    );
    let port = app.ports.mqtt;
    let inFlight = 0;
    const pump = setInterval(() => {
      for (const x of clients) {
        if (!x.c.connected) continue;
        const seq = ++x.seq;
        inFlight++;
        x.c.publish(`v1/${x.d.ent}/${x.d.id}/telemetry`, JSON.stringify({ ts: t0 + seq * 10, seq, values: { [x.d.metric]: 1 + (seq % 7) } }), { qos: 1 }, (err) => {
          inFlight--;
          if (!err) acked.get(x.d.id)!.add(seq);
        });
      }
    }, 25);
    /** until every device has had `n` more readings acknowledged than now */
    const more = async (n: number, what: string) => {
      const now = new Map([...acked].map(([id, s]) => [id, s.size]));
      await waitFor(() => [...acked].every(([id, s]) => s.size >= now.get(id)! + n), 15_000, what);
    };

    await more(20, 'readings stored in InfluxDB');
    await influxd.stop();
    const down = await waitFor(async () => {
      const h = (await apiClient(app).get('/api/health')).json;
      return h.status === 'degraded' && h.store.buffered.batches > 0 && h;
    }, 10_000, 'the outage seen and readings buffered');
    expect(down.status).toBe('degraded');
    expect(down.store.buffered.batches).toBeGreaterThan(0);

    // the service restarts while InfluxDB is still down; devices reconnect to the same port
    const dataPort = port;
    await app.stop();
    app = await startTestApp({ ...THREADED, dataDir, settings: { ...settings, MQTT_PORT: dataPort } });
    port = app.ports.mqtt;
    await waitFor(() => clients.every((x) => x.c.connected), 10_000, 'devices back');
    await more(20, 'readings buffered after the restart');
    await influxd.start();
    await more(20, 'readings accepted with InfluxDB back');
    clearInterval(pump);
    await waitFor(() => inFlight === 0, 10_000, 'every message answered');
    await app.telemetry.flush(20_000);
    expect(app.telemetry.health()).toMatchObject({ ok: true });

    for (const { d } of clients) {
      const points = await app.telemetry.query({ deviceId: d.id, metric: d.metric, from: t0, to: t0 + 1e7, limit: 100_000 });
      const seqs = points.map((p) => ('seq' in p ? p.seq! : -1));
      expect(seqs.length, `${d.id}: each reading once`).toBe(new Set(seqs).size);
      const stored = new Set(seqs);
      expect([...acked.get(d.id)!].filter((s) => !stored.has(s)), `${d.id}: every PUBACKed reading in InfluxDB`).toEqual([]);
      // replayed in order: InfluxDB returns them by time, and time follows seq here
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(acked.get(d.id)!.size).toBeGreaterThan(50);
    }
    await Promise.all(clients.map((x) => x.c.endAsync()));
    await app.stop();
  }, 60_000);

  it('raises a critical system alert when the disk buffer is full, refuses readings (never loses one), and clears it once there is room', async () => {
    const dataDir = await tempDir();
    const app = await startTestApp({ ...THREADED, dataDir, settings: { INFLUX_URL: influxd.url, INFLUX_DB: 'full', INFLUX_BUFFER_MB: '1' } });
    const op = apiClient(app, 'token-operator');
    const bufferAlert = async () => ((await op.get('/api/alerts?state=all&limit=100')).json.items as { rule: string; state: string; severity: string }[]).find((a) => a.rule === 'store-buffer-full');
    await influxd.stop();
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'gas-1', password: 'secret-gas-1', clientId: 'full-gas-1', clean: false, reconnectPeriod: 200 });
    const t0 = Date.now();
    const acked = new Set<number>();
    let seq = 0;
    // 500 readings a message, about 70 KB of line protocol: the 1 MiB buffer is full after some fifteen
    const publish = () => {
      const from = seq + 1;
      const readings = Array.from({ length: 500 }, () => ({ ts: t0 + ++seq, seq, values: { gas_lel: seq % 7 } }));
      c.publish(`v1/${CHEM}/gas-1/telemetry`, JSON.stringify(readings), { qos: 1 }, (err) => {
        if (!err) for (let s = from; s < from + 500; s++) acked.add(s);
      });
    };
    for (let i = 0; i < 30; i++) publish();
    await waitFor(async () => (await bufferAlert())?.state === 'active', 20_000, 'the buffer-full alert');
    expect((await bufferAlert())?.severity).toBe('critical');
    expect(acked.size).toBeLessThan(seq);
    await influxd.start();
    await waitFor(() => acked.size === seq, 30_000, 'every reading acknowledged once InfluxDB is back');
    await waitFor(async () => (await bufferAlert())?.state !== 'active', 20_000, 'the alert cleared');
    await app.telemetry.flush(20_000);
    const points = await app.telemetry.query({ deviceId: 'gas-1', metric: 'gas_lel', from: t0, to: t0 + 1e6, limit: 100_000 });
    const seqs = points.map((p) => ('seq' in p ? p.seq! : -1));
    expect(seqs.length, 'each reading once').toBe(new Set(seqs).size);
    expect(new Set(seqs)).toEqual(acked);
    await c.endAsync();
    await app.stop();
  }, 90_000);
});
