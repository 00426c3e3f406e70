import { summarize } from '../alerts/reports.ts';
import type { AlertStore } from '../alerts/alert-store.ts';
import type { DeviceStatusNow } from '../devices/device-status.ts';
import { coverage as coverageOf } from '../enterprises/coverage.ts';
import type { HazardStore } from '../hazards/hazard-store.ts';
import type { Channels } from '../notify/channels/channel.ts';
import { sendDailySummaries } from '../notify/daily-summary.ts';
import { sendMonthlyReports } from '../notify/monthly-report.ts';
import type { Outbox } from '../notify/outbox.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';

type Period = { from: number; to: number; enterpriseIds: string[] };

/**
 * The reports: per enterprise summaries and coverage (the API serves them), the daily summary and
 * the monthly report to each regulator unit (the scheduler sends them), each over the registry in
 * force. A single process, a cluster's worker and its API nodes compose them alike.
 */
export function composeReports(d: {
  registry: () => Registry;
  alerts: AlertStore;
  hazards: Pick<HazardStore, 'list'>;
  telemetry: TelemetryStore;
  status: (deviceIds: string[]) => Promise<Map<string, DeviceStatusNow>>;
  /** for the scheduled reports; an API node sends none */
  send?: { channels: Pick<Channels, 'writtenIdsOf'>; outbox: Pick<Outbox, 'enqueue'>; publicUrl: string };
  clock: () => number;
}) {
  const { registry, clock } = d;
  const openHazards = (id: string) => d.hazards.list({ enterpriseIds: [id], state: 'open', now: clock(), limit: 10_000 });
  const summary = (q: Period) => summarize({ registry: registry(), alerts: d.alerts, telemetry: d.telemetry, openHazards }, q);
  const coverage = (q: Period) => coverageOf({ registry: registry(), telemetry: d.telemetry, status: d.status }, q);
  const send = d.send;
  const channelsOf = (unit: Parameters<Channels['writtenIdsOf']>[0]) => send!.channels.writtenIdsOf(unit);
  const enqueue = (n: Parameters<Outbox['enqueue']>[0]) => send!.outbox.enqueue(n);
  return {
    summary,
    coverage,
    monthlyReports: async () =>
      send && sendMonthlyReports({ registry, clock, publicUrl: send.publicUrl, channelsOf, enqueue, summary, coverage, alertsBetween: (id, from, to) => d.alerts.between(id, from, to) }),
    dailySummaries: async () => send && sendDailySummaries({ registry, alerts: d.alerts, telemetry: d.telemetry, openHazards, clock, channelsOf, enqueue }),
  };
}
