import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { applyOutcome } from '../../services/alerts/lifecycle.ts';
import type { Alert } from '../../services/alerts/model.ts';
import { ClusterLog } from '../../services/cluster/log.ts';
import { PartitionEngine } from '../../services/cluster/partition-engine.ts';
import { RegistryVersions } from '../../services/cluster/registry-versions.ts';
import { InfluxTelemetryStore } from '../../services/store/influx-telemetry.ts';
import { PgSql } from '../../services/store/postgres-sql.ts';
import { waitFor } from './wait.ts';

/**
 * What the cluster's fault tests need: the roles as processes of their own (as a deployment runs
 * them, so that they can be killed and frozen), a QoS 1 fleet that fails over between edges, and
 * the checks: every acknowledged reading stored once, the alert record equal to the pure engine
 * replaying every partition's log in this process, one open alert per rule and point, one owner
 * per partition and epoch.
 */
export interface RoleProcess {
  name: string;
  child: ChildProcess;
  http: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  freeze(): void;
  thaw(): void;
}

export async function startRole(name: string, role: 'edge' | 'worker' | 'api', env: Record<string, string>, logFile?: string): Promise<RoleProcess> {
  const child = spawn(process.execPath, ['--enable-source-maps', 'dist/main.mjs'], {
    env: { ...process.env, ROLE: role, NODE_ID: name, HOST: '127.0.0.1', SIMULATORS: 'off', LOG_LEVEL: logFile ? 'info' : 'silent', ...env },
    stdio: ['ignore', logFile ? 'pipe' : 'ignore', 'pipe'],
  });
  if (logFile) child.stdout!.pipe(createWriteStream(logFile, { flags: 'a' }));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-3000)));
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const http = Number(env.HTTP_PORT);
  await waitFor(async () => exited === undefined && (await fetch(`http://127.0.0.1:${http}/api/health`)).ok, 60_000, `${name} up`).catch((e: Error) => {
    throw new Error(`${e.message}${exited !== undefined ? ` (exit ${exited})` : ''}\n${stderr}`);
  });
  return {
    name,
    child,
    http,
    kill: (signal = 'SIGKILL') => new Promise<void>((r) => (exited !== undefined ? r() : (child.once('exit', () => r()), child.kill(signal)))),
    freeze: () => void child.kill('SIGSTOP'),
    thaw: () => void child.kill('SIGCONT'),
  };
}

/** Devices publishing readings with seq at QoS 1, each to whichever edge takes it. */
export class Fleet {
  readonly acked = new Map<string, Map<number, number>>();
  private readonly clients: MqttClient[] = [];
  private running = false;
  private timer?: NodeJS.Timeout;
  private seq = new Map<string, number>();

  constructor(
    private readonly devices: { enterpriseId: string; deviceId: string; secret: string }[],
    private readonly edges: number[],
    private readonly value: (seq: number) => number,
  ) {}

  async connect() {
    for (const [i, d] of this.devices.entries()) {
      // each device prefers an edge of its own and fails over to the others (mqtt.js `servers`)
      const servers = [...this.edges.slice(i % this.edges.length), ...this.edges.slice(0, i % this.edges.length)].map((port) => ({ host: '127.0.0.1', port }));
      const c = await mqtt.connectAsync({ servers, username: d.deviceId, password: d.secret, clientId: `fleet-${d.deviceId}`, clean: false, reconnectPeriod: 200, connectTimeout: 3000, keepalive: 5 });
      this.clients.push(c);
      this.acked.set(d.deviceId, new Map());
      this.seq.set(d.deviceId, 0);
    }
  }

  /** Every device sends a reading every `everyMs`, at most `window` not yet acknowledged each. */
  start(everyMs = 200, window = 10) {
    this.running = true;
    const inFlight = new Map<string, number>();
    this.timer = setInterval(() => {
      if (!this.running) return;
      for (const [i, d] of this.devices.entries()) {
        const c = this.clients[i];
        if ((inFlight.get(d.deviceId) ?? 0) >= window) continue;
        const s = this.seq.get(d.deviceId)! + 1;
        this.seq.set(d.deviceId, s);
        const ts = Date.now();
        inFlight.set(d.deviceId, (inFlight.get(d.deviceId) ?? 0) + 1);
        c.publish(`v1/${d.enterpriseId}/${d.deviceId}/telemetry`, JSON.stringify({ ts, seq: s, values: { gas_lel: this.value(s) } }), { qos: 1 }, (err) => {
          inFlight.set(d.deviceId, inFlight.get(d.deviceId)! - 1);
          if (!err) this.acked.get(d.deviceId)!.set(s, ts);
        });
      }
    }, everyMs);
  }

  /** No more new readings; resolves when every one sent is acknowledged. */
  async pause() {
    this.running = false;
    clearInterval(this.timer);
    await waitFor(() => this.clients.every((c) => c.connected && Object.keys((c as unknown as { outgoing: object }).outgoing).length === 0), 60_000, 'every reading sent acknowledged');
  }

  total() {
    return [...this.acked.values()].reduce((n, m) => n + m.size, 0);
  }

  async end() {
    this.running = false;
    clearInterval(this.timer);
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
  }
}

const RULE_DRIVEN = new Set(['raised', 'severity_changed', 'cleared', 'reactivated', 'flapping']);

/**
 * The checks after a fault, once every acknowledged reading is in and every partition's owner has
 * applied its log as far as it was when the fleet paused.
 */
