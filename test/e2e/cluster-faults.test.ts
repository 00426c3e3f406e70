import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/app.ts';
import { Fleet, startRole, verifyCluster, type RoleProcess } from '../support/cluster.ts';
import { startInfluxd, type Influxd } from '../support/influxd.ts';
import { startNats, type TestNats } from '../support/nats.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { freePort, startReceiver } from '../support/receivers.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Cluster mode under faults, on one machine: three nats-server processes (JetStream, every
 * partition replicated three times), one PostgreSQL, influxd, two MQTT edges and three workers as
 * processes of their own, and a fleet of QoS 1 devices reporting with seq to whichever edge takes
 * them. The faults come in turn, the fleet reporting through each: a worker killed, a worker frozen
 * past its lease and woken up, a NATS node killed, an edge killed, a worker joining and one
 * leaving, the registry changed. After each: every acknowledged reading is stored exactly once,
 * the alert record's rule-driven transitions are exactly those of the pure engine replaying every
 * partition's log in this process, no rule and point has two open alerts, and no partition had
 * two owners in one epoch.
 */
const P = 8;
const ENTERPRISES = Array.from({ length: 12 }, (_, i) => `91321283MA1F${String(i).padStart(6, '0')}`);
/** 45 %LEL (critical) for ten readings, then 1 %LEL for ten: an alarm raised and cleared every 20 */
const valueOf = (seq: number) => (seq % 20 < 10 ? 45 : 1);

function registry(webhook: string, strict = false) {
  return {
    units: [{ id: 'ent-all', name: '企业安全部', kind: 'enterprise', webhooks: [{ url: `${webhook}/hook`, format: 'generic' }] }],
    enterprises: ENTERPRISES.map((id, i) => ({
      id,
      name: `测试企业${i}`,
      industry: 'hazchem',
      region: '321283103',
      units: ['ent-all'],
      devices: [0, 1].map((k) => ({
        id: `gas-${i}-${k}`,
        secret: `secret-gas-${i}-${k}`,
        reportIntervalS: 60,
        templates: ['hazchem'],
        points: [{ metric: 'gas_lel', range: [0, 100] }],
        // every raise is news: held open for flapping it would stop changing after a few rounds
        flapping: { changes: 1000, windowS: 1 },
        // the registry change of the last phase: stricter levels for half the enterprises
        ...(strict && i % 2 === 0 ? { rules: [{ id: 'gas-lel', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'major', value: 15 }, { severity: 'critical', value: 35 }], deadband: 2 }] } : {}),
      })),
    })),
    routing: { immediate: { info: [], warning: ['enterprise'], major: ['enterprise'], critical: ['enterprise'] }, groupWaitS: 0.2, groupIntervalS: 0, reviewFrom: 'none' },
    users: [{ name: 'operator', token: 'token-operator', role: 'operator' }],
  };
}

