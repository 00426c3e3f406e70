import pino from 'pino';
import { auditEntryOf, logLineOf } from './alerts/change-notes.ts';
import { silencesDue } from './alerts/sweep.ts';
import { enterprisePolicy } from './alerts/placement.ts';
import { buildCallers, tokenDigest, type Caller } from './api/callers.ts';
import { closeApi } from './api/close.ts';
import { composeAlertBook } from './compose/alerts.ts';
import { composeApi, serviceHealth } from './compose/api.ts';
import { unregisteredClears } from './alerts/unregistered.ts';
import { composeGateway, composeFirePanels, credentialsFollower, loginVerifier, pipelineInput, rememberLogins } from './compose/edge.ts';
import { composeJobs } from './compose/jobs.ts';
import { composeNotifications } from './compose/notifications.ts';
import { composeForwarder } from './compose/forward.ts';
import { composePipeline, pipelineInit, worldOf } from './compose/pipeline.ts';
import { shutdown } from './compose/shutdown.ts';
import { maintenanceWindows } from './alerts/maintenance-windows.ts';
import { DeviceStatuses } from './devices/device-status.ts';
import { LiveStatus } from './devices/live-status.ts';
import { auditedBy } from './audit/audit-log.ts';
import { faultReporter } from './faults.ts';
import { Hazards } from './hazards/hazards.ts';
import { createMetrics } from './metrics.ts';
import { composeOutbound } from './compose/outbound.ts';
import { threadPoolSize } from './thread-pool.ts';
import { openStores } from './open-stores.ts';
import { RegistryHolder } from './registry/registry-holder.ts';
import type { Settings } from './settings.ts';
import type { AppOptions } from './app-options.ts';

/**
 * The composition root: the one place where the gateway, rules, stores, alerts, notifications
 * and API are wired together, and every listener is registered (each one isolated: a listener
 * that throws is counted and logged, the others still hear). It creates and connects, in the
 * order of start and of stop; what each part does lives in its module, and the longer
 * constructions in services/compose/. `npm start` (services/main.ts) and the end-to-end tests
 * both run this.
 */
export type { AppOptions };

export type App = Awaited<ReturnType<typeof startApp>>;

