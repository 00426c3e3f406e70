import { join } from 'node:path';
import type { Logger } from 'pino';
import { AlertStore } from './alerts/alert-store.ts';
import { Silences } from './alerts/silences.ts';
import { AuditLog } from './audit/audit-log.ts';
import { OutboxStore } from './notify/outbox-store.ts';
import { AckLinkStore } from './notify/ack-link-store.ts';
import { BaselineStore } from './rules/baselines.ts';
import { EnterpriseStatuses } from './enterprises/status.ts';
import { HazardStore } from './hazards/hazard-store.ts';
import { PhotoStore } from './photos/photo-store.ts';
import type { Settings } from './settings.ts';
import { Database } from './store/database.ts';
import { DuckDbTelemetryStore } from './store/duckdb-telemetry.ts';
import { InfluxTelemetryStore } from './store/influx-telemetry.ts';
import type { TelemetryStore } from './store/telemetry-store.ts';

/**
 * Every store the service keeps, opened in order and closed together. Readings go to InfluxDB
 * when INFLUX_URL is set (deployments) and to the embedded `telemetry.duckdb` otherwise; the
 * service's own state (alerts and their record, outbox, silences, baselines, audit trail) is in
 * `gateway.duckdb`, a connection per job so that none queues behind another under load.
 */
export interface StoreHooks {
  /** the region and industry of an enterprise, for InfluxDB tags */
  placement(enterpriseId: string): { region: string; industry: string };
  /** InfluxDB is unreachable and its disk buffer is full: readings are being refused */
  onBufferFull(depth: { batches: number; bytes: number }): void;
}

export type Telemetry = TelemetryStore & { annotate?: InfluxTelemetryStore['annotate'] };

export async function openStores(settings: Settings, log: Logger, hooks: StoreHooks) {
  // readings first: an older data folder's readings move to their own file before the rest opens
  const tsdb = settings.INFLUX_URL ? undefined : await Database.openTelemetry(settings.DATA_DIR);
  const db = await Database.open(settings.DATA_DIR);
  const [alertConn, outboxConn, auditConn] = [await db.connect(), await db.connect(), await db.connect()];
  const telemetryConns = tsdb ? [await tsdb.connect(), await tsdb.connect()] : [];
  const telemetry: Telemetry = settings.INFLUX_URL
    ? await InfluxTelemetryStore.create({
        url: settings.INFLUX_URL,
        database: settings.INFLUX_DB,
        username: settings.INFLUX_USER,
        password: settings.INFLUX_PASSWORD,
        v2: settings.INFLUX_TOKEN ? { token: settings.INFLUX_TOKEN, org: settings.INFLUX_ORG ?? '', bucket: settings.INFLUX_BUCKET ?? settings.INFLUX_DB } : undefined,
        bufferDir: join(settings.DATA_DIR, 'influx-buffer'),
        maxBufferBytes: settings.INFLUX_BUFFER_MB * 1024 * 1024,
        placement: hooks.placement,
        onBufferFull: hooks.onBufferFull,
        log: log.child({ part: 'influx' }),
      })
    : await DuckDbTelemetryStore.create(telemetryConns[0], telemetryConns[1]);
  return {
    telemetry,
    alerts: await AlertStore.create(alertConn),
    baselines: await BaselineStore.create(alertConn),
    outbox: await OutboxStore.create(outboxConn),
    ackLinks: await AckLinkStore.create(outboxConn),
    silences: await Silences.create(alertConn),
    statuses: await EnterpriseStatuses.create(alertConn),
    hazards: await HazardStore.create(alertConn),
    photos: await PhotoStore.create(alertConn, join(settings.DATA_DIR, 'photos')),
    audit: await AuditLog.create(auditConn, join(settings.DATA_DIR, 'audit-head.json')),
    /** after everything that writes has stopped */
    async close() {
      await telemetry.close();
      await Promise.all([...telemetryConns, alertConn, outboxConn, auditConn].map((c) => c.close()));
      db.close();
      tsdb?.close();
    },
  };
}
