import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Outcome, Reading } from '../../domain/types.ts';
import { SecretVerifier } from '../../gateway/credentials.ts';
import { MAX_TRUSTED, TRUST_MS } from '../../gateway/login-guard.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { Gateway, type GatewayDevice, type GatewayOptions } from '../../gateway/broker.ts';
import { FirePanelReceiver } from '../../gateway/fire-panel/receiver.ts';
import { describeUnmapped } from '../../gateway/fire-panel/panel-points.ts';
import { UnmappedAlarms } from '../alerts/panel-unmapped.ts';
import type { Caller } from '../api/callers.ts';
import type { LiveStatus } from '../devices/live-status.ts';
import { panelAt } from '../devices/panels.ts';
import type { Faults } from '../faults.ts';
import { loginsHashing, publishesUnanswered, type Metrics } from '../metrics.ts';
import type { PipelineClient } from '../pipeline/client.ts';
import type { Registry } from '../registry/registry.ts';
import type { RegistryFile } from '../registry/schema.ts';
import type { Settings } from '../settings.ts';
import { poolShares, threadPoolSize } from '../thread-pool.ts';
import type { AppOptions } from '../app-options.ts';

/** The gateway's limits, as the registry's `gateway` section gives them at start; an enterprise's connections as the registry in force says (its fleet grows). */
const gatewayLimits = (g: RegistryFile['gateway'], registry: () => Registry) => ({
  ...g,
  connectionsPerEnterprise: (enterpriseId: string) => registry().connectionLimitOf(enterpriseId),
  maxFutureSkewMs: g.maxFutureSkewS * 1000,
  login: { windowS: 60, maxFailuresPerAddress: g.maxLoginFailuresPerAddress, maxFailuresPerUsername: g.maxLoginFailuresPerDevice, banS: g.loginBanS },
});

interface EdgeDeps {
  settings: Settings;
  registry: () => Registry;
  pipeline: PipelineClient;
  status: LiveStatus;
  metrics: Metrics;
  clock: () => number;
  log: Logger;
}

/** Where a device's messages go: the reading pipeline of this process, or (cluster mode) the log. */
export interface DeviceInput {
  onTelemetry: GatewayOptions['onTelemetry'];
  onLink: GatewayOptions['onLink'];
}

/** A single process: telemetry to its reading pipeline; links to the live status and the rules. */
export function pipelineInput(d: Pick<EdgeDeps, 'pipeline' | 'status'> & { stopping: () => boolean }): DeviceInput {
  return {
    onTelemetry: (device, payload, at, reply) => d.pipeline.take(device.deviceId, payload, at, reply),
    onLink: (device, link, at) => {
      d.status.onLink(device.deviceId, link, at);
      if (link !== 'online' && link !== 'offline') return undefined;
      // shutting down, the will of each closed link is not news, and it has no PUBACK to answer
      if (d.stopping()) return Promise.reject(new Error('the service is stopping'));
      return d.pipeline.link(device.deviceId, link, at);
    },
  };
}

/**
 * Device secrets follow the registry: a removed device or a rotated secret is forgotten, and the
 * sessions of removed devices, rotated secrets and withdrawn tokens end now. A device whose entry
 * the registry kept from the one before (registry.ts) has the secret it had: hashing every secret
 * again at each registration took 30 ms of this thread at 10 000 devices.
 */
export function credentialsFollower(verifier: SecretVerifier, gateway: Gateway): (next: Registry) => void {
  let previous: Registry | undefined;
  return (next) => {
    verifier.retain((id) => next.devices.has(id));
    for (const entry of next.devices.values()) if (entry.device.secret && previous?.devices.get(entry.device.id) !== entry) verifier.remember(entry.device.id, entry.device.secret);
    previous = next;
    gateway.recheck();
  };
}

/** Device secrets, checked in turns within the logins' share of the thread pool (services/thread-pool.ts). */
export function loginVerifier(registry: () => Registry): SecretVerifier {
  return new SecretVerifier({ lanes: poolShares(threadPoolSize()).loginHashing, maxWaiting: registry().file.gateway.maxLoginsWaiting });
}

/**
 * Who logged in from where this past week, as the audit trail says, trusted at that address again:
 * a plant's NAT stays open to its own devices across a restart. A trail that cannot be read
 * leaves the trust to the logins from now on.
 */
export async function rememberLogins(gateway: Gateway, audit: Pick<AuditLog, 'recentLogins'>, now: number, log: Logger) {
  const earlier = await audit.recentLogins(now - TRUST_MS, MAX_TRUSTED).catch((err: Error) => (log.warn({ err: err.message }, 'earlier logins not read from the audit trail: addresses trust the logins from now on'), []));
  gateway.rememberLogins(earlier);
}

