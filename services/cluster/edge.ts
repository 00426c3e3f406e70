import { hostname } from 'node:os';
import pino from 'pino';
import { deviceTopic } from '../../gateway/topics.ts';
import type { TelemetryTaken } from '../../gateway/publish.ts';
import type { GatewayDevice } from '../../gateway/sessions.ts';
import { buildCallers, tokenDigest, type Caller } from '../api/callers.ts';
import type { AppOptions } from '../app-options.ts';
import type { Reading } from '../../domain/types.ts';
import { composeFirePanels, composeGateway, credentialsFollower, loginVerifier, rememberLogins, type DeviceInput } from '../compose/edge.ts';
import { auditedBy } from '../audit/audit-log.ts';
import { faultReporter } from '../faults.ts';
import { createMetrics } from '../metrics.ts';
import { RegisteredDevicesTable } from '../registry/registered-devices.ts';
import { RegistryHolder } from '../registry/registry-holder.ts';
import type { Settings } from '../settings.ts';
import { PgSql } from '../store/postgres-sql.ts';
import { ClusterLog } from './log.ts';
import { natsServers, openSharedAudit } from './shared-stores.ts';
import { nodeHttp } from './node-http.ts';
import { changed, inbound, TO_DEVICES, type EdgeMessage } from './subjects.ts';

/**
 * The composition root of an MQTT edge (ROLE=edge): the gateway as in a single process (the
 * listeners, logins, topics, rates), with its other side the log: a device's telemetry is appended
 * to its enterprise's partition and the PUBACK waits for JetStream's acknowledgement (the message
 * is then on a majority of the stream's replicas, whoever reads it later); connections and status
 * go into the same partition, so they stay in order with the readings. What the workers send
 * devices and watchers (rejects, alerts/…, alarm-device commands) reaches every edge, which
 * publishes it to its own clients. Several edges run behind a TCP load balancer; a device that
 * loses one reconnects to another.
 */

export interface EdgeOptions {
  clock?: () => number;
  logger?: AppOptions['logger'];
  /** messages appended and not yet acknowledged by the log, past which devices wait for their PUBACKs */
  maxInFlight?: number;
}

