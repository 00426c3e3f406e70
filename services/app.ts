import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { SecretVerifier, hashSecret } from '../gateway/credentials.ts';
import { Gateway, type GatewayDevice } from '../gateway/broker.ts';
import { compileRules, evaluate, forget, newEngineState, seed, tick, type RuleSet } from '../rules/engine.ts';
import type { Reading } from '../rules/types.ts';
import { Fleet } from '../simulators/fleet.ts';
import { simDevicesFrom } from '../simulators/devices-from-registry.ts';
import { AlertBook } from './alerts/alert-book.ts';
import { AlertStore } from './alerts/alert-store.ts';
import { buildCallers, tokenDigest as tokenDigestOf, type Caller } from './api/callers.ts';
import type { ApiContext } from './api/context.ts';
import { ApiError } from './api/errors.ts';
import { buildApi } from './api/server.ts';
import { LiveStatus } from './devices/live-status.ts';
import { createMetrics } from './metrics.ts';
import { Dispatcher } from './notify/dispatcher.ts';
import { EmailChannel } from './notify/email.ts';
import { LiveStream } from './notify/live-stream.ts';
import { RegistryError, readRegistryFile, validateRegistry } from './registry/load.ts';
import { RegisteredDevices, withRegisteredDevices } from './registry/registered-devices.ts';
import { Registry } from './registry/registry.ts';
import { TEMPLATE_NAMES } from '../rules/templates/index.ts';
import type { Settings } from './settings.ts';
import { Database } from './store/database.ts';
import { DuckDbTelemetryStore } from './store/duckdb-telemetry.ts';

/**
 * The composition root: the one place where the gateway, rules, stores, alerts, notifications,
 * API and simulators are wired together. `npm start` and the end-to-end tests both run this.
 */
export interface AppOptions {
  clock?: () => number;
  logger?: Logger;
  /** retries per notification delivery (tests set 0) */
  notifyRetries?: number;
  /** how often time-driven rules are re-checked */
  tickMs?: number;
}

export type App = Awaited<ReturnType<typeof startApp>>;

const registrationBody = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'ids are 1–64 letters, digits, "_", "." or "-"'),
    name: z.string().max(100).optional(),
    reportIntervalS: z.number().positive().max(86_400).optional(),
    templates: z.array(z.enum(TEMPLATE_NAMES)).optional(),
    points: z.array(z.object({ metric: z.string(), unit: z.string().optional(), range: z.tuple([z.number(), z.number()]).optional(), name: z.string().optional() }).strict()).min(1),
  })
  .strict();

