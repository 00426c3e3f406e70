import type { PhotoStore } from '../photos/photo-store.ts';
import type { Hazards } from '../hazards/hazards.ts';
import type { HazardStore } from '../hazards/hazard-store.ts';
import type { CoverageRow } from '../enterprises/coverage.ts';
import type { EnterpriseStatuses } from '../enterprises/status.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import type { DeviceStatuses } from '../devices/device-status.ts';
import type { Metrics } from '../metrics.ts';
import type { LiveStream } from '../notify/live-stream.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { Baseline } from '../rules/baselines.ts';
import type { Silences } from '../alerts/silences.ts';
import type { OutboxItem } from '../notify/outbox-store.ts';
import type { SummaryRow } from '../alerts/reports.ts';
import type { Caller } from './callers.ts';
import type { Forwarder } from '../forward/forwarder.ts';
import type { AckLinks } from '../notify/ack-links.ts';

/** What the HTTP API reads and acts on; the composition root provides it. */
export interface ApiContext {
  registry(): Registry;
  caller(tokenDigest: string): Caller | undefined;
  /** a person's steps on alerts, and the open ones (a cluster's API node: through the partitions' owners) */
  book: Pick<AlertBook, 'ack' | 'close' | 'feedback' | 'review' | 'settled' | 'openAlerts' | 'current' | 'unrecordedOf' | 'unrecordedAlert'>;
  alerts: AlertStore;
  telemetry: TelemetryStore;
  live: LiveStream;
  status: Pick<DeviceStatuses, 'many' | 'get' | 'onlineCount'>;
  metrics: Metrics;
  health(): { status: 'ok' | 'degraded'; broker: object; store: object; alerts: object; notifications: object; audit: object; eventLoop: object; uptimeS: number };
  registerDevice(enterpriseId: string, body: unknown, by: string): Promise<object>;
  clock(): number;
  baselines: { history(deviceId: string): Promise<Baseline[]>; set(b: Baseline): Promise<void> };
  silences: Silences;
  audit: Pick<AuditLog, 'verify' | 'head'> & {
    append(actor: string, action: string, subject: string, detail: unknown): void;
  };
  /** announce silences that started or ended (right after one is created or ended) */
  announceSilences(): Promise<void>;
  notificationsOf(alertId: string): Promise<OutboxItem[]>;
  statuses: Pick<EnterpriseStatuses, 'of' | 'set' | 'history'>;
  hazards: Pick<Hazards, 'open' | 'get' | 'rectify' | 'signOff'>;
  hazardStore: Pick<HazardStore, 'list' | 'get'>;
  photos: Pick<PhotoStore, 'add' | 'get' | 'read'>;
  /** per alert, the units told of it (the notification log) */
  toldOf(alertIds: string[]): Promise<Map<string, string[]>>;
  uplinks: Pick<Forwarder, 'status' | 'get'>;
  ackLinks: Pick<AckLinks, 'look' | 'use'>;
  outboxCounts(): Promise<Record<'pending' | 'delivered' | 'expired', number>>;
  summary(q: { from: number; to: number; enterpriseIds: string[] }): Promise<SummaryRow[]>;
  coverage(q: { from: number; to: number; enterpriseIds: string[] }): Promise<CoverageRow[]>;
}
