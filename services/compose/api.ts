import type { Logger } from 'pino';
import type { Caller } from '../api/callers.ts';
import type { ApiContext } from '../api/context.ts';
import { buildApi } from '../api/server.ts';
import { ServiceHealth } from '../health.ts';
import type { composeGateway } from './edge.ts';
import type { DeviceStatuses } from '../devices/device-status.ts';
import { registerDevice } from '../devices/registration.ts';
import type { Hazards } from '../hazards/hazards.ts';
import type { Metrics } from '../metrics.ts';
import type { AckLinks } from '../notify/ack-links.ts';
import type { LiveStream } from '../notify/live-stream.ts';
import type { ToldUnits } from '../notify/told.ts';
import type { Stores } from '../open-stores.ts';
import type { RegistryHolder } from '../registry/registry-holder.ts';
import type { Settings } from '../settings.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { composeReports } from './reports.ts';

/** The HTTP API (REST, SSE, the dashboards) over the service's parts. */
export function composeApi(d: {
  settings: Settings;
  registry: RegistryHolder;
  caller: (digest: string) => Caller | undefined;
  stores: Omit<Stores, 'close'>;
  book: ApiContext['book'];
  telemetry: TelemetryStore;
  /** a baseline set: the rules take it (the pipeline, or the enterprise's partition) */
  useBaseline(b: { enterpriseId: string; deviceId: string; metric: string; value: number }): void;
  devices: Pick<DeviceStatuses, 'many' | 'get' | 'onlineCount'>;
  live: LiveStream;
  ackLinks: AckLinks;
  told: ToldUnits;
  hazards: Hazards;
  uplinks: ApiContext['uplinks'];
  reports: Pick<ReturnType<typeof composeReports>, 'summary' | 'coverage'>;
  announceSilences(): Promise<void>;
  /** a device was registered here (a cluster's API node puts the new registry in the log and tells the other nodes) */
  registered?: () => Promise<void>;
  health: () => ReturnType<Parameters<typeof buildApi>[0]['health']>;
  ports: () => { mqtt?: number; ws?: number; mqtts?: number };
  audited: (actor: string, action: string, subject: string, detail: unknown) => void;
  metrics: Metrics;
  clock: () => number;
  log: Logger;
}) {
  const { settings, stores, audited, clock, log } = d;
  const registration = {
    registry: d.registry,
    clock,
    publicUrl: settings.PUBLIC_URL,
    ports: d.ports,
    onRegistered: async (ent: string, id: string, who: string) => {
      audited(who, 'device.registered', id, { enterpriseId: ent });
      log.info({ enterpriseId: ent, deviceId: id, by: who }, 'device registered');
      await d.registered?.();
    },
    openAlertsOf: (deviceId: string) => d.book.openAlerts().flatMap((a) => (a.deviceId === deviceId ? [a.enterpriseId] : [])),
  };
  return buildApi(
    {
      registry: () => d.registry.current(),
      caller: d.caller,
      book: d.book,
      alerts: stores.alerts,
      telemetry: d.telemetry,
      live: d.live,
      status: d.devices,
      metrics: d.metrics,
      clock,
      ackLinks: d.ackLinks,
      hazards: d.hazards,
      silences: stores.silences,
      statuses: stores.statuses,
      hazardStore: stores.hazards,
      photos: stores.photos,
      uplinks: d.uplinks,
      summary: d.reports.summary,
      coverage: d.reports.coverage,
      health: d.health,
      registerDevice: (enterpriseId, body, by) => registerDevice(registration, enterpriseId, body, by),
      audit: { append: audited, verify: (head) => stores.audit.verify(head), head: () => stores.audit.head() },
      announceSilences: d.announceSilences,
      notificationsOf: (alertId) => stores.outbox.forAlert(alertId),
      toldOf: (alertIds) => d.told.ofMany(alertIds),
      outboxCounts: () => stores.outbox.counts(),
      baselines: {
        history: (deviceId) => stores.baselines.history(deviceId),
        set: async (b) => {
          await stores.baselines.add(b);
          audited(b.by, 'baseline.set', b.deviceId, { metric: b.metric, value: b.value, note: b.note });
          d.useBaseline(b);
        },
      },
    },
    log,
    settings.API_RATE_LIMIT,
    settings.API_LOGIN_FAILURES,
  );
}

/** `GET /api/health` of a single process: every part of the alarm path, from the readings' store to the audit trail. */
export function serviceHealth(d: { telemetry: Pick<TelemetryStore, 'kind' | 'health'>; gateway: Pick<Awaited<ReturnType<typeof composeGateway>>, 'broker' | 'ports'>; book: { health(): { ok: boolean; error?: string; waiting: number } }; stores: Pick<Stores, 'outbox' | 'audit'>; clock: () => number; started: number }) {
  return new ServiceHealth({
    store: () => ({ kind: d.telemetry.kind, ...d.telemetry.health() }),
    broker: () => ({ closed: d.gateway.broker.closed, clients: d.gateway.broker.connectedClients, ports: d.gateway.ports }),
    alerts: () => d.book.health(),
    notifications: () => d.stores.outbox.health(),
    audit: () => (d.stores.audit.problem === null ? { ok: true } : { ok: false, error: d.stores.audit.problem }),
    clock: d.clock,
    started: d.started,
  });
}
