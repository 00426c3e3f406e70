import { randomBytes } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { SecretVerifier, hashSecret } from '../gateway/credentials.ts';
import { Gateway, type GatewayDevice } from '../gateway/broker.ts';
import { TEMPLATE_NAMES } from '../rules/templates/index.ts';
import type { Outcome, Reading } from '../rules/types.ts';
import { simDevicesFrom } from '../simulators/devices-from-registry.ts';
import { Fleet } from '../simulators/fleet.ts';
import { AlertBook } from './alerts/alert-book.ts';
import { AlertStore } from './alerts/alert-store.ts';
import { buildCallers, tokenDigest, type Caller } from './api/callers.ts';
import type { ApiContext } from './api/context.ts';
import { ApiError } from './api/errors.ts';
import { buildApi } from './api/server.ts';
import { LiveStatus } from './devices/live-status.ts';
import { createMetrics } from './metrics.ts';
import cron from 'node-cron';
import { escalate } from './alerts/escalation.ts';
import { previousDayCst, renderDailySummary, summarize } from './alerts/reports.ts';
import { Silences } from './alerts/silences.ts';
import { Dispatcher } from './notify/dispatcher.ts';
import { EmailChannel } from './notify/email.ts';
import { LiveStream } from './notify/live-stream.ts';
import { Outbox } from './notify/outbox.ts';
import { OutboxStore } from './notify/outbox-store.ts';
import { policyFor } from './notify/routing.ts';
import { RegistryError, formatPath, readRegistryFile } from './registry/load.ts';
import { composeRegistry } from './registry/compose.ts';
import { RegisteredDevices, type RegisteredDevice } from './registry/registered-devices.ts';
import type { Registry } from './registry/registry.ts';
import { id, pointSchema } from './registry/schema.ts';
import { BaselineStore } from './rules/baselines.ts';
import { AuditLog } from './audit/audit-log.ts';
import { RuleRunner } from './rules/runner.ts';
import { Forwarder } from './forward/forwarder.ts';
import type { Settings } from './settings.ts';
import { Database } from './store/database.ts';
import { DuckDbTelemetryStore } from './store/duckdb-telemetry.ts';
import { InfluxTelemetryStore } from './store/influx-telemetry.ts';
import type { TelemetryStore } from './store/telemetry-store.ts';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * The composition root: the one place where the gateway, rules, stores, alerts, notifications,
 * API and simulators are wired together. `npm start` and the end-to-end tests both run this.
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
}

export type App = Awaited<ReturnType<typeof startApp>>;

/** The pseudo-enterprise of the service's own alerts (a failing notification channel). */
export const SYSTEM = '_system';

/** What an enterprise may say of a device it registers: the registry's own shapes, no secret. */
const registrationBody = z
  .object({
    id,
    name: z.string().max(100).optional(),
    reportIntervalS: z.number().positive().max(86_400).optional(),
    templates: z.array(z.enum(TEMPLATE_NAMES as [string, ...string[]])).optional(),
    points: z.array(pointSchema).min(1),
  })
  .strict();

