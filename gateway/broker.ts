import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { Reading } from '../rules/types.ts';
import type { SecretVerifier } from './credentials.ts';
import type { DeviceScope } from './decode.ts';
import { TelemetryIntake } from './ingest.ts';
import { guardFrames } from './frame-guard.ts';
import { LoginGuard } from './login-guard.ts';
import { RateLimiter } from './rate-limit.ts';
import { REJECT_CODES, type Reject } from './reject-codes.ts';
import { deviceTopic, filterWithin, parseDeviceTopic } from './topics.ts';

/**
 * The MQTT edge: the embedded aedes broker, its listeners, and the hooks that decide who may
 * connect, publish and subscribe. Accepted readings leave through `onReadings`; the gateway knows
 * nothing of rules or alerts.
 */
export interface GatewayDevice extends DeviceScope {
  secretHash?: string;
}

/** A non-device MQTT client (a control-room tool) that logs in with an API token to follow alerts. */
export interface GatewayWatcher {
  name: string;
  /** may this watcher receive alerts of that enterprise? */
  sees(enterpriseId: string): boolean;
  all: boolean;
}

export type DeviceLink = 'online' | 'offline' | 'connected' | 'disconnected';

export interface GatewayCounters {
  messagesIn: { inc(): void };
  readingsAccepted: { inc(n: number): void };
  rejected: { inc(labels: { code: string }): void };
  authFailures: { inc(labels: { reason: string }): void };
  /** connections closed by the gateway's own limits, by reason */
  connectionsRefused: { inc(labels: { reason: string }): void };
}

export interface GatewayOptions {
  mqttPort: number;
  wsPort?: number;
  tls?: { port: number; cert: string | Buffer; key: string | Buffer };
  host?: string;
  limits: {
    maxPayloadBytes: number;
    maxReadingsPerMessage: number;
    maxFutureSkewMs: number;
    maxPacketBytes: number;
    messagesPerS: number;
    messageBurst: number;
    maxConnectionsPerEnterprise: number;
    maxKeepaliveS: number;
    login: { windowS: number; maxFailuresPerAddress: number; maxFailuresPerUsername: number; banS: number };
  };
  findDevice(deviceId: string): GatewayDevice | undefined;
  findWatcher(token: string): GatewayWatcher | undefined;
  verifier: SecretVerifier;
  /** resolves when the readings are durable; QoS 1 PUBACKs wait for it */
  onReadings(readings: Reading[]): Promise<void>;
  onLink(device: DeviceScope, link: DeviceLink, at: number): void;
  /** every MQTT login, accepted or refused, for the audit trail */
  onLogin?(who: string, ok: boolean, reason: string, address: string | undefined): void;
  counters: GatewayCounters;
  clock: () => number;
  log: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void };
}

/** `telemetry`: the device's own telemetry topic, so the hot path compares instead of parsing */
type Principal = { kind: 'device'; device: GatewayDevice; telemetry: string } | { kind: 'watcher'; watcher: GatewayWatcher };

/** aedes has no way to refuse a QoS 0/1 PUBLISH under MQTT 3.1.1 without dropping the link; we
 * re-address refused packets to a topic nobody may subscribe to, as mosquitto drops them. */
const NOWHERE = '$refused';

export class Gateway {
  readonly broker: Aedes;
  readonly intake: TelemetryIntake;
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly servers: (NetServer | HttpServer)[] = [];
  private wss?: WebSocketServer;
  ports: { mqtt?: number; ws?: number; mqtts?: number } = {};
  private readonly guard: LoginGuard;
  private readonly limiter: RateLimiter;
  private readonly perEnterprise = new Map<string, Set<Client>>();
  /** live sessions per device: one going away is news only when it was the last */
  private readonly perDevice = new Map<string, Set<Client>>();
  /** when each device was last told it is too fast, so the answers do not flood it either */
  private readonly toldTooFast = new Map<string, number>();