describe('cluster mode under faults', () => {
  let nats: TestNats;
  let pgs: TestPostgres;
  let influx: Influxd;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let dir: string;
  let config: string;
  let pgUrl: string;
  let fleet: Fleet;
  const workers = new Map<string, RoleProcess>();
  const edges: RoleProcess[] = [];

  const env = async (name: string, extra: Record<string, string> = {}) => {
    const data = join(dir, name);
    await mkdir(data, { recursive: true });
    return {
      CONFIG: config,
      DATA_DIR: data,
      NATS_URL: nats.url,
      PG_URL: pgUrl,
      INFLUX_URL: influx.url,
      CLUSTER_PARTITIONS: String(P),
      CLUSTER_REPLICAS: '3',
      LEASE_S: '2',
      HTTP_PORT: String(await freePort()),
      MQTT_PORT: String(await freePort()),
      MQTT_WS_PORT: String(await freePort()),
      ...extra,
    };
  };
  const worker = async (name: string) => workers.set(name, await startRole(name, 'worker', await env(name), join(dir, `${name}.log`)));
  const ownersNow = async () => {
    const c = new pg.Client(pgUrl);
    await c.connect();
    const rows = (await c.query<{ id: number; owner: string; epoch: string }>('SELECT id, owner, epoch FROM partitions ORDER BY id')).rows;
    await c.end();
    return rows.map((r) => ({ partition: r.id, owner: r.owner, epoch: Number(r.epoch) }));
  };
  /** the fleet reports for a while (a number of acknowledged readings more), then the checks */
  const reportAndVerify = async (what: string, readings = 400) => {
    const before = fleet.total();
    fleet.start(250);
    await waitFor(() => fleet.total() >= before + readings, 90_000, `${what}: readings acknowledged`);
    await fleet.pause();
    const v = await verifyCluster({ pgUrl, natsUrls: nats.urls, influxUrl: influx.url, partitions: P, fleet, timeoutMs: 90_000 });
    expect(v.missing, `${what}: acknowledged readings not stored`).toEqual([]);
    expect(v.twice, `${what}: readings stored twice`).toEqual([]);
    expect(v.doubleOpen, `${what}: two open alerts for one rule and point`).toEqual([]);
    expect(v.owners, `${what}: two owners in one epoch`).toEqual([]);
    expect(v.differences, `${what}: the record differs from the engine replaying the logs`).toEqual([]);
    expect(v.transitions, `${what}: alerts were raised and cleared`).toBeGreaterThan(0);
    if (process.env.CLUSTER_TEST_VERBOSE) console.log(what, { readings: v.readings, transitions: v.transitions, owners: await ownersNow() });
    return v;
  };

  beforeAll(async () => {
    [nats, pgs, influx, hooks] = await Promise.all([startNats({ servers: 3, partitions: P }), startPostgres(), startInfluxd(), startReceiver()]);
    dir = await tempDir('rm-cluster-');
    config = join(dir, 'registry.yaml');
    await writeFile(config, stringify(registry(hooks.url)));
    pgUrl = await pgs.database('cluster');
    await worker('w1');
    await Promise.all([worker('w2'), worker('w3')]);
    edges.push(await startRole('e1', 'edge', await env('e1'), join(dir, 'e1.log')), await startRole('e2', 'edge', await env('e2'), join(dir, 'e2.log')));
    await waitFor(async () => (await ownersNow()).every((o) => o.owner !== null), 30_000, 'every partition owned');
    fleet = new Fleet(
      ENTERPRISES.flatMap((e, i) => [0, 1].map((k) => ({ enterpriseId: e, deviceId: `gas-${i}-${k}`, secret: `secret-gas-${i}-${k}` }))),
      edges.map((e) => Number(readFileSync(`/proc/${e.child.pid}/environ`, 'utf8').match(/MQTT_PORT=(\d+)/)![1])),
      valueOf,
    );
    await fleet.connect();
  }, 180_000);

  afterAll(async () => {
    await fleet?.end().catch(() => {});
    await Promise.all([...workers.values(), ...edges].map((p) => p.kill()));
    await Promise.all([nats?.stop(), pgs?.stop(), influx?.stop(), hooks?.close()]);
  });

  it('keeps every acknowledged reading and the same alert record through each fault in turn', async () => {
    await reportAndVerify('steady state');

    // a worker killed: the others take its partitions (its session ends with it)
    fleet.start(250);
    await workers.get('w1')!.kill();
    workers.delete('w1');
    await waitFor(async () => (await ownersNow()).every((o) => o.owner && o.owner !== 'w1'), 30_000, 'w1\'s partitions taken over');
    await fleet.pause();
    await reportAndVerify('after kill -9 of a worker');

    // a worker frozen past its lease: its partitions go to the others; woken, its writes are refused
    const w2 = workers.get('w2')!;
    const frozenParts = (await ownersNow()).filter((o) => o.owner === 'w2');
    fleet.start(250);
    w2.freeze();
    await waitFor(async () => (await ownersNow()).filter((o) => frozenParts.some((f) => f.partition === o.partition)).every((o) => o.owner !== 'w2'), 30_000, 'the frozen worker\'s partitions taken over');
    w2.thaw();
    await fleet.pause();
    await reportAndVerify('after a worker frozen past its lease');
    const w2log = readFileSync(join(dir, 'w2.log'), 'utf8');
    expect(frozenParts.length).toBeGreaterThan(0);
    expect(w2log, 'the woken worker learnt it lost its partitions').toMatch(/leases lost|another worker owns it now/);

    // a NATS node killed while the fleet reports, then back
    fleet.start(250);
    await nats.kill(1);
    await waitFor(() => fleet.total() > 0, 1000);
    await fleet.pause();
    await reportAndVerify('with a NATS node down');
    await nats.start(1);

    // an edge killed: its devices reconnect to the other
    fleet.start(250);
    await edges[0].kill();
    await fleet.pause();
    await reportAndVerify('after an edge was killed');

    // a worker joins and one leaves (asked to stop)
    await worker('w4');
    await workers.get('w3')!.kill('SIGTERM');
    workers.delete('w3');
    await waitFor(async () => (await ownersNow()).every((o) => o.owner && o.owner !== 'w3'), 30_000, 'w3\'s partitions taken over');
    await reportAndVerify('after a worker joined and one left');

    // the registry changed (stricter gas levels for half the enterprises): every process reloads
    await writeFile(config, stringify(registry(hooks.url, true)));
    await waitFor(async () => {
      const c = new pg.Client(pgUrl);
      await c.connect();
      const n = (await c.query('SELECT count(*) AS n FROM registry_versions')).rows[0].n;
      await c.end();
      return Number(n) === 2;
    }, 30_000, 'the new registry adopted');
    const v = await reportAndVerify('after a registry change');
    expect(v.readings).toBeGreaterThan(2000);
  }, 600_000);
});