/** The MQTT listeners (TCP, WebSocket, TLS): devices by their registry entry, watchers by token. */
export async function composeGateway(
  d: Pick<EdgeDeps, 'settings' | 'registry' | 'metrics' | 'clock' | 'log'> & {
    input: DeviceInput;
    verifier: SecretVerifier;
    caller: (tokenDigestOf: string) => Caller | undefined;
    tokenDigest: (token: string) => string;
    /** the service itself is shutting down: devices losing their connection is not news */
    stopping: () => boolean;
    audited: (actor: string, action: string, subject: string, detail: unknown) => void;
    options?: AppOptions['gateway'];
  },
): Promise<Gateway> {
  const { settings, registry } = d;
  loginsHashing(d.metrics.registry, () => d.verifier.hashing());
  const gateway: Gateway = new Gateway({
    mqttPort: settings.MQTT_PORT,
    wsPort: settings.MQTT_WS_PORT,
    tls: settings.MQTTS_PORT !== undefined ? { port: settings.MQTTS_PORT, cert: await readFile(settings.TLS_CERT!), key: await readFile(settings.TLS_KEY!) } : undefined,
    host: settings.HOST,
    limits: gatewayLimits(registry().file.gateway, registry),
    crowdedAt: d.options?.crowdedAt,
    maxUnsentBytes: d.options?.maxUnsentBytes,
    findDevice: (id): GatewayDevice | undefined => {
      const e = registry().devices.get(id);
      return e && { enterpriseId: e.enterprise.id, deviceId: id, points: e.points, secretHash: e.device.secretHash };
    },
    tokenDigest: d.tokenDigest,
    findWatcher: (digest) => {
      const c = d.caller(digest);
      return c && { name: c.name, sees: c.sees, all: c.role === 'operator' };
    },
    verifier: d.verifier,
    onTelemetry: d.input.onTelemetry,
    onLink: d.input.onLink,
    counters: d.metrics,
    clock: d.clock,
    log: d.log.child({ part: 'gateway' }),
    onLogin: (who, ok, reason, address) => d.audited(who, ok ? 'login.mqtt' : 'login.mqtt.refused', who, { reason, address }),
  });
  publishesUnanswered(d.metrics.registry, () => gateway.unanswered());
  return gateway;
}

/**
 * Fire alarm panels speak GB/T 26875.3 over TCP; their reports are readings like any device's.
 * Reports from components no point stands for are alerts of their own, for the operators.
 */
export function composeFirePanels(
  d: Pick<EdgeDeps, 'settings' | 'registry' | 'metrics' | 'clock' | 'log'> & {
    faults: Faults;
    /** a panel's readings: stored, and what they caused recorded (the confirm waits for both) */
    readings: (readings: Reading[]) => { stored: Promise<void>; recorded: Promise<void> };
    link: (deviceId: string, link: 'connected' | 'disconnected', at: number) => void;
    handle: (outcomes: Outcome[]) => Promise<void>;
  },
): FirePanelReceiver | undefined {
  const { settings, registry, clock, log } = d;
  if (settings.FIRE_PANEL_PORT === undefined) {
    // such a device cannot report at all: it goes offline, and the operators should know why
    const panels = [...registry().enterprises.values()].flatMap((e) => e.devices.filter((dev) => dev.panelAddress !== undefined).map((dev) => dev.id));
    if (panels.length) log.warn({ devices: panels.slice(0, 20), count: panels.length }, 'the registry lists fire panels (GB/T 26875.3) but FIRE_PANEL_PORT is not set: they cannot report, and go offline');
    return undefined;
  }
  const unmapped = new UnmappedAlarms();
  const onReadings = d.readings;
  return new FirePanelReceiver({
    port: settings.FIRE_PANEL_PORT,
    host: settings.HOST,
    address: settings.FIRE_PANEL_ADDRESS,
    findPanel: (address) => panelAt(registry(), address),
    onReadings,
    onHeartbeat: (p, at) => d.faults.isolated('fire-panel', () => void onReadings([{ enterpriseId: p.enterpriseId, deviceId: p.deviceId, ts: at, values: Object.create(null) }])),
    onLink: (p, link, at) => d.link(p.deviceId, link, at),
    onUnmapped: (p, reports, at) => {
      const described = reports.map(describeUnmapped);
      const alarming = described.filter((u) => u.fire || u.fault);
      if (alarming.length) log.warn({ panel: p.deviceId, reports: alarming.length, first: alarming[0].where }, 'fire panel reports from components no point stands for');
      const outcomes = unmapped.report(p, described, at);
      return outcomes.length ? d.handle(outcomes) : Promise.resolve();
    },
    counters: { frames: d.metrics.firePanelFrames },
    maxFutureSkewMs: registry().file.gateway.maxFutureSkewS * 1000,
    clock,
    log: log.child({ part: 'fire-panel' }),
  });
}