export async function verifyCluster(o: { pgUrl: string; natsUrls: string[]; influxUrl: string; partitions: number; fleet: Fleet; timeoutMs?: number }) {
  const sql = PgSql.connect(o.pgUrl, { max: 2 });
  const log = await ClusterLog.connect(o.natsUrls, 'verify', { info() {}, warn() {}, error() {} });
  const influx = await InfluxTelemetryStore.create({ url: o.influxUrl, database: 'risk_monitor', placement: () => ({ region: '', industry: '' }) });
  try {
    // every owner caught up with its log as it is now
    const ends = await Promise.all(Array.from({ length: o.partitions }, (_, p) => log.bounds(p)));
    await waitFor(
      async () => {
        const rows = await sql.all<{ id: number; progress: number }>('SELECT id, progress FROM partitions');
        return rows.every((r) => Number(r.progress) >= ends[r.id].last);
      },
      o.timeoutMs ?? 60_000,
      'every partition applied its log',
    );

    // 1. every acknowledged reading stored, once
    const missing: string[] = [];
    const twice: string[] = [];
    for (const [deviceId, acked] of o.fleet.acked) {
      const points = (await influx.query({ deviceId, metric: 'gas_lel', from: 0, to: Date.now() + 3_600_000, limit: 1_000_000 })) as { seq?: number }[];
      const seen = new Map<number, number>();
      for (const p of points) seen.set(p.seq!, (seen.get(p.seq!) ?? 0) + 1);
      for (const s of acked.keys()) if (!seen.has(s)) missing.push(`${deviceId}#${s}`);
      for (const [s, n] of seen) if (n > 1) twice.push(`${deviceId}#${s}`);
    }

    // 2. one open alert per rule and point
    const doubleOpen = await sql.all<{ key: string; n: number }>(`SELECT key, count(*) AS n FROM alerts WHERE state <> 'closed' GROUP BY key HAVING count(*) > 1`);

    // 3. one owner per partition and epoch, epochs counted up from 1
    const owners = await sql.all<{ partition: number; epoch: number; n: number }>('SELECT partition, epoch, count(*) AS n FROM partition_owners GROUP BY partition, epoch HAVING count(*) > 1');

    // 4. the record's rule-driven transitions equal the pure engine replaying each log to its progress
    const snapshot = await recordAsCommitted(o.pgUrl);
    const versions = await RegistryVersions.open(sql);
    const first = (await versions.first())!;
    const differences: string[] = [];
    for (let p = 0; p < o.partitions; p++) {
      const until = snapshot.progress.get(p) ?? 0;
      const engine = new PartitionEngine(p, o.partitions, (h) => versions.get(h), first, (part, err) => {
        throw new Error(`${part}: ${err.message}`);
      });
      const open = new Map<string, Alert>();
      const expected = new Map<string, string[]>();
      const reader = log.reader(p, 1);
      for (let last = 0; last < until; ) {
        for (const m of await reader.read(1000, 1000)) {
          if (m.seq > until) break;
          last = m.seq;
          const a = await engine.apply(m);
          for (const outcome of a.outcomes) {
            const step = applyOutcome(open.get(outcome.key), outcome, { newId: () => outcome.key, region: '', industry: '' });
            if (!step) continue;
            if (step.alert.state === 'closed') open.delete(outcome.key);
            else open.set(outcome.key, step.alert);
            for (const t of step.transitions) expected.set(outcome.key, [...(expected.get(outcome.key) ?? []), `${t.type}@${t.at}${t.severity ? `:${t.severity}` : ''}`]);
          }
        }
      }
      reader.stop();
      const actual = snapshot.transitions.get(p) ?? new Map<string, string[]>();
      for (const key of new Set([...expected.keys(), ...actual.keys()])) {
        const e = (expected.get(key) ?? []).join(' ');
        const got = (actual.get(key) ?? []).join(' ');
        if (e !== got) differences.push(`${key}: expected [${e.slice(0, 300)}] got [${got.slice(0, 300)}]`);
      }
    }
    return { missing, twice, doubleOpen, owners, differences, readings: o.fleet.total(), transitions: [...snapshot.transitions.values()].reduce((n, m) => n + [...m.values()].reduce((k, l) => k + l.length, 0), 0) };
  } finally {
    await influx.close();
    await log.close();
    await sql.close();
  }
}

/** Progress and rule-driven transitions read in one snapshot of the database, per partition and key. */
async function recordAsCommitted(url: string) {
  const c = new pg.Client(url);
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const progress = new Map((await c.query<{ id: number; progress: string }>('SELECT id, progress FROM partitions')).rows.map((r) => [r.id, Number(r.progress)]));
    const rows = (
      await c.query<{ key: string; enterprise: string; doc: string }>(
        'SELECT a.key, a.enterprise, t.doc FROM transitions t JOIN alerts a ON a.id = t.alert_id ORDER BY t.n',
      )
    ).rows;
    await c.query('COMMIT');
    const { partitionOf } = await import('../../services/cluster/subjects.ts');
    const transitions = new Map<number, Map<string, string[]>>();
    const parts = progress.size;
    for (const r of rows) {
      const t = JSON.parse(r.doc) as { type: string; at: number; severity?: string };
      if (!RULE_DRIVEN.has(t.type)) continue;
      const p = partitionOf(r.enterprise, parts);
      const byKey = transitions.get(p) ?? new Map<string, string[]>();
      byKey.set(r.key, [...(byKey.get(r.key) ?? []), `${t.type}@${t.at}${t.severity ? `:${t.severity}` : ''}`]);
      transitions.set(p, byKey);
    }
    return { progress, transitions };
  } finally {
    await c.end();
  }
}
