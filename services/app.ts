import { readFile } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { SecretVerifier } from '../gateway/credentials.ts';
import { Gateway, type GatewayDevice } from '../gateway/broker.ts';
import { FirePanelReceiver } from '../gateway/fire-panel/receiver.ts';
import { describeUnmapped } from '../gateway/fire-panel/panel-points.ts';
import { panelAt } from './devices/panels.ts';
import { AlertBook } from './alerts/alert-book.ts';
import { UnmappedAlarms } from './alerts/panel-unmapped.ts';
import { sendDailySummaries } from './notify/daily-summary.ts';
import { summarize } from './alerts/reports.ts';
import { silencesDue, sweep as sweepAlerts } from './alerts/sweep.ts';
import { SYSTEM, channelHealth, storeBufferFull, auditTruncated, pipelineDown } from './alerts/system-alerts.ts';
import { buildCallers, tokenDigest, type Caller } from './api/callers.ts';
import { buildApi } from './api/server.ts';
import { registerDevice } from './devices/registration.ts';
import { LiveStatus } from './devices/live-status.ts';
import { DeviceStatuses } from './devices/device-status.ts';
import { PipelineClient } from './pipeline/client.ts';
import { Forwarder } from './forward/forwarder.ts';
import { createMetrics, threadCpu } from './metrics.ts';
import { thisThreadTid } from './thread-cpu.ts';
import { ServiceHealth } from './health.ts';
import { Dispatcher } from './notify/dispatcher.ts';
import { Channels } from './notify/channels/channel.ts';
import { EmailChannel } from './notify/channels/email.ts';
import { WebhookChannel } from './notify/channels/webhook.ts';
import { PhoneChannel } from './notify/channels/phone.ts';
import { AckLinks } from './notify/ack-links.ts';
import { ackLinkSecret } from './notify/ack-link-secret.ts';
import { LiveStream } from './notify/live-stream.ts';
import { Outbox } from './notify/outbox.ts';
import { coverage as coverageOf } from './enterprises/coverage.ts';
import { Hazards } from './hazards/hazards.ts';
import { sendMonthlyReports } from './notify/monthly-report.ts';
import { ToldUnits } from './notify/told.ts';
import { policyFor } from './alerts/routing.ts';
import { RegistryHolder } from './registry/registry-holder.ts';
import type { RegistryFile } from './registry/schema.ts';
import { startSchedule } from './scheduler.ts';
import type { Settings } from './settings.ts';
import { openStores, telemetrySettings } from './open-stores.ts';

/**
 * The composition root: the one place where the gateway, rules, stores, alerts, notifications
 * and API are wired together. It creates and connects; what each part does lives in its module.
 * `npm start` (services/main.ts) and the end-to-end tests both run this.
 */
export interface AppOptions {
  clock?: () => number;
  logger?: Logger;
  /** how often time-driven rules are re-checked; 0 leaves it to the caller of `tick()` */
  tickMs?: number;
  /** reload the registry when its file changes (SIGHUP always reloads) */
  watchRegistry?: boolean;
  /** the outbox's first retry delay (doubling each time) and how often it looks for due work */
  outbox?: { baseDelayMs?: number; maxDelayMs?: number; pollMs?: number; failuresBeforeAlert?: number };
  /** upstream platforms: first retry delay (doubling) and the longest wait between tries */
  forward?: { baseDelayMs?: number; maxDelayMs?: number };
  /** run the scheduled jobs (escalation, silences, daily summary) on their own; tests drive them */
  schedule?: boolean;
  /**
   * where the reading pipeline runs: a worker thread (default), or this thread; `entry` is the
   * thread's code when it is not beside this file (tests run the bundle `npm start` runs)
   */
  pipeline?: { mode?: 'thread' | 'inline'; entry?: string; maxInFlight?: number };
}

export type App = Awaited<ReturnType<typeof startApp>>;

/** The gateway's limits, as the registry's `gateway` section gives them. */
const gatewayLimits = (g: RegistryFile['gateway']) => ({
  ...g,
  maxFutureSkewMs: g.maxFutureSkewS * 1000,
  login: { windowS: 60, maxFailuresPerAddress: g.maxLoginFailuresPerAddress, maxFailuresPerUsername: g.maxLoginFailuresPerDevice, banS: g.loginBanS },
});