  constructor(private readonly opts: GatewayOptions) {
    this.intake = new TelemetryIntake(opts.limits);
    this.guard = new LoginGuard(opts.limits.login);
    this.limiter = new RateLimiter(opts.limits.messagesPerS, opts.limits.messageBurst);
    // connectTimeout: a client that dribbles its CONNECT a byte at a time is closed after 10 s
    this.broker = new Aedes({ drainTimeout: 30_000, keepaliveLimit: opts.limits.maxKeepaliveS, maxClientsIdLength: 128, connectTimeout: 10_000 });
    this.broker.preConnect = (c, packet, cb) => {
      const address = remoteAddress(c);
      if (address && this.guard.bannedUntil(`address:${address}`, opts.clock())) {
        opts.counters.connectionsRefused.inc({ reason: 'address_banned' });
        return cb(null, false);
      }
      // no keepalive, or a longer one than allowed, becomes the maximum: silent links get closed
      if (!packet.keepalive || packet.keepalive > opts.limits.maxKeepaliveS) packet.keepalive = opts.limits.maxKeepaliveS;
      cb(null, true);
    };
    this.broker.authenticate = (c, u, p, cb) => this.authenticate(c, u, p, cb);
    this.broker.authorizePublish = (c, p, cb) => this.authorizePublish(c, p, cb);
    this.broker.authorizeSubscribe = (c, s, cb) => cb(null, this.authorizeSubscribe(c, s));
    this.broker.on('clientDisconnect', (c) => {
      const p = this.principals.get(c);
      if (p?.kind !== 'device') return;
      this.perEnterprise.get(p.device.enterpriseId)?.delete(c);
      const sessions = this.perDevice.get(p.device.deviceId);
      sessions?.delete(c);
      if (!sessions?.size) opts.onLink(p.device, 'disconnected', opts.clock());
    });
    this.broker.on('clientError', (c, err) => opts.log.warn({ client: c.id, err: err.message }, 'mqtt client error'));
    this.broker.on('connectionError', (c, err) => opts.log.warn({ err: err.message }, 'mqtt connection error'));
  }