export async function startEdge(settings: Settings, opts: EdgeOptions = {}) {
  const clock = opts.clock ?? Date.now;
  const log = opts.logger ?? pino({ level: settings.LOG_LEVEL });
  const node = settings.NODE_ID ?? `${hostname()}-${process.pid}`;
  const metrics = createMetrics();
  let stopping = false;

  const sql = PgSql.connect(settings.PG_URL!, { max: 4, application: `risk-monitor-edge-${node}` });
  const registered = await RegisteredDevicesTable.open(sql);
  const registry = await RegistryHolder.open({ configPath: settings.CONFIG, dataDir: settings.DATA_DIR, log, registered });
  const current = () => registry.current();
  const nats = await ClusterLog.connect(natsServers(settings), `edge-${node}`, log);
  await nats.ensureStreams(settings.CLUSTER_PARTITIONS, settings.CLUSTER_REPLICAS);

  // at most so many messages wait for the log's acknowledgement: past that, the next waits here,
  // and the broker reads no more from its connection (TCP pushes back on the device)
  const maxInFlight = opts.maxInFlight ?? 20_000;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const slot = () => (inFlight < maxInFlight ? (inFlight++, Promise.resolve()) : new Promise<void>((r) => waiting.push(() => (inFlight++, r()))));
  const done = () => {
    inFlight--;
    waiting.shift()?.();
  };
  const intoLog = async (device: GatewayDevice, payload: Buffer, at: number): Promise<TelemetryTaken> => {
    // what the worker would refuse whole does not go into the log (it would only fill it)
    const most = current().file.gateway.maxPayloadBytes;
    if (payload.length > most) return { rejects: [{ code: 'PAYLOAD_TOO_LARGE', detail: `${payload.length} bytes; at most ${most}` }], accepted: 0, durable: Promise.resolve() };
    await slot();
    const durable = nats.append(inbound(device.enterpriseId, device.deviceId, 't'), payload, at).then(() => undefined);
    void durable.then(done, done);
    // what is wrong with the message is said by the worker that reads it (a reject, later)
    return { rejects: [], accepted: 1, durable };
  };
  const input: DeviceInput = {
    onTelemetry(device, payload, at, reply) {
      intoLog(device, payload, at).then(
        (t) => reply.taken(t),
        (err: Error) => reply.failed(err),
      );
    },
    onLink(device, link, at, via) {
      if (stopping) return Promise.reject(new Error('the edge is stopping'));
      // the connection is this edge's and its client's: another edge's late news of an old one is not news
      const body = new TextEncoder().encode(JSON.stringify({ link, via: `${node}/${via}` }));
      // in the log is durable, as a reading is: a status message's PUBACK waits for it
      const logged = nats.append(inbound(device.enterpriseId, device.deviceId, 'l'), body, at).then(() => undefined);
      logged.catch((err: Error) => log.warn({ err: err.message, device: device.deviceId, link }, 'device link not put in the log'));
      return logged;
    },
  };
  // logins go in the shared audit trail, and who logged in from where stays trusted there across a restart
  const audit = await openSharedAudit(sql);
  const audited = auditedBy(audit, clock, log);
  const verifier = loginVerifier(current);
  let callers = new Map<string, Caller>();
  const gateway = await composeGateway({
    ...{ settings, registry: current, metrics, clock, log, input, verifier, tokenDigest },
    caller: (digest) => callers.get(digest),
    stopping: () => stopping,
    audited,
  });
  await rememberLogins(gateway, audit, clock(), log);
  registry.onChange((next) => (callers = buildCallers(next)));
  registry.onReload((outcome) => metrics.registryReloads.inc({ outcome }));
  registry.onChange(credentialsFollower(verifier, gateway));
  await registry.announce();
  const following = registry.follow();

  const subs = [
    nats.subscribe(TO_DEVICES, (_s, data) => {
      const m = JSON.parse(new TextDecoder().decode(data)) as EdgeMessage;
      if (m.kind === 'reject') gateway.answer(m, deviceTopic(m.enterpriseId, m.deviceId, 'telemetry'), m.rejects);
      else if (!gateway.broker.closed) void gateway.publish(m.topic, m.payload, 1).catch(() => {});
    }),
    nats.subscribe(changed('registry'), () => void registry.reload()),
  ];
  // fire alarm panels (GB/T 26875.3): their reports are readings of their device, into its partition;
  // a frame is confirmed once the log has them
  const append = (enterpriseId: string, deviceId: string, kind: 'r' | 'l' | 'c', body: unknown) => nats.append(inbound(enterpriseId, kind === 'c' ? null : deviceId, kind), new TextEncoder().encode(JSON.stringify(body)), clock());
  const panels = composeFirePanels({
    ...{ settings, registry: current, metrics, clock, log, faults: faultReporter(metrics, log) },
    readings: (readings) => {
      const byDevice = new Map<string, Reading[]>();
      for (const r of readings) byDevice.set(r.deviceId, [...(byDevice.get(r.deviceId) ?? []), r]);
      const stored = Promise.all([...byDevice].map(([deviceId, list]) => append(list[0].enterpriseId, deviceId, 'r', list))).then(() => undefined);
      return { stored, recorded: stored };
    },
    link: (deviceId, link) => {
      const e = current().devices.get(deviceId)?.enterprise.id;
      if (e && !stopping) append(e, deviceId, 'l', { link, via: node }).catch((err: Error) => log.warn({ err: err.message, deviceId }, 'panel link not put in the log'));
    },
    handle: async (outcomes) => {
      for (const o of outcomes) await append(o.enterpriseId, o.deviceId, 'c', { op: 'outcomes', outcomes: [o] });
    },
  });
  await gateway.start();
  await panels?.listen();
  const http = await nodeHttp({
    port: settings.HTTP_PORT,
    host: settings.HOST,
    metrics: metrics.registry,
    health: () => ({ status: gateway.broker.closed ? 'down' : 'ok', role: 'edge', node, clients: gateway.broker.connectedClients, inFlight }),
  });
  log.info({ node, mqtt: gateway.ports.mqtt, ws: gateway.ports.ws, http: http.port }, 'edge started');

  return {
    node,
    ports: { ...gateway.ports, http: http.port, firePanel: panels?.port },
    gateway,
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const s of subs) s.unsubscribe();
      following.close();
      await gateway.stop();
      await panels?.close();
      await http.close();
      await nats.close();
      // the last logins' entries written before the pool closes
      await audit.head().catch(() => {});
      audit.close();
      await sql.close();
    },
  };
}
