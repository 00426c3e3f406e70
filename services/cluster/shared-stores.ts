import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Settings } from '../settings.ts';
import { InfluxTelemetryStore } from '../store/influx-telemetry.ts';
import { AlertStore } from '../alerts/alert-store.ts';
import { Silences } from '../alerts/silences.ts';
import { AuditLog, lastEntry } from '../audit/audit-log.ts';
import { EnterpriseStatuses } from '../enterprises/status.ts';
import { HazardStore } from '../hazards/hazard-store.ts';
import { AckLinkStore } from '../notify/ack-link-store.ts';
import { OutboxStore } from '../notify/outbox-store.ts';
import { PhotoStore } from '../photos/photo-store.ts';
import { RegisteredDevicesTable } from '../registry/registered-devices.ts';
import { BaselineStore } from '../rules/baselines.ts';
import type { Stores } from '../open-stores.ts';
import type { PgSql } from '../store/postgres-sql.ts';
import { DeviceStatusTable } from './device-status-table.ts';
import { PartitionTable } from './partition-table.ts';
import { RegistryVersions } from './registry-versions.ts';

/**
 * The stores of a cluster's shared state, over one PostgreSQL pool: the same stores a single
 * process keeps in DuckDB (store/sql.ts speaks both), with what sharing needs: the audit trail's
 * writers take turns (a transaction lock, the head read inside it), photos live in the database,
 * and the cluster's own tables (partitions, registry versions, device statuses, registered
 * devices).
 */
export async function openSharedStores(sql: PgSql, partitions: number) {
  // processes starting together make the tables one after another (PostgreSQL's CREATE TABLE IF
  // NOT EXISTS is not safe against itself)
  const lock = await sql.pool.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(7, 1)');
    return await open(sql, partitions);
  } finally {
    await lock.query('SELECT pg_advisory_unlock(7, 1)').catch(() => {});
    lock.release();
  }
}

/**
 * The shared audit trail alone, for an edge: its MQTT logins go in it, and at start it reads back
 * who logged in from where (gateway/login-guard.ts trusts them at their address).
 */
export async function openSharedAudit(sql: PgSql): Promise<AuditLog> {
  const lock = await sql.pool.connect();
  try {
    await lock.query('SELECT pg_advisory_lock(7, 1)');
    return await sharedAudit(sql);
  } finally {
    await lock.query('SELECT pg_advisory_unlock(7, 1)').catch(() => {});
    lock.release();
  }
}

/** Several writers take turns on one trail: a transaction lock, the head read inside it. */
async function sharedAudit(sql: PgSql): Promise<AuditLog> {
  const audit = await AuditLog.create(sql, null);
  audit.chain = async (t) => {
    await t.run('SELECT pg_advisory_xact_lock(7, 2)');
    return lastEntry(t);
  };
  return audit;
}

async function open(sql: PgSql, partitions: number) {
  const audit = await sharedAudit(sql);
  const stores: Stores = {
    alerts: await AlertStore.create(sql),
    baselines: await BaselineStore.create(sql),
    outbox: await OutboxStore.create(sql),
    ackLinks: await AckLinkStore.create(sql),
    silences: await Silences.create(sql),
    statuses: await EnterpriseStatuses.create(sql),
    hazards: await HazardStore.create(sql),
    photos: await PhotoStore.create(sql, null),
    audit,
    close: async () => {
      audit.close();
      await sql.close();
    },
  };
  return {
    ...stores,
    partitions: await PartitionTable.open(sql, partitions),
    versions: await RegistryVersions.open(sql),
    deviceStatus: await DeviceStatusTable.open(sql),
    registered: await RegisteredDevicesTable.open(sql),
  };
}

/**
 * The key signing acknowledge links, one for the whole cluster (workers issue links, any API node
 * takes them): ACK_LINK_SECRET, or one made by the first node and kept in the database.
 */
export async function clusterAckSecret(sql: PgSql, configured: string | undefined): Promise<Buffer> {
  if (configured) return Buffer.from(configured, 'utf8');
  await sql.run(`INSERT INTO cluster_meta VALUES ('ack-link-key', $k) ON CONFLICT DO NOTHING`, { k: randomBytes(32).toString('base64') });
  const [row] = await sql.all<{ value: string }>(`SELECT value FROM cluster_meta WHERE key = 'ack-link-key'`);
  return Buffer.from(row.value, 'base64');
}

/** Readings in a cluster: InfluxDB, written through (the log keeps what is not written yet). */
export function clusterTelemetry(settings: Settings, placement: (enterpriseId: string) => { region: string; industry: string }, log: Logger) {
  return InfluxTelemetryStore.create({
    url: settings.INFLUX_URL!,
    database: settings.INFLUX_DB,
    username: settings.INFLUX_USER,
    password: settings.INFLUX_PASSWORD,
    v2: settings.INFLUX_TOKEN ? { token: settings.INFLUX_TOKEN, org: settings.INFLUX_ORG ?? '', bucket: settings.INFLUX_BUCKET ?? settings.INFLUX_DB } : undefined,
    placement,
    log: log.child({ part: 'influx' }),
  });
}

/** NATS_URL's servers. */
export const natsServers = (settings: Settings) => settings.NATS_URL!.split(',').map((u) => u.trim());

export type SharedStores = Awaited<ReturnType<typeof open>>;
