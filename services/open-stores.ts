import { join } from 'node:path';
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
import type { PipelineSettings } from './pipeline/protocol.ts';

/**
 * The stores of the service's own state, opened in order and closed together: alerts and their
 * record, outbox, silences, baselines, audit trail, in `gateway.duckdb`, a connection per job so
 * that none queues behind another under load. The readings' store belongs to the reading
 * pipeline (store/open-telemetry.ts), which opens it on its own thread.
 */
/** What the reading pipeline is told of the time-series store from the settings. */
export function telemetrySettings(settings: Settings): PipelineSettings {
  return {
    dataDir: settings.DATA_DIR,
    storeMemoryMb: settings.STORE_MEMORY_MB,
    seqWindow: 4096,
    ...(settings.INFLUX_URL
      ? {
          influx: {
            url: settings.INFLUX_URL,
            database: settings.INFLUX_DB,
            username: settings.INFLUX_USER,
            password: settings.INFLUX_PASSWORD,
            v2: settings.INFLUX_TOKEN ? { token: settings.INFLUX_TOKEN, org: settings.INFLUX_ORG ?? '', bucket: settings.INFLUX_BUCKET ?? settings.INFLUX_DB } : undefined,
            maxBufferBytes: settings.INFLUX_BUFFER_MB * 1024 * 1024,
          },
        }
      : {}),
  };
}

export async function openStores(settings: Settings) {
  // readings of an older data folder move to their own file before gateway.duckdb is opened here
  // (the pipeline opens telemetry.duckdb on its thread and touches no other file)
  if (!settings.INFLUX_URL) await Database.moveLegacyReadings(settings.DATA_DIR, settings.STORE_MEMORY_MB);
  const db = await Database.open(settings.DATA_DIR, 'gateway.duckdb', Math.max(64, Math.round(settings.STORE_MEMORY_MB / 4)));
  // the alert record, the outbox, the audit chain each on a connection of their own; and the
  // alarm's path out (an express notice, its acknowledge link) on one that no bulk work queues on
  const [alertConn, outboxConn, auditConn, urgentConn] = [await db.sql(), await db.sql(), await db.sql(), await db.sql()];
  const audit = await AuditLog.create(auditConn, join(settings.DATA_DIR, 'audit-head.json'));
  return {
    alerts: await AlertStore.create(alertConn),
    baselines: await BaselineStore.create(alertConn),
    outbox: await OutboxStore.create(outboxConn, urgentConn),
    ackLinks: await AckLinkStore.create(urgentConn),
    silences: await Silences.create(alertConn),
    statuses: await EnterpriseStatuses.create(alertConn),
    hazards: await HazardStore.create(alertConn),
    photos: await PhotoStore.create(alertConn, join(settings.DATA_DIR, 'photos')),
    audit,
    /** after everything that writes has stopped */
    async close() {
      audit.close();
      await Promise.all([alertConn, outboxConn, auditConn, urgentConn].map((c) => c.close()));
      db.close();
    },
  };
}

export type Stores = Awaited<ReturnType<typeof openStores>>;
