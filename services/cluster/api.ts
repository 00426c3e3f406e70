import { hostname } from 'node:os';
import pino from 'pino';
import type { Alert } from '../alerts/model.ts';
import { maintenanceWindows } from '../alerts/maintenance-windows.ts';
import { buildCallers, type Caller } from '../api/callers.ts';
import { closeApi } from '../api/close.ts';
import { auditedBy } from '../audit/audit-log.ts';
import type { AppOptions } from '../app-options.ts';
import { composeApi } from '../compose/api.ts';
import { composeReports } from '../compose/reports.ts';
import { Hazards } from '../hazards/hazards.ts';
import { createMetrics } from '../metrics.ts';
import { AckLinks } from '../notify/ack-links.ts';
import { LiveStream } from '../notify/live-stream.ts';
import { ToldUnits } from '../notify/told.ts';
import { RegistryHolder } from '../registry/registry-holder.ts';
import type { Settings } from '../settings.ts';
import { PgSql } from '../store/postgres-sql.ts';
import { encodeCommand, RemoteBook, type Command } from './commands.ts';
import { ClusterLog } from './log.ts';
import { clusterAckSecret, clusterTelemetry, natsServers, openSharedStores } from './shared-stores.ts';
import { changed, inbound, LIVE_ALERTS_ALL } from './subjects.ts';

/**
 * The composition root of an API node (ROLE=api): the whole HTTP API and the dashboards, over
 * PostgreSQL (alerts, records, outbox, silences…) and InfluxDB (readings). A person's step on an
 * alert goes to the owner of its partition through the log and is answered once it is in the
 * record; the live stream is fed by the workers' alert events on NATS. What the rules read of the
 * world (a maintenance window, a suspension, a baseline) goes into the enterprise's partition of
 * the log, so its owner applies it in order with the readings.
 */
export interface ApiNodeOptions {
  clock?: () => number;
  logger?: AppOptions['logger'];
  /** how long a person's step waits for the partition's owner to answer (default 10 s) */
  commandTimeoutMs?: number;
}

