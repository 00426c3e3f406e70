import { hostname } from 'node:os';
import pino from 'pino';
import type { Outcome } from '../../domain/types.ts';
import type { AlertBook } from '../alerts/alert-book.ts';
import { keyParts } from '../../rules/keys.ts';
import { auditEntryOf, logLineOf } from '../alerts/change-notes.ts';
import { maintenanceWindows } from '../alerts/maintenance-windows.ts';
import { enterprisePolicy, placementOf } from '../alerts/placement.ts';
import { silencesDue } from '../alerts/sweep.ts';
import type { AppOptions } from '../app-options.ts';
import { composeNotifications } from '../compose/notifications.ts';
import { composeReports } from '../compose/reports.ts';
import { auditedBy } from '../audit/audit-log.ts';
import { faultReporter } from '../faults.ts';
import { Hazards } from '../hazards/hazards.ts';
import { createMetrics } from '../metrics.ts';
import { composeOutbound } from '../compose/outbound.ts';
import type { OutboxItem } from '../notify/outbox-store.ts';
import { RegistryHolder } from '../registry/registry-holder.ts';
import { startSchedule } from '../scheduler.ts';
import type { Settings } from '../settings.ts';
import { PgSql } from '../store/postgres-sql.ts';
import { encodeCommand, type Command } from './commands.ts';
import { Leases } from './leases.ts';
import { ClusterLog } from './log.ts';
import { nodeHttp } from './node-http.ts';
import { PartitionRun } from './partition.ts';
import type { Takeover } from './partition-table.ts';
import { clusterAckSecret, clusterTelemetry, natsServers, openSharedStores } from './shared-stores.ts';
import { changed, inbound, liveAlerts, partitionOf, reply, TO_DEVICES, type EdgeMessage } from './subjects.ts';

/**
 * The composition root of a worker (ROLE=worker): it holds leases on a fair share of the
 * partitions and runs each one (partition.ts); it sends the notifications of the partitions it
 * owns; the owner of partition 0 also runs the cluster's scheduled jobs (silence announcements,
 * rectification deadlines, daily and monthly reports). Workers share nothing but PostgreSQL and
 * the log, and any of them may die at any time: its partitions go to the others after its lease.
 */
export interface WorkerOptions {
  clock?: () => number;
  logger?: AppOptions['logger'];
  /** how often the worker marks time in each of its partitions' logs (their rules' clock) */
  tickMs?: number;
  /** how often it looks at the other workers and its share */
  balanceMs?: number;
  snapshotEveryMs?: number;
  outbox?: AppOptions['outbox'];
  /** run the cluster's scheduled jobs when owning partition 0 (tests drive them) */
  schedule?: boolean;
}

