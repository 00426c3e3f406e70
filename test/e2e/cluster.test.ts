import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiNode } from '../../services/cluster/api.ts';
import { startEdge } from '../../services/cluster/edge.ts';
import { startWorker } from '../../services/cluster/worker.ts';
import { openSharedAudit } from '../../services/cluster/shared-stores.ts';
import { PgSql } from '../../services/store/postgres-sql.ts';
import { settingsSchema } from '../../services/settings.ts';
import { apiClient, connectDevice, followStream, tempDir } from '../support/app.ts';
import { startInfluxd, type Influxd } from '../support/influxd.ts';
import { startNats, type TestNats } from '../support/nats.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { startReceiver } from '../support/receivers.ts';
import { FirePanelSimulator } from '../../simulators/fire-panel.ts';
import { CHEM, MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Cluster mode, one process of each role in this test process, on a real NATS, PostgreSQL and
 * InfluxDB: a device's alarm reaches the live stream, the webhook and the API through the log;
 * a person's acknowledgement goes to the partition's owner and back; what is wrong with a message
 * reaches the device; the readings are in InfluxDB.
 */
const P = 4;

describe('cluster mode: edge, worker and API node', () => {
  let nats: TestNats;
  let pg: TestPostgres;
  let pgUrl: string;
  let influx: Influxd;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let edge: Awaited<ReturnType<typeof startEdge>>;
  let worker: Awaited<ReturnType<typeof startWorker>>;
  let api: Awaited<ReturnType<typeof startApiNode>>;
  let workerSettings: () => ReturnType<typeof settingsSchema.parse>;

  beforeAll(async () => {
    [nats, pg, influx, hooks] = await Promise.all([startNats({ partitions: P }), startPostgres(), startInfluxd(), startReceiver()]);
    const dir = await tempDir();
    const config = join(dir, 'registry.yaml');
    const reg = testRegistry({ webhookUrl: hooks.url });
    // a fire panel's transmission device (GB/T 26875.3) of the mall, connecting to the edge
    reg.enterprises.find((e) => e.id === MALL)!.devices.push({ id: 'panel-1', panelAddress: '88888', templates: ['fire'], points: [{ id: 'smoke-3f', metric: 'smoke_alarm', panel: { componentType: 40, componentAddress: 10 } }] } as never);
    await writeFile(config, stringify(reg));
    pgUrl = await pg.database('cluster');
    const settings = (role: string, extra: Record<string, string | number> = {}) =>
      settingsSchema.parse({
        ...{ ROLE: role, CONFIG: config, DATA_DIR: dir, HOST: '127.0.0.1', MQTT_PORT: 0, MQTT_WS_PORT: 0, HTTP_PORT: 0, LOG_LEVEL: 'silent' },
        ...{ NATS_URL: nats.url, PG_URL: pgUrl, INFLUX_URL: influx.url, CLUSTER_PARTITIONS: P, CLUSTER_REPLICAS: 1, LEASE_S: 2 },
        ...extra,
      });
    const logger = pino({ level: 'silent' });
    workerSettings = () => settings('worker', { NODE_ID: 'w1' });
    worker = await startWorker(workerSettings(), { logger, tickMs: 200, outbox: { baseDelayMs: 200, maxDelayMs: 1000, pollMs: 100 } });
    [edge, api] = await Promise.all([startEdge(settings('edge', { NODE_ID: 'e1', FIRE_PANEL_PORT: 0, FIRE_PANEL_ADDRESS: 889 }), { logger }), startApiNode(settings('api', { NODE_ID: 'a1' }), { logger, commandTimeoutMs: 2000 })]);
    await waitFor(() => worker.partitions().length === P, 20_000, 'the worker owns every partition');
  }, 120_000);
  afterAll(async () => {
    await edge?.stop();
    await api?.stop();
    await worker?.stop();
    await Promise.all([nats?.stop(), pg?.stop(), influx?.stop(), hooks?.close()]);
  });

  /** registries a node has applied so far */
  const reloads = async (port: number) => Number(/registry_reloads_total\{outcome="applied"\} (\d+)/.exec(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())?.[1] ?? 0);

  it('takes a device\'s alarm through the log to the live stream, the webhook and the API, and an acknowledgement back', async () => {
    const stream = await followStream({ ports: { http: api.ports.http } }, 'token-operator');
    const device = await connectDevice({ ports: { mqtt: edge.ports.mqtt! } }, CHEM, 'gas-1', 'secret-gas-1');
    await device.telemetry({ seq: 1, values: { gas_lel: 45 } });
    const op = apiClient({ ports: { http: api.ports.http } }, 'token-operator');
    const alert = await waitFor(async () => (await op.get(`/api/alerts?state=active&enterprise=${CHEM}`)).json.items.find((a: { rule: string }) => a.rule === 'gas-lel'), 20_000, 'the alarm in the API');
    expect(alert).toMatchObject({ deviceId: 'gas-1', severity: 'critical', state: 'active', acknowledged: false });
    await waitFor(() => stream.events.some((e) => e.data.id === alert.id && e.data.transition?.type === 'raised'), 10_000, 'the raise on the live stream');
    await waitFor(() => hooks.requests.some((r: any) => (r.body.digest ? r.body.events : [r.body]).some((e: { id: string }) => e.id === alert.id)), 15_000, 'the webhook told');

    const acked = await op.post(`/api/alerts/${alert.id}/ack`, { note: '已派人' });
    expect(acked.status).toBe(200);
    expect(acked.json).toMatchObject({ id: alert.id, acknowledged: true });
    expect((await op.post(`/api/alerts/${alert.id}/ack`, {})).status).toBe(409);
    const detail = (await op.get(`/api/alerts/${alert.id}`)).json;
    expect(detail.history.map((t: { type: string }) => t.type)).toEqual(expect.arrayContaining(['raised', 'acknowledged']));

    // a message the worker refuses is answered to the device through its edge
    await device.telemetry({ seq: 2, values: { no_such_point: 1 } });
    await waitFor(() => device.rejects.some((r) => r.error === 'UNKNOWN_METRIC' || r.error === 'UNKNOWN_POINT'), 10_000, 'the reject at the device');
    // a payload the worker would refuse whole never goes into the log: the edge says so itself
    await device.telemetry(JSON.stringify({ seq: 3, values: { gas_lel: 1 }, pad: 'x'.repeat(300_000) }));
    await waitFor(() => device.rejects.some((r) => r.error === 'PAYLOAD_TOO_LARGE'), 10_000, 'PAYLOAD_TOO_LARGE at the device');
    // the readings are in InfluxDB
    const points = await waitFor(async () => (await op.get(`/api/telemetry?device=gas-1&metric=gas_lel&from=0`)).json.points, 10_000, 'readings stored');
    expect(points.map((p: { seq: number; value: number }) => [p.seq, p.value])).toEqual([[1, 45]]);
    // closed while the gas is still high: its rule starts afresh (a forget in the log), so the next
    // high reading is a new alarm, not the closed one going on
    expect((await op.post(`/api/alerts/${alert.id}/close`, { disposition: 'drill', note: '演练' })).status).toBe(200);
    await device.telemetry({ seq: 4, values: { gas_lel: 47 } });
    const next = await waitFor(async () => (await op.get(`/api/alerts?state=active&enterprise=${CHEM}`)).json.items.find((a: { rule: string; deviceId: string }) => a.rule === 'gas-lel' && a.deviceId === 'gas-1'), 20_000, 'a new alarm after the close');
    expect(next.id).not.toBe(alert.id);
    await device.end();
    stream.close();
  }, 60_000);

  it("keeps an edge's MQTT logins in the shared audit trail, from which a restarted edge reads who logged in from where", async () => {
    const device = await connectDevice({ ports: { mqtt: edge.ports.mqtt! } }, CHEM, 'gas-2', 'secret-gas-2');
    // two connections: one holds the lock the trail's tables are made under, one makes them
    const sql = PgSql.connect(pgUrl, { max: 2, application: 'test' });
    try {
      const audit = await openSharedAudit(sql);
      const login = await waitFor(async () => (await audit.recentLogins(Date.now() - 60_000, 100)).find((x) => x.username === 'gas-2'), 10_000, 'the login in the audit trail');
      expect(login).toMatchObject({ address: '127.0.0.1' });
      // the chain stays whole with the edge among its writers
      expect((await apiClient({ ports: { http: api.ports.http } }, 'token-operator').get('/api/audit/verify')).json.ok).toBe(true);
      audit.close();
    } finally {
      await sql.close();
      await device.end();
    }
  });

  it('takes a fire panel\'s fire through the edge and the log to an alert, confirmed once the log has it', async () => {
    const panel = new FirePanelSimulator({ host: '127.0.0.1', port: edge.ports.firePanel!, address: 88888, centre: 889, clock: Date.now });
    await panel.connect();
    expect(await panel.fire({ componentType: 40, componentAddress: 10 })).toBe('confirmed');
    const op = apiClient({ ports: { http: api.ports.http } }, 'token-operator');
    const alert = await waitFor(async () => (await op.get(`/api/alerts?state=active&enterprise=${MALL}`)).json.items.find((a: { deviceId: string }) => a.deviceId === 'panel-1'), 20_000, 'the fire alarm in the API');
    expect(alert).toMatchObject({ severity: 'critical', pointId: 'smoke-3f', rule: 'smoke-alarm' });
    panel.close();
  }, 60_000);

  it('registers a device through an API node: every node takes the registry once, and the device reports through the edge', async () => {
    // the edge is waited for by its reload, then the device logs in once: a login polled until the
    // edge knows the id would be failed logins, which the brute-force guard rightly bans
    const nodes = () => Promise.all([api.ports.http, edge.ports.http, worker.ports.http].map(reloads));
    const edgeReloaded = async (since: number) => waitFor(async () => (await reloads(edge.ports.http)) > since, 20_000, 'the edge reloads the registry');
    const chem = apiClient({ ports: { http: api.ports.http } }, 'token-chem');
    const first = await nodes();
    const made = await chem.post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-new', templates: ['hazchem'], points: [{ metric: 'gas_lel' }] });
    expect(made.status).toBe(201);
    await edgeReloaded(first[1]);
    const device = await connectDevice({ ports: { mqtt: edge.ports.mqtt! } }, CHEM, 'gas-new', made.json.secret);
    await device.telemetry({ seq: 1, values: { gas_lel: 46 } });
    const op = apiClient({ ports: { http: api.ports.http } }, 'token-operator');
    await waitFor(async () => (await op.get(`/api/alerts?state=active&enterprise=${CHEM}`)).json.items.some((a: { deviceId: string }) => a.deviceId === 'gas-new'), 20_000, 'the new device\'s alarm');
    // one reload per node for the registration, not a storm: a second registration costs one more each
    const before = await nodes();
    const second = await chem.post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-new-2', points: [{ metric: 'gas_lel' }] });
    expect(second.status).toBe(201);
    await edgeReloaded(before[1]);
    const again = await connectDevice({ ports: { mqtt: edge.ports.mqtt! } }, CHEM, 'gas-new-2', second.json.secret);
    await again.end();
    const after = await nodes();
    expect(after.map((n, i) => n - before[i]).every((d) => d <= 2), `reloads per node: ${before} → ${after}`).toBe(true);
    await device.end();
  }, 60_000);

  it("tells, as a partition's next owner, what its last owner committed and never queued", async () => {
    // the worker's outbox cannot write: the alarm is committed, its notices never queued
    const store = (worker.outbox as unknown as { deps: { store: { write: () => Promise<void>; retryMs: number } } }).deps.store;
    store.retryMs = 20;
    store.write = async () => Promise.reject(new Error('connection to the database lost'));
    const device = await connectDevice({ ports: { mqtt: edge.ports.mqtt! } }, CHEM, 'gas-2', 'secret-gas-2');
    await device.telemetry({ seq: 1, values: { gas_lel: 48 } });
    const op = apiClient({ ports: { http: api.ports.http } }, 'token-operator');
    const alert = await waitFor(async () => (await op.get(`/api/alerts?state=active&enterprise=${CHEM}`)).json.items.find((a: { deviceId: string }) => a.deviceId === 'gas-2'), 20_000, 'the alarm in the API');
    await device.end();
    await worker.stop();
    const told = () => hooks.requests.filter((r: any) => (r.body.digest ? r.body.events : [r.body]).some((e: { id: string; transition?: { type: string } }) => e.id === alert.id && e.transition?.type === 'raised'));
    expect(told()).toEqual([]);
    worker = await startWorker(workerSettings(), { logger: pino({ level: 'silent' }), tickMs: 200, outbox: { baseDelayMs: 200, maxDelayMs: 1000, pollMs: 100 } });
    await waitFor(() => told().length > 0, 30_000, 'the owed notice delivered by the next owner');
    await worker.dispatcher.idle();
    await worker.outbox.run();
    // should there be two: one notification id is a delivery tried again, two a change told twice
    expect(told().map((r: { headers: Record<string, unknown> }) => r.headers['x-notification-id'])).toHaveLength(1);
  }, 60_000);

  it('tells an alarm once when the worker takes its partitions again while the alarm\'s notices are being written (its lease session ended under it)', async () => {
    const chem = apiClient({ ports: { http: api.ports.http } }, 'token-chem');
    const before = await reloads(edge.ports.http);
    const made = await chem.post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-lease', templates: ['hazchem'], points: [{ metric: 'gas_lel' }] });
    expect(made.status).toBe(201);
    await waitFor(async () => (await reloads(edge.ports.http)) > before, 20_000, 'the edge reloads the registry');
    // the worker's notices held on their way into the outbox table
    type Write = (...a: unknown[]) => Promise<boolean[]>;
    const store = (worker.outbox as unknown as { deps: { store: { write: Write } } }).deps.store;
    const write = store.write.bind(store);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let writes = 0;
    store.write = async (...a) => (writes++, await gate, write(...a));
    const device = await connectDevice({ ports: { mqtt: edge.ports.mqtt! } }, CHEM, 'gas-lease', made.json.secret);
    await device.telemetry({ seq: 1, values: { gas_lel: 47 } });
    const op = apiClient({ ports: { http: api.ports.http } }, 'token-operator');
    const alert = await waitFor(async () => (await op.get(`/api/alerts?state=active&enterprise=${CHEM}`)).json.items.find((a: { deviceId: string }) => a.deviceId === 'gas-lease'), 20_000, 'the alarm in the API');
    await waitFor(() => writes >= 1, 10_000, "the alarm's notices on their way to the outbox");
    // as after a stall longer than the lease: the server ends the worker's lease session, the
    // worker stops its partitions and takes them again, and finds the alarm still owed its notices
    type Owed = { alert: { id: string } }[];
    const dispatcher = worker.dispatcher as unknown as { tellOwed(owed: Owed): void };
    const tellOwed = dispatcher.tellOwed.bind(dispatcher);
    let foundOwed = 0;
    dispatcher.tellOwed = (owed) => (owed.some((o) => o.alert.id === alert.id) && foundOwed++, tellOwed(owed));
    const sql = PgSql.connect(pgUrl);
    await sql.all(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'risk-monitor-lease'`);
    await waitFor(() => foundOwed > 0, 20_000, 'the alarm found owed by the partitions taken again');
    release();
    const told = () => hooks.requests.filter((r: any) => (r.body.digest ? r.body.events : [r.body]).some((e: { id: string; transition?: { type: string } }) => e.id === alert.id && e.transition?.type === 'raised'));
    await waitFor(() => told().length > 0, 20_000, 'the alarm at the webhook');
    await waitFor(() => worker.partitions().length === P, 20_000, 'every partition owned again');
    await worker.dispatcher.idle();
    await worker.outbox.run();
    expect(told().map((r: { headers: Record<string, unknown> }) => r.headers['x-notification-id'])).toHaveLength(1);
    expect(await sql.all(`SELECT unit_id, channel, count(*)::int AS n FROM outbox WHERE alert_id = $a GROUP BY unit_id, channel HAVING count(*) > 1`, { a: alert.id })).toEqual([]);
    await sql.close();
    await device.end();
  }, 60_000);

  it('answers a step no worker can take now with 503 UNAVAILABLE, and a worker that comes takes it from the log', async () => {
    const op = apiClient({ ports: { http: api.ports.http } }, 'token-operator');
    const alert = (await op.get(`/api/alerts?state=active&enterprise=${MALL}`)).json.items.find((a: { deviceId: string }) => a.deviceId === 'panel-1');
    await worker.stop();
    const asked = await op.post(`/api/alerts/${alert.id}/ack`, { note: '无人值守时' });
    expect(asked.status).toBe(503);
    expect(asked.json).toMatchObject({ error: 'UNAVAILABLE' });
    expect(asked.text).not.toContain('postgres://');
    worker = await startWorker(workerSettings(), { logger: pino({ level: 'silent' }), tickMs: 200 });
    await waitFor(async () => (await op.get(`/api/alerts/${alert.id}`)).json.acknowledged === true, 30_000, 'the step applied by the worker that came');
  }, 60_000);
});
