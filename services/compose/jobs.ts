import type { Logger } from 'pino';
import type { AlertBook } from '../alerts/alert-book.ts';
import type { RoutingPolicy } from '../alerts/routing.ts';
import { sweep as sweepAlerts } from '../alerts/sweep.ts';
import type { DeviceStatuses } from '../devices/device-status.ts';
import type { Forwarder } from '../forward/forwarder.ts';
import type { Hazards } from '../hazards/hazards.ts';
import type { Channels } from '../notify/channels/channel.ts';
import type { Dispatcher } from '../notify/dispatcher.ts';
import type { Outbox } from '../notify/outbox.ts';
import type { ToldUnits } from '../notify/told.ts';
import type { Stores } from '../open-stores.ts';
import type { PipelineTelemetry } from '../pipeline/client.ts';
import type { Registry } from '../registry/registry.ts';
import type { Settings } from '../settings.ts';
import { startSchedule } from '../scheduler.ts';
import { auditTruncated } from '../alerts/system-alerts.ts';
import type { Outcome } from '../../domain/types.ts';
import { composeReports } from './reports.ts';

/**
 * What the scheduler runs (services/scheduler.ts) and the reports the API also serves: the
 * escalation and silence sweep, hazard deadlines, retention, the audit head to the platforms,
 * daily summaries and monthly reports, each over the registry in force.
 */
export function composeJobs(d: {
  settings: Settings;
  registry: () => Registry;
  policy: (enterpriseId: string) => RoutingPolicy;
  stores: Stores;
  telemetry: PipelineTelemetry;
  devices: DeviceStatuses;
  book: AlertBook;
  hazards: Hazards;
  told: ToldUnits;
  dispatcher: Dispatcher;
  outbox: Outbox;
  channels: Channels;
  forwarder: Forwarder;
  publicUrl: string;
  clock: () => number;
  log: Logger;
}) {
  const { settings, registry, stores, telemetry, clock, log } = d;
  const silences = { silences: stores.silences, clock, announceSilence: (s: Parameters<Dispatcher['announceSilence']>[0], phase: 'started' | 'ended') => d.dispatcher.announceSilence(s, phase) };
  const reports = composeReports({ registry, alerts: stores.alerts, hazards: stores.hazards, telemetry, status: (ids) => d.devices.many(ids), send: { channels: d.channels, outbox: d.outbox, publicUrl: d.publicUrl }, clock });
  /** the audit head sent last, so that only a moved head goes out */
  let headSent = -1;
  return {
    silences,
    summary: reports.summary,
    coverage: reports.coverage,
    /** escalation, reminders, silences that start or end, overdue rectification items */
    async sweep() {
      await sweepAlerts({ ...silences, book: d.book, policy: d.policy, anyoneTold: (id) => d.told.anyone(id) });
      await d.hazards.sweep();
    },
    /** readings and delivered notifications past their retention leave the stores */
    async retention() {
      const day = 86_400_000;
      const readings = await telemetry.prune(clock() - settings.RETENTION_DAYS * day);
      const notifications = await stores.outbox.prune(clock() - settings.OUTBOX_RETENTION_DAYS * day);
      await stores.ackLinks.prune(clock() - settings.OUTBOX_RETENTION_DAYS * day);
      log.info({ readings, notifications }, 'retention: old rows deleted');
      return { readings, notifications };
    },
    /** the audit trail's head to the platforms, when it moved: a copy outside this service */
    async publishAuditHead() {
      const head = await stores.audit.head();
      if (head.n === headSent) return;
      await d.forwarder.auditHead({ ...head, at: clock() });
      headSent = head.n;
    },
    monthlyReports: async () => void (await reports.monthlyReports()),
    dailySummaries: async () => void (await reports.dailySummaries()),
    /** At start: the audit trail still holds the head published before it, or a system alert says entries were removed. */
    async checkAuditKept(raise: (o: Outcome) => void) {
      if (await stores.audit.keptPublishedHead()) return;
      const head = await stores.audit.head();
      log.error({ head }, 'the audit trail no longer holds the head published before this start: entries were removed');
      raise(auditTruncated(head, clock()));
    },
    /** These jobs on the clock (services/scheduler.ts), with `tick` every `tickMs`; `cron` off in tests. */
    schedule(tick: () => void, o: { tickMs: number; cron: boolean }) {
      return startSchedule(
        { tick, sweep: this.sweep, dailySummaries: this.dailySummaries, retention: async () => void (await this.retention()), auditHead: this.publishAuditHead, monthlyReports: this.monthlyReports, onError: (job, err) => log.error({ err, job }, 'scheduled job failed') },
        o,
      );
    },
  };
}