export async function startApp(settings: Settings, opts: AppOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? pino({ level: settings.LOG_LEVEL });
  const started = clock();

  // --- registry ------------------------------------------------------------------------------
  const registered = new RegisteredDevices(settings.DATA_DIR);
  const rawRegistry = await readRegistryFile(settings.CONFIG);
  const verifier = new SecretVerifier();
  let registry!: Registry;
  let ruleSet!: RuleSet;
  let callers!: Map<string, Caller>;
  const applyRegistry = (next: Registry) => {
    registry = next;
    ruleSet = compileRules(
      [...next.devices.values()].map(({ device, enterprise, rules }) => ({
        enterpriseId: enterprise.id,
        deviceId: device.id,
        rules,
        ranges: Object.fromEntries(device.points.filter((p) => p.range).map((p) => [p.metric, p.range!])),
      })),
    );
    callers = buildCallers(next);
    for (const { device } of next.devices.values()) if (device.secret) verifier.remember(device.id, device.secret);
  };
  const build = () => new Registry(validateRegistry(withRegisteredDevices(rawRegistry, registered.all()), settings.CONFIG));
  await registered.load();
  applyRegistry(build());

  // --- stores --------------------------------------------------------------------------------
  const db = await Database.open(settings.DATA_DIR);
  const [writer, reader, alertConn] = [await db.connect(), await db.connect(), await db.connect()];
  const telemetry = await DuckDbTelemetryStore.create(writer, reader);
  const alertStore = await AlertStore.create(alertConn);

  // --- rules and alerts ----------------------------------------------------------------------
  const engine = newEngineState();
  const book = new AlertBook(
    alertStore,
    (id) => {
      const ent = registry.enterprises.get(id);
      return { region: ent?.region ?? '', industry: ent?.industry ?? '' };
    },
    clock,
    (key) => forget(engine, key),
  );
  for (const a of await book.load()) {
    if (a.state === 'active') seed(ruleSet, engine, a.deviceId, a.rule, a.severity, typeof a.peak === 'number' ? a.peak : null);
  }
  const metrics = createMetrics();
  book.onChange(({ alert, transition }) => metrics.alertTransitions.inc({ type: transition.type, severity: alert.severity }));

  const status = new LiveStatus();
  for (const p of await telemetry.latest()) status.seed(p.deviceId, p.metric, p.value, p.ts);

  const handleOutcomes = (outcomes: ReturnType<typeof evaluate>) => {
    if (outcomes.length) book.handle(outcomes).catch((err: Error) => log.error({ err }, 'alert change not saved'));
  };
  const onReadings = (readings: Reading[]): Promise<void> => {
    status.onReadings(readings, clock());
    const durable = telemetry.append(readings);
    const ordered = readings.length > 1 ? [...readings].sort((a, b) => a.ts - b.ts) : readings;
    for (const r of ordered) handleOutcomes(evaluate(ruleSet, engine, r));
    metrics.ruleEvaluations.inc(readings.length);
    return durable;
  };

  // --- gateway -------------------------------------------------------------------------------
  const gatewayLog = log.child({ part: 'gateway' });
  const gateway = new Gateway({
    mqttPort: settings.MQTT_PORT,
    wsPort: settings.MQTT_WS_PORT,
    tls:
      settings.MQTTS_PORT !== undefined
        ? { port: settings.MQTTS_PORT, cert: await readFile(settings.TLS_CERT!), key: await readFile(settings.TLS_KEY!) }
        : undefined,
    host: settings.HOST,
    limits: {
      maxPayloadBytes: registry.file.gateway.maxPayloadBytes,
      maxReadingsPerMessage: registry.file.gateway.maxReadingsPerMessage,
      maxFutureSkewMs: registry.file.gateway.maxFutureSkewS * 1000,
    },
    findDevice: (id): GatewayDevice | undefined => {
      const e = registry.devices.get(id);
      return e && { enterpriseId: e.enterprise.id, deviceId: id, metrics: e.metrics, secretHash: e.device.secretHash };
    },
    findWatcher: (token) => {
      const c = callers.get(tokenDigestOf(token));
      return c && { name: c.name, sees: c.sees, all: c.role === 'operator' };
    },
    verifier,
    onReadings,
    onLink: (d, link, at) => status.onLink(d.deviceId, link, at),
    counters: metrics,
    clock,
    log: gatewayLog,
  });
  for (const [deviceId, seqs] of await telemetry.recentSeqs(4096)) gateway.intake.primeSeq(deviceId, seqs);

  // --- notifications -------------------------------------------------------------------------
  const live = new LiveStream();
  const email = settings.SMTP_URL ? new EmailChannel(settings.SMTP_URL, settings.MAIL_FROM) : undefined;
  const dispatcher = new Dispatcher({
    registry: () => registry,
    book,
    live,
    email,
    publishMqtt: (topic, payload) => gateway.publish(topic, payload, 1),
    publicUrl: settings.PUBLIC_URL.replace(/\/$/, ''),
    clock,
    counters: metrics,
    log: log.child({ part: 'notify' }),
    retries: opts.notifyRetries,
  });

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
      return { status: store.ok && !gateway.broker.closed ? 'ok' : 'degraded', broker, store: { kind: telemetry.kind, ...store }, uptimeS: Math.round((clock() - started) / 1000) };
    },
    registerDevice: async (enterpriseId, body, by) => {
      const input = registrationBody.safeParse(body ?? {});
      if (!input.success) {
        const i = input.error.issues[0];
        throw new ApiError('BAD_REQUEST', `body ${i.path.join('.')}: ${i.message}`, i.path.join('.'));
      }
      if (registry.devices.has(input.data.id)) throw new ApiError('CONFLICT', `device id ${input.data.id} is taken`, 'id');
      const secret = randomBytes(18).toString('base64url');
      const device = { ...input.data, secretHash: await hashSecret(secret) };
      const entry = { enterpriseId, registeredAt: new Date(clock()).toISOString(), registeredBy: by, device };
      let next: Registry;
      try {
        next = new Registry(validateRegistry(withRegisteredDevices(rawRegistry, [...registered.all(), entry]), 'registration'));
      } catch (e) {
        if (e instanceof RegistryError) throw new ApiError('BAD_REQUEST', e.problems.join('; '));
        throw e;
      }
      await registered.add(entry);
      applyRegistry(next);
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
  };
  const api = await buildApi(ctx, settings.LOG_LEVEL);

  await gateway.start();
  await api.listen({ port: settings.HTTP_PORT, host: settings.HOST });
  const httpPort = (api.server.address() as { port: number }).port;

  // time-driven rule changes (a duration that elapses with no new reading)
  const ticker = setInterval(() => handleOutcomes(tick(ruleSet, engine, clock())), opts.tickMs ?? 1000);
  ticker.unref();

  let fleet: Fleet | undefined;
  if (settings.SIMULATORS === 'on') {
    fleet = new Fleet({ url: `mqtt://127.0.0.1:${gateway.ports.mqtt}`, devices: simDevicesFrom(registry), log: (m) => log.info({ part: 'simulators' }, m) });
    await fleet.start();
  }
  log.info({ mqtt: gateway.ports.mqtt, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, http: httpPort, store: telemetry.kind, dataDir: settings.DATA_DIR, devices: registry.devices.size }, 'risk monitor started');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      clearInterval(ticker);
      await fleet?.stop();
      live.close();
      await gateway.stop();
      await api.close();
      await telemetry.flush();
      await book.settled();
      await dispatcher.idle();
      await telemetry.close();
      email?.close();
      for (const c of [writer, reader, alertConn]) c.close();
      db.close();
    })());

  return {
    ports: { mqtt: gateway.ports.mqtt!, ws: gateway.ports.ws, mqtts: gateway.ports.mqtts, http: httpPort },
    registry: () => registry,
    book,
    dispatcher,
    telemetry,
    gateway,
    metrics,
    /** run time-driven rules now (tests drive the clock themselves) */
    tick: () => handleOutcomes(tick(ruleSet, engine, clock())),
    stop,
  };
}