export async function startWorker(settings: Settings, opts: WorkerOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? pino({ level: settings.LOG_LEVEL });
  const node = settings.NODE_ID ?? `${hostname()}-${process.pid}`;
  const P = settings.CLUSTER_PARTITIONS;
  const metrics = createMetrics();
  const faults = faultReporter(metrics, log);
  composeOutbound(metrics);
  let stopping = false;

  // --- shared state, the registry, the log, InfluxDB ----------------------------------------------
  const sql = PgSql.connect(settings.PG_URL!, { max: 16, application: `risk-monitor-worker-${node}` });
  const stores = await openSharedStores(sql, P);
  const registry = await RegistryHolder.open({ configPath: settings.CONFIG, dataDir: settings.DATA_DIR, log, registered: stores.registered });
  const current = () => registry.current();
  const policy = (enterpriseId: string) => enterprisePolicy(current(), enterpriseId);
  const nats = await ClusterLog.connect(natsServers(settings), `worker-${node}`, log);
  await nats.ensureStreams(P, settings.CLUSTER_REPLICAS);
  const telemetry = await clusterTelemetry(settings, (id) => {
    const e = current().enterprises.get(id);
    return { region: e?.region ?? '', industry: e?.industry ?? '' };
  }, log);
  const audited = auditedBy(stores.audit, clock, log);
  /** a message into an enterprise's partition, in order with its readings */
  const command = (enterpriseId: string, c: Command) => nats.append(inbound(enterpriseId, null, 'c'), encodeCommand(c), clock());
  const raiseSystem = (o: Outcome) => void command(o.enterpriseId, { op: 'outcomes', outcomes: [o] }).catch((err: Error) => log.error({ err: err.message, key: o.key }, 'system alert not put in the log'));
  const toEdges = (m: EdgeMessage) => nats.publish(TO_DEVICES, JSON.stringify(m));

  // --- notifications of the partitions this worker owns ----------------------------------------------
  const partitions = new Map<number, PartitionRun>();
  const leases = new Leases(settings.PG_URL!, settings.LEASE_S, (lost, why) => {
    log.error({ partitions: lost, why }, 'leases lost: stopping those partitions (their new owners go on from the record)');
    for (const p of lost) void disown(p, false);
  });
  stores.outbox.partOf = (item) => partitionOf(enterpriseOfNotice(item) ?? '_system', P);
  stores.outbox.scope = () => leases.partitions;
  const notes = await composeNotifications({
    ...{ settings, options: opts.outbox, registry: current, policy, stores, metrics, raiseSystem, clock, log },
    // notification outcomes change no alert: straight to the record, whoever owns the alert now
    record: async (lines) => void (await stores.alerts.saveMany([], lines)),
    openAlerts: () => [...partitions.values()].flatMap((r) => r.openAlerts()),
    publishMqtt: async (topic, payload) => toEdges({ kind: 'publish', topic, payload }),
    live: { send: (enterpriseId, kind, data) => nats.publish(liveAlerts(enterpriseId), JSON.stringify({ kind, data })) },
    ackSecret: await clusterAckSecret(sql, settings.ACK_LINK_SECRET),
  });
  const { dispatcher, outbox, told } = notes;
  const hazards = new Hazards({ store: stores.hazards, clock, audit: audited, raise: raiseSystem });
  const reports = composeReports({
    ...{ registry: current, alerts: stores.alerts, hazards: stores.hazards, telemetry, clock },
    status: (ids) => stores.deviceStatus.many(ids),
    send: { channels: notes.channels, outbox, publicUrl: notes.publicUrl },
  });

  /**
   * Forgets being put in the log. A close is answered once its forget is there: what comes after
   * the answer (the device's next high reading) is then judged afresh, a new alarm. Answered before,
   * a reading could reach the log ahead of the forget and be judged as the closed alarm going on.
   */
  const forgetting = new Set<Promise<unknown>>();

  /** Everyone who hears a partition's alert book, as in the single process. */
  const listen = (book: AlertBook) => {
    book.onLive((c) => dispatcher.onLive(c));
    book.onChange((c) => metrics.alertTransitions.inc({ type: c.transition.type, severity: c.alert.severity }));
    book.onChange((c) => void telemetry.annotate(c.alert, c.transition.type, c.transition.at).catch(() => {}));
    book.onChange((c) => audited(...auditEntryOf(c)));
    book.onChange((c) => log.info(...logLineOf(c)));
    book.onChange((c) => dispatcher.onChange(c));
    // the rule starts afresh at this place in the log, for whoever replays it
    book.onClosedWhileActive((key) => {
      const enterpriseId = current().devices.get(keyParts(key).deviceId)?.enterprise.id;
      if (!enterpriseId) return;
      const put = command(enterpriseId, { op: 'forget', key }).catch((err: Error) => log.warn({ err: err.message, key }, 'forget not put in the log'));
      forgetting.add(put);
      void put.finally(() => forgetting.delete(put));
    });
  };

  // --- partitions: taken, run, given up --------------------------------------------------------------
  /** What a partition's run is given: the worker's shared parts. */
  const runOf = (takeover: Takeover): PartitionRun => {
    const run: PartitionRun = new PartitionRun({
      ...{ takeover, partitions: P, log: nats, table: stores.partitions, versions: stores.versions, statuses: stores.deviceStatus, sql, telemetry },
      startWorld: () => ({ maintenance: stores.silences.maintenanceSpans(), suspended: stores.statuses.suspendedIds() }),
      startBaselines: async () => (await stores.baselines.current()).map((b) => ({ deviceId: b.deviceId, metric: b.metric, value: b.value })),
      placement: (id) => placementOf(current(), id),
      policy,
      anyoneTold: (id) => told.anyone(id),
      listen,
      answer: (id, a) =>
        void Promise.all([...forgetting])
          .then(() => nats.publish(reply(id), JSON.stringify(a)))
          .catch((err: Error) => log.warn({ err: err.message, command: id }, 'answer to the API node not sent (it times out and says so)')),
      reject: (enterpriseId, deviceId, rejects) => toEdges({ kind: 'reject', enterpriseId, deviceId, rejects }),
      onFault: (part, err, about) => faults.fault(part)(err, about),
      onStopped: (partition, why) => {
        log.warn({ partition, why }, 'partition stopped; giving it up');
        if (partitions.get(partition) === run) void disown(partition, true);
      },
      ...{ log$: log.child({ part: 'partition' }), clock, snapshotEveryMs: opts.snapshotEveryMs },
    });
    return run;
  };
  const own = async (p: number) => {
    if (stopping || partitions.has(p) || !(await leases.take(p))) return;
    try {
      const takeover = await stores.partitions.takeOver(p, node);
      // read before this owner commits anything: what the previous one committed and never queued
      const owed = (await stores.alerts.owed('notify')).filter((o) => partitionOf(o.alert.enterpriseId, P) === p);
      const run = runOf(takeover);
      partitions.set(p, run);
      await run.start();
      await told.load(run.openAlerts().map((a) => a.id));
      dispatcher.tellOwed(owed);
      log.info({ partition: p, epoch: takeover.epoch, progress: takeover.progress, snapshot: takeover.snapshot?.seq ?? null }, 'partition taken');
    } catch (e) {
      // a lease held with nothing running it would leave the partition unread for good
      log.error({ partition: p, err: (e as Error).message }, 'partition could not start; giving it up');
      await disown(p, true);
    }
  };
  const disown = async (p: number, release: boolean) => {
    const run = partitions.get(p);
    partitions.delete(p);
    await run?.stop();
    // its notices queued before the next owner looks for what is owed (not waited for without end)
    if (release) await Promise.race([dispatcher.idle(), new Promise((r) => setTimeout(r, 5000).unref())]);
    if (release) await leases.release(p);
  };

  /** A fair share each: the oldest workers take one more where the partitions do not divide evenly. One look at a time. */
  let balancing: Promise<void> | null = null;
  const balance = () => (balancing ??= share().finally(() => (balancing = null)));
  const share = async () => {
    if (stopping) return;
    const workers = await stores.partitions.heartbeat(node, settings.LEASE_S);
    const me = Math.max(0, workers.indexOf(node));
    const n = Math.max(1, workers.length);
    const share = Math.floor(P / n) + (me < P % n ? 1 : 0);
    const owned = leases.partitions;
    if (owned.length > share) {
      for (const p of owned.slice(share)) await disown(p, true);
      return;
    }
    if (owned.length === share) return;
    const taken = await leases.taken();
    for (let p = 0, want = share - owned.length; p < P && want > 0; p++) {
      if (taken.has(p) || partitions.has(p)) continue;
      await own(p);
      if (partitions.has(p)) want--;
    }
  };

  // --- the registry: every node composes it alike; a new one is marked in every partition -----------
  const adopt = async () => {
    const { hash, changed: isNew } = await stores.versions.adoptEverywhere(current().loaded, P, (p, h) => nats.mark(p, 'registry', { hash: h }, clock()));
    if (isNew) log.info({ hash }, 'a new registry marked in every partition');
  };
  registry.onChange(() => void adopt().catch((err: Error) => log.error({ err: err.message }, 'registry not adopted')));
  // the registry's maintenance windows hold notifications; the owner of partition 0 audits new ones
  registry.onChange(maintenanceWindows(stores.silences, (...entry) => partitions.has(0) && audited(...entry)));
  registry.onReload((outcome, detail) => (metrics.registryReloads.inc({ outcome }), audited('system', `registry.${outcome === 'applied' ? 'reloaded' : 'refused'}`, settings.CONFIG, detail)));
  await registry.announce();
  await adopt();
  const following = registry.follow();
  const subs = [
    nats.subscribe(changed('registry'), () => void registry.reload()),
    nats.subscribe(changed('silences'), () => void stores.silences.reload().catch(() => {})),
    nats.subscribe(changed('statuses'), () => void stores.statuses.reload().catch(() => {})),
  ];

  // health and metrics first: a port in use stops the worker before it takes any partition
  const http = await nodeHttp({
    port: settings.HTTP_PORT,
    host: settings.HOST,
    metrics: metrics.registry,
    health: () => ({ status: 'ok', role: 'worker', node, partitions: leases.partitions, store: { kind: telemetry.kind, ...telemetry.health() }, notifications: stores.outbox.health() }),
  });
  // --- the clock: ticks into owned partitions; the cluster's jobs by the owner of partition 0 -------
  const leader = () => partitions.has(0);
  const tick = () => {
    for (const p of leases.partitions) void nats.mark(p, 'tick', {}, clock()).catch(() => {});
  };
  const schedule = startSchedule(
    {
      tick,
      sweep: async () => {
        await balance();
        if (!leader()) return;
        await silencesDue({ silences: stores.silences, clock, announceSilence: (s, phase) => dispatcher.announceSilence(s, phase) });
        await hazards.sweep();
      },
      dailySummaries: async () => void (leader() && (await reports.dailySummaries())),
      monthlyReports: async () => void (leader() && (await reports.monthlyReports())),
      retention: async () => {
        if (!leader()) return;
        const day = 86_400_000;
        await stores.outbox.prune(clock() - settings.OUTBOX_RETENTION_DAYS * day);
        await stores.ackLinks.prune(clock() - settings.OUTBOX_RETENTION_DAYS * day);
      },
      auditHead: async () => {},
      onError: (job, err) => log.error({ err, job }, 'scheduled job failed'),
    },
    { tickMs: opts.tickMs ?? 1000, cron: opts.schedule ?? true },
  );
  const balancer = setInterval(() => void balance().catch((err: Error) => log.warn({ err: err.message }, 'balancing failed')), opts.balanceMs ?? 1000);
  balancer.unref();
  if (opts.schedule ?? true) outbox.start(opts.outbox?.pollMs);
  await balance();

  log.info({ node, http: http.port, partitions: leases.partitions }, 'worker started');

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    schedule.stop();
    following.close();
    clearInterval(balancer);
    for (const s of subs) s.unsubscribe();
    await Promise.all([...partitions.keys()].map((p) => disown(p, true)));
    await stores.partitions.leave(node).catch(() => {});
    await leases.close();
    stores.outbox.stop();
    await dispatcher.idle();
    await outbox.stop();
    await telemetry.close();
    notes.channels.close();
    await http.close();
    await nats.close();
    await stores.close();
  };
  return {
    node,
    ports: { http: http.port },
    partitions: () => leases.partitions,
    outbox,
    dispatcher,
    balance,
    /** every partition owned has applied all the log it has read */
    stop,
  };
}

/** The enterprise a notice is about (its partition's owner sends it); summaries belong to none. */
function enterpriseOfNotice(i: OutboxItem): string | undefined {
  const b = i.body;
  if (b.notice === 'alert') return b.alert.enterpriseId;
  if (b.notice === 'silence') return b.silence.enterpriseId;
  return undefined;
}