export async function startApp(settings: Settings, opts: AppOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? pino({ level: settings.LOG_LEVEL });
  const started = clock();
  const metrics = createMetrics();
  const faults = faultReporter(metrics, log);
  // name lookups in turns beside the stores (logins take theirs: compose/edge.ts); first-use costs paid now
  composeOutbound(metrics);
  let stopping: Promise<void> | undefined;

  // --- registry, stores, alerts ----------------------------------------------------------------
  const registry = await RegistryHolder.open({ configPath: settings.CONFIG, dataDir: settings.DATA_DIR, log, checkThread: opts.registryThread });
  const current = () => registry.current();
  const policy = (enterpriseId: string) => enterprisePolicy(current(), enterpriseId);
  const stores = await openStores(settings);
  const { audit } = stores;
  const audited = auditedBy(audit, clock, log);
  const { book, raiseSystem } = composeAlertBook({ stores, registry: current, faults, metrics, clock, log });
  const hazards = new Hazards({ store: stores.hazards, clock, audit: audited, raise: raiseSystem });
  const forwarder = composeForwarder({ settings, options: opts.forward, settle: (lines) => stores.alerts.settle('forward', lines), metrics, clock, log });
  stores.alerts.owedTo = () => (forwarder.forwarding ? ['notify', 'forward'] : ['notify']);

  // --- readings in: the pipeline (its own thread), the MQTT gateway, fire panels ------------------
  const pipeline = composePipeline({ settings, options: opts.pipeline, book, forwarder, metrics, faults, raiseSystem, clock, log });
  const telemetry = pipeline.telemetry;
  const status = new LiveStatus();
  const devices = new DeviceStatuses(status, (ids) => pipeline.lastValues(ids), (id) => pipeline.heldBackUntil(id, clock()));
  const verifier = loginVerifier(current);
  let callers = new Map<string, Caller>();
  const edge = { settings, registry: current, pipeline, status, metrics, clock, log };
  const input = pipelineInput({ pipeline, status, stopping: () => !!stopping });
  const gateway = await composeGateway({ ...edge, input, verifier, caller: (digest) => callers.get(digest), tokenDigest, stopping: () => !!stopping, audited, options: opts.gateway });
  await rememberLogins(gateway, audit, clock(), log);
  const panels = composeFirePanels({
    ...{ settings, registry: current, metrics, clock, log, faults },
    readings: (readings) => pipeline.readings(readings, clock()),
    link: (deviceId, link, at) => status.onLink(deviceId, link, at),
    handle: (outcomes) => book.handle(outcomes),
  });

  // --- people: notifications and the scheduled jobs ---------------------------------------------
  const { live, channels, ackLinks, told, outbox, dispatcher, publicUrl } = await composeNotifications({
    ...{ settings, options: opts.outbox, registry: current, policy, stores, metrics, raiseSystem, clock, log },
    record: (lines) => book.record(lines),
    openAlerts: () => book.openAlerts(),
    publishMqtt: (topic, payload) => (gateway.broker.closed ? Promise.resolve() : gateway.publish(topic, payload, 1)),
  });
  const jobs = composeJobs({ settings, registry: current, policy, stores, telemetry, devices, book, hazards, told, dispatcher, outbox, channels, forwarder, publicUrl, clock, log });

  // --- who hears what ------------------------------------------------------------------------------
  registry.onReload((outcome, detail) => (metrics.registryReloads.inc({ outcome }), audited('system', `registry.${outcome === 'applied' ? 'reloaded' : 'refused'}`, settings.CONFIG, detail)));
  book.onLive((c) => dispatcher.onLive(c));
  book.onChange((c) => forwarder.alarm(c.alert, c.transition, c.line));
  book.onChange((c) => metrics.alertTransitions.inc({ type: c.transition.type, severity: c.alert.severity }));
  book.onChange((c) => void telemetry.annotate(c.alert, c.transition.type, c.transition.at));
  book.onChange((c) => audited(...auditEntryOf(c)));
  book.onChange((c) => log.info(...logLineOf(c)));
  book.onChange((c) => dispatcher.onChange(c));
  book.onClosedWhileActive((key) => pipeline.forget(key));
  registry.onChange((next) => (callers = buildCallers(next)));
  registry.onChange(() => live.recheck());
  registry.onChange(credentialsFollower(verifier, gateway));
  // the pipeline follows the registry once it runs (it starts with the one in force)
  let pipelineRunning = false;
  registry.onChange((next) => pipelineRunning && pipeline.useRegistry(next.loaded, clock()));
  registry.onChange(maintenanceWindows(stores.silences, audited));
  registry.onChange((next) => forwarder.use(next));
  const world = () => worldOf(stores);
  stores.silences.onChange(() => pipelineRunning && pipeline.world(world()));
  stores.statuses.onChange(() => pipelineRunning && pipeline.world(world()));

  // --- state at start: the registry in force, the open alerts, the pipeline from them --------------
  await registry.announce();
  let openAtStart = await book.load();
  const unregistered = unregisteredClears(openAtStart, current(), clock());
  if (unregistered.length) {
    await book.handle(unregistered).catch((err: Error) => log.error({ err: err.message }, 'alarms of devices gone from the registry not cleared in the record yet'));
    openAtStart = book.openAlerts();
  }
  const owed = { notify: await stores.alerts.owed('notify'), forward: await stores.alerts.owed('forward') };
  // the pipeline starts from the registry, the world, the baselines and the open alerts (and again
  // so, should its thread ever end unasked)
  // (the API is built meanwhile, on this thread, while the pipeline's opens its store; it listens below)
  const health = serviceHealth({ telemetry, gateway, book, stores, clock, started });
  const [api] = await Promise.all([
    composeApi({
      ...{ settings, registry, caller: (digest) => callers.get(digest), stores, book, telemetry, devices, live, ackLinks, told, hazards, uplinks: forwarder, reports: jobs },
      useBaseline: (b) => pipeline.baseline(b.deviceId, b.metric, b.value),
      announceSilences: () => silencesDue(jobs.silences),
      ...{ health: () => health.now(), ports: () => gateway.ports, audited, metrics, clock, log },
    }),
    pipeline.start(() => pipelineInit({ registry: current(), stores, open: pipelineRunning ? book.openAlerts() : openAtStart, now: clock() })),
  ]);
  pipelineRunning = true;
  await jobs.checkAuditKept(raiseSystem);
  await told.load(book.openAlerts().map((a) => a.id));
  dispatcher.tellOwed(owed.notify);
  await forwarder.alarmOwed(owed.forward);

  // --- start ---------------------------------------------------------------------------------------
  await gateway.start();
  await panels?.listen();
  await api.listen({ port: settings.HTTP_PORT, host: settings.HOST });
  const httpPort = (api.server.address() as { port: number }).port;
  if (opts.schedule ?? true) outbox.start(opts.outbox?.pollMs);
  const tick = () => pipeline.tick(clock());
  const schedule = jobs.schedule(tick, { tickMs: opts.tickMs ?? 1000, cron: opts.schedule ?? true });
  const following = registry.follow(opts.watchRegistry ?? true);
  audited('system', 'service.started', 'service', { devices: current().devices.size });
  log.info({ mqtt: gateway.ports.mqtt, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, firePanel: panels?.port, http: httpPort, store: telemetry.kind, dataDir: settings.DATA_DIR, devices: current().devices.size, threadPool: threadPoolSize() }, 'risk monitor started');

  // the shutdown starts once `stopping` is set: the gateway's stop closes links at once, and their
  // wills must find the service stopping (they raised offline alarms at a stop as devices connected)
  const stop = () =>
    (stopping ??= Promise.resolve().then(() =>
      shutdown({
        ...{ quiet: [schedule, health], following, live, inputs: [() => gateway.stop(), () => panels?.close(), () => closeApi(api)] },
        ...{ pipeline, book, stores, dispatcher, outbox, forwarder, channels, clock },
      }),
    ));

  // what tests drive by hand (they move the clock themselves); `npm start` uses ports and stop
  return {
    ports: { mqtt: gateway.ports.mqtt!, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, http: httpPort, firePanel: panels?.port },
    ...{ registry: current, book, dispatcher, telemetry, gateway, metrics, pipeline, outbox, ackLinks, silences: stores.silences, forwarder },
    ...{ sweep: jobs.sweep, dailySummaries: jobs.dailySummaries, retention: jobs.retention, publishAuditHead: jobs.publishAuditHead, monthlyReports: jobs.monthlyReports },
    reload: () => registry.reload(),
    /** run time-driven rules now; resolves once their changes are with the alert book */
    tick,
    /** every alert change so far recorded, its notices queued, and whatever is due sent */
    settled: async () => {
      await pipeline.idle();
      await book.settled();
      await dispatcher.idle();
      await outbox.run();
    },
    stop,
  };
}