export async function startApp(settings: Settings, opts: AppOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? pino({ level: settings.LOG_LEVEL });
  const started = clock();
  const metrics = createMetrics();
  let stopping: Promise<void> | undefined;

  // --- registry and stores -------------------------------------------------------------------
  const registry = await RegistryHolder.open({
    configPath: settings.CONFIG,
    dataDir: settings.DATA_DIR,
    log,
    onReload: (outcome, detail) => (metrics.registryReloads.inc({ outcome }), audited('system', `registry.${outcome === 'applied' ? 'reloaded' : 'refused'}`, settings.CONFIG, detail)),
  });
  const current = () => registry.current();
  const policy = (enterpriseId: string) => {
    const ent = current().enterprises.get(enterpriseId);
    return policyFor(current().file.routing, ent?.industry, ent?.routing);
  };
  const placement = (id: string) => {
    const ent = current().enterprises.get(id);
    const p = policy(id);
    // the service's own alarms are not the enterprises' to report on
    const review = id === SYSTEM ? { from: null, withinMs: 0 } : { from: p.reviewFrom, withinMs: p.feedbackWithinH * 3_600_000 };
    return { region: ent?.region ?? '', industry: ent?.industry ?? (id === SYSTEM ? 'system' : ''), review };
  };
  const stores = await openStores(settings);
  const { audit } = stores;
  const audited = (actor: string, action: string, subject: string, detail: unknown) =>
    void audit.append({ at: clock(), actor, action, subject, detail }).catch((err: Error) => log.error({ err }, 'audit entry not written'));

  // --- rules and alerts ----------------------------------------------------------------------
  /** a listener, a rule or a reading step that threw: logged and counted; the others carry on */
  const fault = (part: string) => (err: Error, about?: unknown) => {
    metrics.internalFaults.inc({ part });
    log.error({ err: err?.message ?? String(err), stack: err?.stack, part, about }, 'fault isolated');
  };
  const isolated = (part: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      fault(part)(e as Error);
    }
  };
  const book = new AlertBook(stores.alerts, placement, clock, (key) => pipeline.forget(key), (err, c) => fault('alert-listener')(err, { alert: c.alert.id, transition: c.transition.type }));
  const raiseSystem = (...outcomes: Parameters<AlertBook['handle']>[0]) => void book.handle(outcomes).catch((err: Error) => log.error({ err: err.message }, 'system alert not saved yet; kept for the next commit'));
  /** what the rules read of the world besides readings, for the pipeline */
  const world = () => ({ maintenance: stores.silences.maintenanceSpans(), suspended: stores.statuses.suspendedIds() });
  const forwarder = new Forwarder({
    dataDir: settings.DATA_DIR,
    gatewayName: 'risk-monitor',
    clock,
    log: log.child({ part: 'forward' }),
    baseDelayMs: opts.forward?.baseDelayMs ?? 5000,
    maxDelayMs: opts.forward?.maxDelayMs ?? 300_000,
    maxQueueBytes: settings.FORWARD_QUEUE_MB * 1024 * 1024,
    onOutcome: (uplink, lane, outcome) => metrics.forwarded.inc({ uplink, lane, outcome }),
  });
  book.onChange(({ alert, transition }) => forwarder.alarm(alert, transition));
  book.onChange(({ alert, transition }) => metrics.alertTransitions.inc({ type: transition.type, severity: alert.severity }));
  book.onChange(({ alert, transition }) => void telemetry.annotate(alert, transition.type, transition.at));
  book.onChange(({ alert, transition: t }) =>
    audited(t.actor, `alert.${t.type}`, alert.id, { rule: alert.rule, enterpriseId: alert.enterpriseId, deviceId: alert.deviceId, severity: alert.severity, ...(t.note ? { note: t.note } : {}), ...(t.detail ? { detail: t.detail } : {}) }),
  );
  const status = new LiveStatus();

  // --- the reading pipeline: decode, rules and the time-series store, on a thread of its own ------
  // what readings raised is in the alert record before they are in the store (the pipeline waits
  // for it): after a crash in between, the device's resend is evaluated again instead of being
  // dropped as a duplicate of stored readings whose alarm was lost. The PUBACK waits for both.
  const pipeline = new PipelineClient({
    settings: telemetrySettings(settings),
    mode: opts.pipeline?.mode ?? (settings.PIPELINE_THREAD === 'on' ? 'thread' : 'inline'),
    entry: opts.pipeline?.entry,
    maxInFlight: opts.pipeline?.maxInFlight,
    onOutcomes: (outcomes) => book.handle(outcomes),
    onForward: (readings) => forwarder.readings(readings),
    onEvaluated: (n) => metrics.ruleEvaluations.inc(n),
    onFault: (part, err, about) => fault(part)(err, about),
    // a full buffer refuses readings (QoS 1 devices then retry): operators must know at once
    onBufferFull: (d) => raiseSystem(storeBufferFull(d, settings.INFLUX_BUFFER_MB * 1024 * 1024, clock())),
    onExit: (code) => {
      log.error({ code }, 'the reading pipeline stopped unasked: restarting it');
      raiseSystem(pipelineDown(`exit ${code}`, clock()));
    },
    onRestarted: () => raiseSystem(pipelineDown(null, clock())),
    log: log.child({ part: 'pipeline' }),
  });
  const mainTid = thisThreadTid();
  threadCpu(metrics.registry, () => [
    ['main', mainTid],
    ...(pipeline.tid !== mainTid ? [['pipeline', pipeline.tid] as [string, number | undefined]] : []),
  ]);
  const telemetry = pipeline.telemetry;
  const onReadings = (readings: Parameters<PipelineClient['readings']>[0]) => pipeline.readings(readings, clock());
  const devices = new DeviceStatuses(status, (ids) => pipeline.lastValues(ids));

  // --- gateway -------------------------------------------------------------------------------
  const verifier = new SecretVerifier();
  let callers = new Map<string, Caller>();
  const gateway = new Gateway({
    mqttPort: settings.MQTT_PORT,
    wsPort: settings.MQTT_WS_PORT,
    tls: settings.MQTTS_PORT !== undefined ? { port: settings.MQTTS_PORT, cert: await readFile(settings.TLS_CERT!), key: await readFile(settings.TLS_KEY!) } : undefined,
    host: settings.HOST,
    limits: gatewayLimits(current().file.gateway),
    findDevice: (id): GatewayDevice | undefined => {
      const e = current().devices.get(id);
      return e && { enterpriseId: e.enterprise.id, deviceId: id, points: e.points, secretHash: e.device.secretHash };
    },
    findWatcher: (token) => {
      const c = callers.get(tokenDigest(token));
      return c && { name: c.name, sees: c.sees, all: c.role === 'operator' };
    },
    verifier,
    onTelemetry: (d, payload, at) => pipeline.take(d.deviceId, payload, at),
    onLink: (d, link, at) => {
      status.onLink(d.deviceId, link, at);
      // while the service itself shuts down, devices losing their connection is not news
      if ((link === 'online' || link === 'offline') && !stopping) pipeline.link(d.deviceId, link, at);
    },
    counters: metrics,
    clock,
    log: log.child({ part: 'gateway' }),
    onLogin: (who, ok, reason, address) => audited(who, ok ? 'login.mqtt' : 'login.mqtt.refused', who, { reason, address }),
  });

  // fire alarm panels speak GB/T 26875.3 over TCP; their reports are readings like any device's
  const unmapped = new UnmappedAlarms();
  const panels = settings.FIRE_PANEL_PORT === undefined
    ? undefined
    : new FirePanelReceiver({
        port: settings.FIRE_PANEL_PORT,
        host: settings.HOST,
        address: settings.FIRE_PANEL_ADDRESS,
        findPanel: (address) => panelAt(current(), address),
        onReadings,
        onHeartbeat: (d, at) => isolated('fire-panel', () => onReadings([{ enterpriseId: d.enterpriseId, deviceId: d.deviceId, ts: at, values: Object.create(null) }])),
        onLink: (d, link, at) => status.onLink(d.deviceId, link, at),
        onUnmapped: (d, reports, at) => {
          const described = reports.map(describeUnmapped);
          const alarming = described.filter((u) => u.fire || u.fault);
          if (alarming.length) log.warn({ panel: d.deviceId, reports: alarming.length, first: alarming[0].where }, 'fire panel reports from components no point stands for');
          const outcomes = unmapped.report(d, described, at);
          return outcomes.length ? book.handle(outcomes) : Promise.resolve();
        },
        counters: { frames: metrics.firePanelFrames },
        maxFutureSkewMs: current().file.gateway.maxFutureSkewS * 1000,
        clock,
        log: log.child({ part: 'fire-panel' }),
      });

  // --- notifications -------------------------------------------------------------------------
  const live = new LiveStream();
  // every way to reach people; e-mail only where an SMTP server is set
  const channels = new Channels([
    ...(settings.SMTP_URL ? [new EmailChannel(settings.SMTP_URL, settings.MAIL_FROM)] : []),
    new WebhookChannel(clock),
    new PhoneChannel('sms', current, clock),
    new PhoneChannel('voice', current, clock),
  ]);
  if (!settings.SMTP_URL) log.warn('e-mail is off (SMTP_URL is not set): units are reached by their webhooks, SMS and calls only');
  const channelsOf = (unit: Parameters<Channels['idsOf']>[0]) => channels.idsOf(unit);
  // reports and summaries are for reading at a desk, not for phones
  const writtenChannelsOf = (unit: Parameters<Channels['idsOf']>[0]) => channels.idsOf(unit).filter((c) => !/^(sms|voice):/.test(c));
  const publicUrl = settings.PUBLIC_URL.replace(/\/$/, '');
  const ackLinks = new AckLinks({ store: stores.ackLinks, secret: await ackLinkSecret(settings), publicUrl, ttlMs: settings.ACK_LINK_HOURS * 3_600_000, clock });
  const notifyLog = log.child({ part: 'notify' });
  const told = new ToldUnits(stores.outbox);
  const outbox = new Outbox({
    told,
    store: stores.outbox,
    registry: current,
    record: (lines) => book.record(lines),
    channels,
    clock,
    publicUrl,
    ...(settings.ACK_LINK_HOURS > 0 ? { ackLinks } : {}),
    policy,
    counters: metrics,
    log: notifyLog,
    ...opts.outbox,
    // a channel that keeps failing is itself an alert, for the operators
    onChannelHealth: (unit, channel, failing, error) => raiseSystem(channelHealth(unit, channel, failing, error, clock())),
  });
  const dispatcher = new Dispatcher({
    registry: current,
    policy,
    record: (lines) => book.record(lines),
    told,
    openAlerts: () => book.openAlerts(),
    live,
    outbox,
    silences: stores.silences,
    channelsOf,
    publishMqtt: (topic, payload) => (gateway.broker.closed ? Promise.resolve() : gateway.publish(topic, payload, 1)),
    clock,
    log: notifyLog,
  });
  book.onLive((c) => dispatcher.onLive(c));
  // what an operator reads the log for: every change of an alert, once it is in the record
  book.onChange(({ alert: a, transition: t }) =>
    log.info({ alert: a.id, rule: a.rule, enterpriseId: a.enterpriseId, deviceId: a.deviceId, point: a.pointId, severity: a.severity, change: t.type, actor: t.actor }, `alert ${t.type}: ${t.message ?? a.message}`),
  );
  book.onChange((c) => dispatcher.onChange(c));
  const silenceDeps = { silences: stores.silences, clock, announceSilence: (s: Parameters<Dispatcher['announceSilence']>[0], phase: 'started' | 'ended') => dispatcher.announceSilence(s, phase) };
  const hazards = new Hazards({ store: stores.hazards, clock, audit: audited, raise: (o) => raiseSystem(o) });
  const sweep = async () => {
    await sweepAlerts({ ...silenceDeps, book, policy, anyoneTold: (id) => told.anyone(id) });
    await hazards.sweep();
  };
  /** Readings and delivered notifications past their retention leave the stores. */
  const retention = async () => {
    const day = 86_400_000;
    const readings = await telemetry.prune(clock() - settings.RETENTION_DAYS * day);
    const notifications = await stores.outbox.prune(clock() - settings.OUTBOX_RETENTION_DAYS * day);
    await stores.ackLinks.prune(clock() - settings.OUTBOX_RETENTION_DAYS * day);
    log.info({ readings, notifications }, 'retention: old rows deleted');
    return { readings, notifications };
  };
  /** The audit trail's head to the platforms, when it moved: a copy outside this service. */
  let headSent = -1;
  const publishAuditHead = async () => {
    const head = await audit.head();
    if (head.n === headSent) return;
    await forwarder.auditHead({ ...head, at: clock() });
    headSent = head.n;
  };
  const openHazards = (id: string) => stores.hazards.list({ enterpriseIds: [id], state: 'open', now: clock(), limit: 10_000 });
  type Period = { from: number; to: number; enterpriseIds: string[] };
  const summary = (q: Period) => summarize({ registry: current(), alerts: stores.alerts, telemetry, openHazards }, q);
  const coverage = (q: Period) => coverageOf({ registry: current(), telemetry, status: (ids) => devices.many(ids) }, q);
  const monthlyReports = () =>
    sendMonthlyReports({
      registry: current,
      clock,
      publicUrl,
      channelsOf: writtenChannelsOf,
      enqueue: (n) => outbox.enqueue(n),
      summary,
      coverage,
      alertsBetween: (id, from, to) => stores.alerts.between(id, from, to),
    });
  const dailySummaries = () => sendDailySummaries({ registry: current, alerts: stores.alerts, telemetry, openHazards, clock, channelsOf: writtenChannelsOf, enqueue: (n) => outbox.enqueue(n) });

  // --- the registry in force, for everyone who follows it --------------------------------------
  registry.onChange((next) => (callers = buildCallers(next)));
  registry.onChange((next) => {
    verifier.retain((id) => next.devices.has(id));
    for (const { device } of next.devices.values()) if (device.secret) verifier.remember(device.id, device.secret);
    // sessions of removed devices, rotated secrets and withdrawn tokens end now
    gateway.recheck();
  });
  // the pipeline follows the registry once it runs (it starts with the one in force)
  let pipelineRunning = false;
  registry.onChange((next) => pipelineRunning && pipeline.useRegistry(next.loaded, clock()));
  let windowsKnown = false;
  registry.onChange((next) => {
    // a maintenance window holds notifications: each one added by a reload goes in the audit
    // trail, as silences do (those of the file at start came with the registry it audited before)
    const added = stores.silences.useRegistry(next.file.maintenance);
    if (windowsKnown)
      for (const w of added) audited(w.by, 'maintenance.registered', w.id, { enterpriseId: w.enterpriseId, deviceId: w.deviceId, reason: w.reason, from: new Date(w.from).toISOString(), until: new Date(w.until).toISOString() });
    windowsKnown = true;
  });
  registry.onChange((next) => forwarder.use(next));
  await registry.announce();
  const openAtStart = await book.load();
  // the pipeline starts from the registry, the world, the baselines and the open alerts (and again
  // so, should its thread ever end unasked)
  await pipeline.start(async () => ({
    registry: current().loaded,
    world: world(),
    baselines: (await stores.baselines.current()).map((b) => ({ deviceId: b.deviceId, metric: b.metric, value: b.value })),
    open: (pipelineRunning ? book.openAlerts() : openAtStart).map((a) => ({ key: a.key, state: a.state, severity: a.severity, peak: a.peak, value: a.value, flapping: a.flapping })),
    now: clock(),
  }));
  pipelineRunning = true;
  stores.silences.onChange(() => pipeline.world(world()));
  stores.statuses.onChange(() => pipeline.world(world()));
  if (!(await audit.keptPublishedHead())) {
    const head = await audit.head();
    log.error({ head }, 'the audit trail no longer holds the head published before this start: entries were removed');
    raiseSystem(auditTruncated(head, clock()));
  }
  await told.load(book.openAlerts().map((a) => a.id));

  // --- API -----------------------------------------------------------------------------------
  const health = new ServiceHealth({
    store: () => ({ kind: telemetry.kind, ...telemetry.health() }),
    broker: () => ({ closed: gateway.broker.closed, clients: gateway.broker.connectedClients, ports: gateway.ports }),
    alerts: () => book.health(),
    notifications: () => stores.outbox.health(),
    audit: () => (audit.failing === null ? { ok: true } : { ok: false, error: audit.failing }),
    clock,
    started,
  });
  const api = await buildApi(
    {
      registry: current,
      caller: (digest) => callers.get(digest),
      book,
      alerts: stores.alerts,
      telemetry,
      live,
      status: devices,
      metrics,
      clock,
      ackLinks,
      health: () => health.now(),
      registerDevice: (enterpriseId, body, by) =>
        registerDevice(
          {
            registry,
            clock,
            publicUrl: settings.PUBLIC_URL,
            ports: () => gateway.ports,
            onRegistered: (ent, id, who) => (audited(who, 'device.registered', id, { enterpriseId: ent }), log.info({ enterpriseId: ent, deviceId: id, by: who }, 'device registered')),
          },
          enterpriseId,
          body,
          by,
        ),
      silences: stores.silences,
      audit: { append: audited, verify: (head) => audit.verify(head), head: () => audit.head() },
      announceSilences: () => silencesDue(silenceDeps),
      notificationsOf: (alertId) => stores.outbox.forAlert(alertId),
      statuses: stores.statuses,
      hazards,
      hazardStore: stores.hazards,
      photos: stores.photos,
      toldOf: (alertIds) => told.ofMany(alertIds),
      outboxCounts: () => stores.outbox.counts(),
      uplinks: forwarder,
      summary,
      coverage,
      baselines: {
        history: (deviceId) => stores.baselines.history(deviceId),
        set: async (b) => {
          await stores.baselines.add(b);
          audited(b.by, 'baseline.set', b.deviceId, { metric: b.metric, value: b.value, note: b.note });
          pipeline.baseline(b.deviceId, b.metric, b.value);
        },
      },
    },
    log,
    settings.API_RATE_LIMIT,
    settings.API_LOGIN_FAILURES,
  );

  // --- start ---------------------------------------------------------------------------------
  await gateway.start();
  await panels?.listen();
  await api.listen({ port: settings.HTTP_PORT, host: settings.HOST });
  const httpPort = (api.server.address() as { port: number }).port;
  if (opts.schedule ?? true) outbox.start(opts.outbox?.pollMs);
  const schedule = startSchedule(
    { tick: () => pipeline.tick(clock()), sweep, dailySummaries, retention: async () => void (await retention()), auditHead: publishAuditHead, monthlyReports, onError: (job, err) => log.error({ err, job }, 'scheduled job failed') },
    { tickMs: opts.tickMs ?? 1000, cron: opts.schedule ?? true },
  );
  const watcher = (opts.watchRegistry ?? true) ? registry.watchFile() : undefined;
  const onHup = () => void registry.reload();
  process.on('SIGHUP', onHup);
  audited('system', 'service.started', 'service', { devices: current().devices.size });
  log.info({ mqtt: gateway.ports.mqtt, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, firePanel: panels?.port, http: httpPort, store: telemetry.kind, dataDir: settings.DATA_DIR, devices: current().devices.size }, 'risk monitor started');

  const stop = () =>
    (stopping ??= (async () => {
      schedule.stop();
      health.stop();
      watcher?.close();
      process.off('SIGHUP', onHup);
      live.close();
      await gateway.stop();
      await panels?.close();
      await api.close();
      // everything accepted is on disk either way; a store known to be down is not waited for
      await pipeline.stop();
      await book.settled();
      // notices that cannot be written now are not waited for without end
      stores.outbox.stop();
      await dispatcher.idle();
      await outbox.stop();
      await forwarder.stop();
      await audit.append({ at: clock(), actor: 'system', action: 'service.stopped', subject: 'service', detail: null });
      channels.close();
      await stores.close();
    })());

  return {
    ports: { mqtt: gateway.ports.mqtt!, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, http: httpPort, firePanel: panels?.port },
    registry: current,
    book,
    dispatcher,
    telemetry,
    gateway,
    metrics,
    pipeline,
    reload: () => registry.reload(),
    outbox,
    silences: stores.silences,
    forwarder,
    /** escalation and silences now (tests drive the clock themselves) */
    sweep,
    dailySummaries,
    /** retention now (tests drive the clock themselves) */
    retention,
    /** the audit head to the uplinks now (tests) */
    publishAuditHead,
    /** the monthly reports now (tests drive the clock themselves) */
    monthlyReports,
    /** run time-driven rules now (tests drive the clock themselves); resolves once their changes are with the alert book */
    tick: () => pipeline.tick(clock()),
    /** every alert change so far recorded, its notices queued, and whatever is due sent (tests) */
    settled: async () => {
      await pipeline.idle();
      await book.settled();
      await dispatcher.idle();
      await outbox.run();
    },
    stop,
  };
}