export async function startApiNode(settings: Settings, opts: ApiNodeOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? pino({ level: settings.LOG_LEVEL });
  const node = settings.NODE_ID ?? `${hostname()}-${process.pid}`;
  const started = clock();
  const metrics = createMetrics();

  const sql = PgSql.connect(settings.PG_URL!, { max: 16, application: `risk-monitor-api-${node}` });
  const stores = await openSharedStores(sql, settings.CLUSTER_PARTITIONS);
  const registry = await RegistryHolder.open({ configPath: settings.CONFIG, dataDir: settings.DATA_DIR, log, registered: stores.registered });
  const current = () => registry.current();
  const nats = await ClusterLog.connect(natsServers(settings), `api-${node}`, log);
  const telemetry = await clusterTelemetry(settings, () => ({ region: '', industry: '' }), log);
  const audited = auditedBy(stores.audit, clock, log);
  const command = (enterpriseId: string, c: Command) => nats.append(inbound(enterpriseId, null, 'c'), encodeCommand(c), clock());
  const commandLater = (enterpriseId: string, c: Command) => void command(enterpriseId, c).catch((err: Error) => log.error({ err: err.message, enterpriseId, op: c.op }, 'command not put in the log'));

  // --- alerts: steps through the partitions' owners; the open ones from the record and the live events
  const book = new RemoteBook(nats, async (id) => (await stores.alerts.get(id))?.alert.enterpriseId ?? null, clock, opts.commandTimeoutMs);
  const refreshOpen = async () => book.useOpen(await stores.alerts.open());
  await refreshOpen();
  const live = new LiveStream();
  const told = new ToldUnits(stores.outbox);

  /** what the rules of an enterprise read of the world, as it is now, into its partition */
  const world = (enterpriseId: string) =>
    commandLater(enterpriseId, {
      op: 'world',
      enterpriseId,
      maintenance: stores.silences.maintenanceSpans().filter((s) => s.enterpriseId === enterpriseId),
      suspended: stores.statuses.suspended(enterpriseId),
    });
  // a change made here goes to the rules of its enterprise and to every node's copy
  stores.silences.onChange((s) => s && (world(s.enterpriseId), nats.publish(changed('silences'), '')));
  stores.statuses.onChange((c) => c && (world(c.enterpriseId), nats.publish(changed('statuses'), '')));
  const hazards = new Hazards({ store: stores.hazards, clock, audit: audited, raise: (o) => commandLater(o.enterpriseId, { op: 'outcomes', outcomes: [o] }) });
  const ackLinks = new AckLinks({ store: stores.ackLinks, secret: await clusterAckSecret(sql, settings.ACK_LINK_SECRET), publicUrl: settings.PUBLIC_URL.replace(/\/$/, ''), ttlMs: settings.ACK_LINK_HOURS * 3_600_000, clock });
  const reports = composeReports({ registry: current, alerts: stores.alerts, hazards: stores.hazards, telemetry, status: (ids) => stores.deviceStatus.many(ids), clock });

  let callers = new Map<string, Caller>();
  registry.onChange((next) => (callers = buildCallers(next)));
  registry.onChange(() => live.recheck());
  registry.onReload((outcome) => metrics.registryReloads.inc({ outcome }));
  // the registry's maintenance windows are shown with the silences (a worker audits new ones)
  registry.onChange(maintenanceWindows(stores.silences, () => {}));
  await registry.announce();
  const following = registry.follow();

  const subs = [
    nats.subscribe(LIVE_ALERTS_ALL, (_s, data) => {
      const m = JSON.parse(new TextDecoder().decode(data)) as { kind: string; data: Alert & { enterpriseId: string } };
      book.heard(m.data);
      live.send(m.data.enterpriseId, m.kind, m.data);
    }),
    nats.subscribe(changed('registry'), () => void registry.reload()),
    nats.subscribe(changed('silences'), () => void stores.silences.reload().catch(() => {})),
    nats.subscribe(changed('statuses'), () => void stores.statuses.reload().catch(() => {})),
  ];
  // what the live events missed (a node that just started, a NATS node that went away)
  let unowned = 0;
  const refresher = setInterval(() => {
    void refreshOpen().catch(() => {});
    void stores.deviceStatus.count().catch(() => {});
    void stores.partitions.unowned(settings.LEASE_S * 2).then((n) => (unowned = n), () => {});
  }, 5000);
  refresher.unref();

  const api = await composeApi({
    ...{ settings, registry, caller: (digest) => callers.get(digest), stores, book, telemetry, live, ackLinks, told, hazards, reports },
    devices: stores.deviceStatus,
    // forwarding to upstream platforms runs in the single process only (see the README)
    uplinks: { status: () => [], get: () => undefined },
    // a device registered here: the new registry goes into every partition's log before the
    // answer (with the device's secret) goes out, then every node reads it again
    registered: async () => {
      await stores.versions.adoptEverywhere(registry.current().loaded, settings.CLUSTER_PARTITIONS, (p, hash) => nats.mark(p, 'registry', { hash }, clock()));
      nats.publish(changed('registry'), '');
    },
    useBaseline: (b) => commandLater(b.enterpriseId, { op: 'baseline', deviceId: b.deviceId, metric: b.metric, value: b.value }),
    // the worker that owns partition 0 announces silences within 10 s
    announceSilences: async () => {},
    // no worker owning a partition is an alarm path down: readings wait in the log, steps are not answered
    health: () => ({
      status: unowned ? ('degraded' as const) : ('ok' as const),
      broker: { role: 'api', node, partitionsWithoutOwner: unowned },
      store: { kind: telemetry.kind, ...telemetry.health() },
      alerts: { ok: true, waiting: 0 },
      notifications: stores.outbox.health(),
      audit: stores.audit.problem === null ? { ok: true } : { ok: false, error: stores.audit.problem },
      eventLoop: {},
      uptimeS: Math.round((clock() - started) / 1000),
    }),
    ports: () => ({ mqtt: settings.MQTT_PORT, ws: settings.MQTT_WS_PORT, mqtts: settings.MQTTS_PORT }),
    audited,
    metrics,
    clock,
    log,
  });
  await api.listen({ port: settings.HTTP_PORT, host: settings.HOST });
  const port = (api.server.address() as { port: number }).port;
  log.info({ node, http: port }, 'API node started');
  return {
    node,
    ports: { http: port },
    async stop() {
      clearInterval(refresher);
      following.close();
      for (const s of subs) s.unsubscribe();
      live.close();
      await closeApi(api);
      await telemetry.close();
      await nats.close();
      await stores.close();
    },
  };
}