export async function startApp(settings: Settings, opts: AppOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? pino({ level: settings.LOG_LEVEL });
  const started = clock();
  const metrics = createMetrics();

  // --- stores --------------------------------------------------------------------------------
  // readings first: an older data folder's readings move to their own file before the rest opens
  const tsdb = settings.INFLUX_URL ? undefined : await Database.openTelemetry(settings.DATA_DIR);
  const db = await Database.open(settings.DATA_DIR);
  // a connection per job: each runs its statements in order, so the alert record, the outbox and
  // the audit trail must not queue behind one another (or behind readings) under load
  const [alertConn, outboxConn, auditConn] = [await db.connect(), await db.connect(), await db.connect()];
  const telemetryConns = tsdb ? [await tsdb.connect(), await tsdb.connect()] : [];
  // deployments keep time series in InfluxDB; the embedded store is the default for trying it out
  let registryRef: Registry | undefined;
  let onInfluxBufferFull: (depth: { batches: number; bytes: number }) => void = () => {};
  const telemetry: TelemetryStore & { annotate?: InfluxTelemetryStore['annotate'] } = settings.INFLUX_URL
    ? await InfluxTelemetryStore.create({
        url: settings.INFLUX_URL,
        database: settings.INFLUX_DB,
        username: settings.INFLUX_USER,
        password: settings.INFLUX_PASSWORD,
        v2: settings.INFLUX_TOKEN ? { token: settings.INFLUX_TOKEN, org: settings.INFLUX_ORG ?? '', bucket: settings.INFLUX_BUCKET ?? settings.INFLUX_DB } : undefined,
        bufferDir: join(settings.DATA_DIR, 'influx-buffer'),
        maxBufferBytes: settings.INFLUX_BUFFER_MB * 1024 * 1024,
        placement: (id) => {
          const ent = registryRef?.enterprises.get(id);
          return { region: ent?.region ?? '', industry: ent?.industry ?? '' };
        },
        onBufferFull: (d) => onInfluxBufferFull(d),
        log: log.child({ part: 'influx' }),
      })
    : await DuckDbTelemetryStore.create(telemetryConns[0], telemetryConns[1]);
  const alertStore = await AlertStore.create(alertConn);
  const baselines = await BaselineStore.create(alertConn);
  const outboxStore = await OutboxStore.create(outboxConn);
  const silences = await Silences.create(alertConn);
  const audit = await AuditLog.create(auditConn);
  const audited = (actor: string, action: string, subject: string, detail: unknown) =>
    void audit.append({ at: clock(), actor, action, subject, detail }).catch((err: Error) => log.error({ err }, 'audit entry not written'));

  // --- rules and alerts ----------------------------------------------------------------------
  let registry!: Registry;
  let callers = new Map<string, Caller>();
  const placement = (id: string) => {
    const ent = registry.enterprises.get(id);
    return { region: ent?.region ?? '', industry: ent?.industry ?? (id === SYSTEM ? 'system' : '') };
  };
  const policy = (enterpriseId: string) => {
    const ent = registry.enterprises.get(enterpriseId);
    return policyFor(registry.file.routing, ent?.industry, ent?.routing);
  };
  /** a listener or a rule that threw: logged and counted; the others carry on */
  const fault = (part: string) => (err: Error, about?: unknown) => {
    metrics.internalFaults.inc({ part });
    log.error({ err: err?.message ?? String(err), stack: err?.stack, part, about }, 'fault isolated');
  };
  const book: AlertBook = new AlertBook(alertStore, placement, clock, (key) => rules.forget(key), (err, c) => fault('alert-listener')(err, { alert: c.alert.id, transition: c.transition.type }));
  const handleOutcomes = (outcomes: Outcome[]) => book.handle(outcomes).catch((err: Error) => log.error({ err }, 'alert change not saved yet; kept for the next commit'));
  const rules = new RuleRunner(clock, (outcomes) => book.handle(outcomes), fault('rules'));
  /** one part of the reading path that throws must not stop the others */
  const isolated = (part: string, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      fault(part)(e as Error);
    }
  };
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
  book.onChange(({ alert, transition }) => {
    forwarder.alarm(alert, transition);
    metrics.alertTransitions.inc({ type: transition.type, severity: alert.severity });
    telemetry.annotate?.(alert, transition.type, transition.at).catch((err: Error) => log.warn({ err: err.message }, 'alert annotation not written'));
    audited(transition.actor, `alert.${transition.type}`, alert.id, {
      rule: alert.rule,
      enterpriseId: alert.enterpriseId,
      deviceId: alert.deviceId,
      severity: alert.severity,
      ...(transition.note ? { note: transition.note } : {}),
      ...(transition.detail ? { detail: transition.detail } : {}),
    });
  });

  // --- registry ------------------------------------------------------------------------------
  const registered = new RegisteredDevices(settings.DATA_DIR);
  await registered.load();
  const verifier = new SecretVerifier();
  let rawRegistry = await readRegistryFile(settings.CONFIG);
  let gatewayRef: Gateway | undefined;
  const build = (raw: unknown, extra: readonly RegisteredDevice[], source: string) => {
    const { registry: next, skipped } = composeRegistry(raw, extra, source);
    for (const s of skipped) log.warn({ deviceId: s.id, why: s.why }, 'a device registered through the API is set aside: the registry file no longer fits it');
    return next;
  };
  const useRegistry = (next: Registry) => {
    registry = next;
    registryRef = next;
    callers = buildCallers(next);
    verifier.retain((id) => next.devices.has(id));
    for (const { device } of next.devices.values()) if (device.secret) verifier.remember(device.id, device.secret);
    // sessions of removed devices, rotated secrets and withdrawn tokens end now
    gatewayRef?.recheck();
    rules.use(next);
    silences.useRegistry(next.file.maintenance);
    return forwarder.use(next).catch((err: Error) => log.error({ err: err.message }, 'uplinks not opened'));
  };
  await useRegistry(build(rawRegistry, registered.all(), settings.CONFIG));
  for (const b of await baselines.current()) rules.baseline(b.deviceId, b.metric, b.value);
  rules.restore(await book.load());

  /** Re-read CONFIG; a registry that fails validation is refused and the old one keeps running. */
  const reload = async (): Promise<{ ok: true } | { ok: false; problems: string[] }> => {
    try {
      const raw = await readRegistryFile(settings.CONFIG);
      const next = build(raw, registered.all(), settings.CONFIG);
      // a half-saved or emptied file must not lock every device and user out
      const empty = [...(next.devices.size ? [] : ['it lists no devices']), ...(next.file.users.length ? [] : ['it lists no users'])];
      if (empty.length) throw new RegistryError(settings.CONFIG, empty.map((e) => `(root): ${e}; a reload that would refuse everyone is not applied`));
      rawRegistry = raw;
      useRegistry(next);
      metrics.registryReloads.inc({ outcome: 'applied' });
      audited('system', 'registry.reloaded', settings.CONFIG, { devices: next.devices.size, enterprises: next.enterprises.size });
      log.info({ devices: next.devices.size }, 'registry reloaded');
      return { ok: true };
    } catch (e) {
      const problems = e instanceof RegistryError ? e.problems : [(e as Error).message];
      metrics.registryReloads.inc({ outcome: 'refused' });
      audited('system', 'registry.refused', settings.CONFIG, { problems });
      log.error({ problems }, 'registry reload refused; the previous registry stays in force');
      return { ok: false, problems };
    }
  };

  const status = new LiveStatus();
  // the service starts even while a deployment store is unreachable: it buffers, and catches up
  const atStart = async <T>(what: string, fn: () => Promise<T>, fallback: T): Promise<T> =>
    fn().catch((err: Error) => (log.warn({ err: err.message }, `${what} not read at start: the store is unreachable`), fallback));
  for (const p of await atStart('last values', () => telemetry.latest(), [])) status.seed(p.deviceId, p.metric, p.value, p.ts);

  const onReadings = (readings: Reading[]) => {
    const recorded = rules.readings(readings);
    // what readings raised is in the alert record before they are in the store: after a crash in
    // between, the device's resend is evaluated again instead of being dropped as a duplicate of
    // stored readings whose alarm was lost (at worst an alarm is recorded twice, never lost)
    const stored = recorded ? recorded.then(() => telemetry.append(readings)) : telemetry.append(readings);
    isolated('live-status', () => status.onReadings(readings, clock()));
    isolated('forward', () => forwarder.readings(readings));
    metrics.ruleEvaluations.inc(readings.length);
    return { stored, recorded: recorded ?? Promise.resolve() };
  };

  let stopping: Promise<void> | undefined;

  // --- gateway -------------------------------------------------------------------------------
  const gateway = new Gateway({
    mqttPort: settings.MQTT_PORT,
    wsPort: settings.MQTT_WS_PORT,
    tls:
      settings.MQTTS_PORT !== undefined
        ? { port: settings.MQTTS_PORT, cert: await readFile(settings.TLS_CERT!), key: await readFile(settings.TLS_KEY!) }
        : undefined,
    host: settings.HOST,
    limits: (({ gateway: g }) => ({
      maxPayloadBytes: g.maxPayloadBytes,
      maxReadingsPerMessage: g.maxReadingsPerMessage,
      maxFutureSkewMs: g.maxFutureSkewS * 1000,
      maxPacketBytes: g.maxPacketBytes,
      messagesPerS: g.messagesPerS,
      messageBurst: g.messageBurst,
      maxConnectionsPerEnterprise: g.maxConnectionsPerEnterprise,
      maxConnectionsPerDevice: g.maxConnectionsPerDevice,
      maxOfflineQueue: g.maxOfflineQueue,
      maxKeepaliveS: g.maxKeepaliveS,
      login: { windowS: 60, maxFailuresPerAddress: g.maxLoginFailuresPerAddress, maxFailuresPerUsername: g.maxLoginFailuresPerDevice, banS: g.loginBanS },
    }))(registry.file),
    findDevice: (id): GatewayDevice | undefined => {
      const e = registry.devices.get(id);
      return e && { enterpriseId: e.enterprise.id, deviceId: id, metrics: e.metrics, ranges: e.ranges, secretHash: e.device.secretHash };
    },
    findWatcher: (token) => {
      const c = callers.get(tokenDigest(token));
      return c && { name: c.name, sees: c.sees, all: c.role === 'operator' };
    },
    verifier,
    onReadings,
    onLink: (d, link, at) => {
      status.onLink(d.deviceId, link, at);
      // while the service itself shuts down, devices losing their connection is not news
      if ((link === 'online' || link === 'offline') && !stopping) rules.link(d.deviceId, link, at);
    },
    counters: metrics,
    clock,
    log: log.child({ part: 'gateway' }),
    onLogin: (who, ok, reason, address) => audited(who, ok ? 'login.mqtt' : 'login.mqtt.refused', who, { reason, address }),
  });
  gatewayRef = gateway;
  for (const [deviceId, seqs] of await atStart('recent seqs', () => telemetry.recentSeqs(4096), new Map<string, [number, number][]>())) gateway.intake.primeSeq(deviceId, seqs);

  // --- notifications -------------------------------------------------------------------------
  const live = new LiveStream();
  const email = settings.SMTP_URL ? new EmailChannel(settings.SMTP_URL, settings.MAIL_FROM) : undefined;
  const notifyLog = log.child({ part: 'notify' });
  const outbox = new Outbox({
    store: outboxStore,
    registry: () => registry,
    book,
    email,
    clock,
    publicUrl: settings.PUBLIC_URL.replace(/\/$/, ''),
    policy,
    counters: metrics,
    log: notifyLog,
    ...opts.outbox,
    // a channel that keeps failing is itself an alert, for the operators
    onChannelHealth: (unit, channel, failing, error) =>
      handleOutcomes([
        {
          key: `${SYSTEM}/notify:${unit.id}:${channel}`,
          change: failing ? 'raise' : 'clear',
          ruleId: 'notification-channel',
          ruleKind: 'system',
          enterpriseId: SYSTEM,
          deviceId: SYSTEM,
          metric: channel,
          severity: failing ? 'major' : null,
          value: null,
          peak: null,
          threshold: null,
          at: clock(),
          message: failing ? `通知渠道持续失败：${unit.name} ${channel}（${error}）/ notification channel failing: ${unit.id} ${channel}: ${error}` : `通知渠道恢复 / notification channel delivering again: ${unit.id} ${channel}`,
        },
      ]),
  });
  // a full InfluxDB buffer refuses readings (QoS 1 devices then retry): operators must know at once
  onInfluxBufferFull = (d) =>
    handleOutcomes([
      {
        key: `${SYSTEM}/influx-buffer`,
        change: 'raise',
        ruleId: 'store-buffer-full',
        ruleKind: 'system',
        enterpriseId: SYSTEM,
        deviceId: SYSTEM,
        metric: 'influx_buffer',
        severity: 'critical',
        value: d.bytes,
        peak: d.bytes,
        threshold: settings.INFLUX_BUFFER_MB * 1024 * 1024,
        at: clock(),
        message: `InfluxDB 不可用，磁盘缓冲已满（${d.batches} 批）/ InfluxDB unreachable and its disk buffer is full (${d.batches} batches): readings are being refused`,
      },
    ]);
  const dispatcher = new Dispatcher({
    registry: () => registry,
    policy,
    book,
    live,
    outbox,
    silences,
    emailEnabled: email !== undefined,
    publishMqtt: (topic, payload) => (gateway.broker.closed ? Promise.resolve() : gateway.publish(topic, payload, 1)),
    clock,
    log: notifyLog,
  });

  /** Each regulator unit with a channel gets yesterday's summary of its regions. */
  const dailySummaries = async () => {
    const { from, to } = previousDayCst(clock());
    for (const unit of registry.units.values()) {
      if (unit.kind !== 'regulator' || (!unit.email.length && !unit.webhooks.length)) continue;
      const ids = [...registry.enterprises.values()].filter((e) => unit.regions.some((r) => e.region.startsWith(r))).map((e) => e.id);
      const rows = await summarize({ registry, alerts: alertStore, telemetry }, { from, to, enterpriseIds: ids });
      const msg = renderDailySummary(unit.name, rows, from, to);
      const body = { notice: 'summary' as const, ...msg, data: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), items: rows } };
      const channels = [...(email && unit.email.length ? ['email'] : []), ...unit.webhooks.map((_, i) => `webhook:${i}`)];
      await outbox.enqueue(channels.map((channel) => ({ unitId: unit.id, channel, alertId: null, body, urgent: true, enterpriseId: ids[0] ?? '' })));
    }
  };

  /** Escalation, reminders and overdue alerts; silences starting and ending. Driven by the clock. */
  const sweep = async () => {
    const now = clock();
    await book.sweep((a) => escalate(a, policy(a.enterpriseId), now));
    const { started, ended } = await silences.due(now);
    for (const s of started) dispatcher.announceSilence(s, 'started');
    for (const s of ended) dispatcher.announceSilence(s, 'ended');
  };

  // --- API -----------------------------------------------------------------------------------
  const ctx: ApiContext = {
    registry: () => registry,
    caller: (digest) => callers.get(digest),
    book,
    alerts: alertStore,
    telemetry,
    live,
    status,
    metrics,
    clock,
    health: () => {
      const store = telemetry.health();
      const broker = { closed: gateway.broker.closed, clients: gateway.broker.connectedClients, ports: gateway.ports };
      // the alert record is part of the alarm path: a record that cannot commit is not "ok"
      const alerts = book.health();
      return { status: store.ok && alerts.ok && !gateway.broker.closed ? 'ok' : 'degraded', broker, store: { kind: telemetry.kind, ...store }, alerts, uptimeS: Math.round((clock() - started) / 1000) };
    },
    registerDevice: async (enterpriseId, body, by) => {
      const input = registrationBody.safeParse(body ?? {});
      if (!input.success) {
        const i = input.error.issues[0];
        const field = formatPath(i.path);
        throw new ApiError('BAD_REQUEST', `body ${field}: ${i.message}`, field);
      }
      if (registry.devices.has(input.data.id)) throw new ApiError('CONFLICT', `device id ${input.data.id} is taken`, 'id');
      const secret = randomBytes(18).toString('base64url');
      const device = { ...input.data, secretHash: await hashSecret(secret) };
      const entry = { enterpriseId, registeredAt: new Date(clock()).toISOString(), registeredBy: by, device };
      let next: Registry;
      try {
        const composed = composeRegistry(rawRegistry, [...registered.all(), entry], 'registration');
        const refused = composed.skipped.find((s) => s.id === device.id);
        if (refused) throw new RegistryError('registration', [refused.why]);
        next = composed.registry;
      } catch (e) {
        if (e instanceof RegistryError) throw new ApiError('BAD_REQUEST', e.problems.join('; '));
        throw e;
      }
      await registered.add(entry);
      useRegistry(next);
      audited(by, 'device.registered', device.id, { enterpriseId });
      log.info({ enterpriseId, deviceId: device.id, by }, 'device registered');
      const host = new URL(settings.PUBLIC_URL).hostname;
      return {
        device: { id: device.id, enterpriseId, points: device.points, templates: device.templates ?? [] },
        secret,
        mqtt: {
          url: `mqtt://${host}:${gateway.ports.mqtt}`,
          wsUrl: gateway.ports.ws ? `ws://${host}:${gateway.ports.ws}` : null,
          username: device.id,
          password: secret,
          telemetryTopic: `v1/${enterpriseId}/${device.id}/telemetry`,
          statusTopic: `v1/${enterpriseId}/${device.id}/status`,
          rejectTopic: `v1/${enterpriseId}/${device.id}/reject`,
          commandTopic: `v1/${enterpriseId}/${device.id}/command`,
        },
        note: 'the secret is shown only now; the service keeps only its hash',
      };
    },
    silences,
    audit: { append: (actor, action, subject, detail) => audited(actor, action, subject, detail), verify: () => audit.verify() },
    announceSilences: async () => {
      const { started, ended } = await silences.due(clock());
      for (const s of started) dispatcher.announceSilence(s, 'started');
      for (const s of ended) dispatcher.announceSilence(s, 'ended');
    },
    notificationsOf: (alertId) => outboxStore.forAlert(alertId),
    outboxCounts: () => outboxStore.counts(),
    uplinks: forwarder,
    summary: (q) => summarize({ registry, alerts: alertStore, telemetry }, q),
    baselines: {
      history: (deviceId) => baselines.history(deviceId),
      set: async (b) => {
        await baselines.add(b);
        audited(b.by, 'baseline.set', b.deviceId, { metric: b.metric, value: b.value, note: b.note });
        rules.baseline(b.deviceId, b.metric, b.value);
      },
    },
  };
  const api = await buildApi(ctx, log, settings.API_RATE_LIMIT, settings.API_LOGIN_FAILURES);

  await gateway.start();
  await api.listen({ port: settings.HTTP_PORT, host: settings.HOST });
  const httpPort = (api.server.address() as { port: number }).port;

  // time-driven rules: durations and deadlines that pass with no reading, silent devices
  const ticker = opts.tickMs === 0 ? undefined : setInterval(() => rules.tick(), opts.tickMs ?? 1000);
  ticker?.unref();
  const jobs: { stop(): void }[] = [];
  if (opts.schedule ?? true) {
    outbox.start(opts.outbox?.pollMs);
    jobs.push(cron.schedule('*/10 * * * * *', () => void sweep().catch((err: Error) => log.error({ err }, 'escalation sweep failed')), { noOverlap: true }));
    jobs.push(cron.schedule('0 0 8 * * *', () => void dailySummaries().catch((err: Error) => log.error({ err }, 'daily summary failed')), { timezone: 'Asia/Shanghai' }));
  }

  let watcher: FSWatcher | undefined;
  if (opts.watchRegistry ?? true) {
    let pending: NodeJS.Timeout | undefined;
    // editors save in several steps: wait for the file to settle
    // the folder, not the file: editors and `sed -i` save by renaming a new file over the old
    // one, and a watch on the old file would hear nothing after the first save
    const file = basename(settings.CONFIG);
    watcher = watch(dirname(resolve(settings.CONFIG)), (_event, name) => {
      if (name !== null && name.toString() !== file) return;
      clearTimeout(pending);
      pending = setTimeout(() => void reload(), 300);
    });
    watcher.on('error', (err) => log.warn({ err: err.message }, 'registry file watch stopped'));
  }
  const onHup = () => void reload();
  process.on('SIGHUP', onHup);

  let fleet: Fleet | undefined;
  if (settings.SIMULATORS === 'on') {
    fleet = new Fleet({ url: `mqtt://127.0.0.1:${gateway.ports.mqtt}`, devices: simDevicesFrom(registry), log: (m) => log.info({ part: 'simulators' }, m) });
    await fleet.start();
  }
  audited('system', 'service.started', 'service', { devices: registry.devices.size });
  log.info({ mqtt: gateway.ports.mqtt, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, http: httpPort, store: telemetry.kind, dataDir: settings.DATA_DIR, devices: registry.devices.size }, 'risk monitor started');

  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(ticker);
      for (const j of jobs) j.stop();
      watcher?.close();
      process.off('SIGHUP', onHup);
      // the built-in plants are not switched off: the service is; they do not say goodbye
      await fleet?.stop(false);
      live.close();
      await gateway.stop();
      await api.close();
      await telemetry.flush();
      await book.settled();
      await dispatcher.idle();
      await outbox.stop();
      await forwarder.stop();
      await audit.append({ at: clock(), actor: 'system', action: 'service.stopped', subject: 'service', detail: null });
      await telemetry.close();
      email?.close();
      await Promise.all([...telemetryConns, alertConn, outboxConn, auditConn].map((c) => c.close()));
      db.close();
      tsdb?.close();
    })());

  return {
    ports: { mqtt: gateway.ports.mqtt!, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, http: httpPort },
    registry: () => registry,
    book,
    dispatcher,
    telemetry,
    gateway,
    metrics,
    rules,
    reload,
    outbox,
    silences,
    forwarder,
    /** escalation and silences now (tests drive the clock themselves) */
    sweep,
    dailySummaries,
    /** run time-driven rules now (tests drive the clock themselves) */
    tick: () => rules.tick(),
    stop,
  };
}