  async start(): Promise<void> {
    await this.broker.listen();
    const host = this.opts.host ?? '0.0.0.0';
    const handle = (socket: import('node:stream').Duplex, req?: import('node:http').IncomingMessage) => {
      this.broker.handle(socket, req as never);
      guardFrames(socket, this.opts.limits.maxPacketBytes, (size) => {
        this.opts.counters.connectionsRefused.inc({ reason: 'packet_too_large' });
        this.opts.log.warn({ size, address: (socket as { remoteAddress?: string }).remoteAddress }, 'mqtt packet too large: connection closed');
      });
    };
    const tcp = createNetServer((socket) => handle(socket));
    this.ports.mqtt = await listen(tcp, this.opts.mqttPort, host);
    this.servers.push(tcp);
    if (this.opts.wsPort !== undefined) {
      const http = createHttpServer((_, res) => res.writeHead(426).end('MQTT over WebSocket only\n'));
      this.wss = new WebSocketServer({ server: http });
      this.wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        Object.defineProperty(stream, 'remoteAddress', { value: req.socket.remoteAddress });
        handle(stream, req);
      });
      this.ports.ws = await listen(http, this.opts.wsPort, host);
      this.servers.push(http);
    }
    if (this.opts.tls) {
      const tls = createTlsServer({ cert: this.opts.tls.cert, key: this.opts.tls.key }, (socket) => handle(socket));
      this.ports.mqtts = await listen(tls, this.opts.tls.port, host);
      this.servers.push(tls);
    }
  }

  async stop(): Promise<void> {
    this.wss?.close();
    for (const s of this.servers) s.close();
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
  }

  /** Publish from the gateway itself (alerts, commands, rejects). */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 0, retain = false): Promise<void> {
    return new Promise((resolve, reject) =>
      this.broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  private authenticate(client: Client, username: string | undefined, password: Buffer | undefined, cb: (err: AuthenticateError | null, ok: boolean | null) => void) {
    const address = remoteAddress(client);
    const now = this.opts.clock();
    const refuse = (reason: string, returnCode = 4) => {
      this.opts.counters.authFailures.inc({ reason });
      this.opts.onLogin?.(username ?? '', false, reason, address);
      this.opts.log.warn({ username, reason, address }, 'mqtt login refused');
      // only a wrong secret or name counts towards a ban; a refusal for limits does not
      if (returnCode === 4)
        for (const key of this.guard.fail(address, username, now)) {
          this.opts.log.warn({ key }, 'too many failed logins: temporarily banned');
          this.opts.onLogin?.(key, false, 'banned', address);
        }
      const err = new Error(returnCode === 4 ? 'bad username or password' : 'not authorized') as AuthenticateError;
      err.returnCode = returnCode as AuthenticateError['returnCode'];
      cb(err, false);
    };
    if (username && this.guard.bannedUntil(`user:${username}`, now)) return refuse('banned', 5);
    const device = username ? this.opts.findDevice(username) : undefined;
    if (device) {
      this.opts.verifier.verify(device.deviceId, password, device.secretHash).then(
        (ok) => {
          if (!ok) return refuse('device_secret');
          this.guard.succeed(device.deviceId);
          const conns = this.perEnterprise.get(device.enterpriseId) ?? new Set<Client>();
          if (conns.size >= this.opts.limits.maxConnectionsPerEnterprise) return refuse('enterprise_connection_limit', 5);
          conns.add(client);
          this.perEnterprise.set(device.enterpriseId, conns);
          const sessions = this.perDevice.get(device.deviceId) ?? new Set<Client>();
          sessions.add(client);
          this.perDevice.set(device.deviceId, sessions);
          this.principals.set(client, { kind: 'device', device, telemetry: deviceTopic(device.enterpriseId, device.deviceId, 'telemetry') });
          this.opts.onLogin?.(device.deviceId, true, 'device', remoteAddress(client));
          this.opts.onLink(device, 'connected', this.opts.clock());
          cb(null, true);
        },
        () => refuse('device_secret'),
      );
      return;
    }
    const watcher = password ? this.opts.findWatcher(password.toString('utf8')) : undefined;
    if (!watcher) return refuse(username ? 'unknown_user' : 'no_username');
    this.principals.set(client, { kind: 'watcher', watcher });
    this.opts.onLogin?.(watcher.name, true, 'watcher', remoteAddress(client));
    cb(null, true);
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void) {
    if (!client) return cb(null);
    const principal = this.principals.get(client);
    if (principal?.kind !== 'device') return this.refuse(packet, cb);
    const device = principal.device;
    const telemetry = packet.topic === principal.telemetry;
    this.opts.counters.messagesIn.inc();
    const now = this.opts.clock();
    if (packet.qos === 0) {
      // QoS 0 promises nothing: over the rate it is dropped, and said so (at most once a second)
      if (!this.limiter.take(device.deviceId, now)) return this.tooFast(device, packet, now, () => this.refuse(packet, cb));
    } else {
      // QoS 1: a PUBACK must mean stored, so excess is not dropped but slowed: the PUBACK (and the
      // broker reading more from this client) waits until the device is back within its rate
      const wait = this.limiter.reserve(device.deviceId, now);
      if (wait > 0) {
        if (wait > 10_000) return cb(new Error('far over the message rate'));
        this.opts.counters.rejected.inc({ code: 'RATE_LIMITED' });
        setTimeout(() => (telemetry ? this.takeTelemetry(device, packet, cb) : this.authorizeDevicePublish(client, device, packet, cb)), wait);
        return;
      }
    }
    if (telemetry) return this.takeTelemetry(device, packet, cb);
    this.authorizeDevicePublish(client, device, packet, cb);
  }

  private tooFast(device: GatewayDevice, packet: PublishPacket, now: number, then: () => void) {
    if (now - (this.toldTooFast.get(device.deviceId) ?? 0) >= 1000) {
      this.toldTooFast.set(device.deviceId, now);
      this.answer(device, packet.topic, [{ code: 'RATE_LIMITED', detail: `at most ${this.opts.limits.messagesPerS} messages/s (burst ${this.opts.limits.messageBurst})` }]);
    } else this.opts.counters.rejected.inc({ code: 'RATE_LIMITED' });
    then();
  }

  private authorizeDevicePublish(client: Client, device: GatewayDevice, packet: PublishPacket, cb: (err?: Error | null) => void) {
    const topic = parseDeviceTopic(packet.topic);
    const own = topic && topic.enterpriseId === device.enterpriseId && topic.deviceId === device.deviceId;
    if (own && topic.kind === 'telemetry') return this.takeTelemetry(device, packet, cb);
    if (own && topic.kind === 'status') {
      const status = packet.payload.toString('utf8').replace(/^"|"$/g, '').trim();
      if (status === 'online' || status === 'offline') {
        // an old session's last will, fired while the device is connected again (a reconnect
        // that took over its session), is not news: the device is there
        const others = [...(this.perDevice.get(device.deviceId) ?? [])].filter((c) => c !== client && !c.closed);
        if (!(status === 'offline' && others.length)) this.opts.onLink(device, status, this.opts.clock());
        return cb(null);
      }
      this.answer(device, packet.topic, [{ code: 'STATUS_INVALID', detail: status.slice(0, 40) }]);
      return this.refuse(packet, cb);
    }
    this.answer(device, packet.topic, [{ code: 'TOPIC_NOT_ALLOWED', detail: packet.topic.slice(0, 200) }]);
    this.refuse(packet, cb);
  }

  private takeTelemetry(device: GatewayDevice, packet: PublishPacket, cb: (err?: Error | null) => void) {
    const { readings, rejects } = this.intake.take(packet.payload as Buffer, device, this.opts.clock());
    if (rejects.length) this.answer(device, packet.topic, rejects);
    if (readings.length === 0) return cb(null);
    this.opts.counters.readingsAccepted.inc(readings.length);
    const durable = this.opts.onReadings(readings);
    // QoS 1: the PUBACK is the promise that the reading is stored, so it waits for the commit
    if (packet.qos > 0) durable.then(() => cb(null), (err: Error) => cb(err));
    else {
      durable.catch((err: Error) => this.opts.log.warn({ err: err.message }, 'store refused QoS 0 readings'));
      cb(null);
    }
  }

  private refuse(packet: PublishPacket, cb: (err?: Error | null) => void) {
    packet.topic = NOWHERE;
    packet.retain = false;
    cb(null);
  }

  private answer(device: GatewayDevice, topic: string, rejects: Reject[]) {
    const at = new Date(this.opts.clock()).toISOString();
    for (const r of rejects) {
      this.opts.counters.rejected.inc({ code: r.code });
      const body = { error: r.code, message: REJECT_CODES[r.code], detail: r.detail ?? null, path: r.path ?? null, topic, at };
      this.publish(deviceTopic(device.enterpriseId, device.deviceId, 'reject'), JSON.stringify(body)).catch(() => {});
    }
  }

  private authorizeSubscribe(client: Client, sub: Subscription): Subscription | null {
    const principal = this.principals.get(client);
    if (!principal || sub.topic.startsWith('$')) return null;
    if (principal.kind === 'device') {
      return filterWithin(sub.topic, `v1/${principal.device.enterpriseId}/${principal.device.deviceId}`) ? sub : null;
    }
    const w = principal.watcher;
    if (sub.topic === 'alerts/#' || sub.topic === 'alerts/+') return w.all ? sub : null;
    const m = /^alerts\/([^/+#]+)$/.exec(sub.topic);
    return m && w.sees(m[1]) ? sub : null;
  }
}

function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function remoteAddress(client: Client): string | undefined {
  return (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress;
}
