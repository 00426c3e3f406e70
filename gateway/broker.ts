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

/** How many client ids (sessions, live or kept for a persistent client) one device may hold. */
const SESSIONS_PER_DEVICE = 8;

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
  /** QoS 1 messages not queued for an offline persistent session that already holds its limit */
  offlineQueueDropped: { inc(): void };
  /** exceptions caught in the publish path: a bug or an input nobody foresaw, never a crash */
  publishFaults: { inc(): void };
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
    maxConnectionsPerDevice: number;
    /** QoS 1 messages kept for one offline persistent session */
    maxOfflineQueue: number;
    maxKeepaliveS: number;
    login: { windowS: number; maxFailuresPerAddress: number; maxFailuresPerUsername: number; banS: number };
  };
  findDevice(deviceId: string): GatewayDevice | undefined;
  findWatcher(token: string): GatewayWatcher | undefined;
  verifier: SecretVerifier;
  log: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void; error?(o: object, msg?: string): void };
  /**
   * `stored`: the readings are durable; `recorded`: what they caused (alert changes) is durable
   * too. A QoS 1 PUBACK waits for both, so an acknowledged reading's alarm survives kill -9.
   */
  onReadings(readings: Reading[]): { stored: Promise<void>; recorded: Promise<void> };
  onLink(device: DeviceScope, link: DeviceLink, at: number): void;
  /** every MQTT login, accepted or refused, for the audit trail */
  onLogin?(who: string, ok: boolean, reason: string, address: string | undefined): void;
  counters: GatewayCounters;
  clock: () => number;
}

/**
 * `telemetry`: the device's own telemetry topic, so the hot path compares instead of parsing;
 * `credential`: what the device logged in against, so a rotated secret closes the session;
 * `token`: the watcher's token, so a removed token closes the session.
 */
type Principal =
  | { kind: 'device'; device: GatewayDevice; telemetry: string; credential: string | undefined }
  | { kind: 'watcher'; watcher: GatewayWatcher; token: string };

/** Who holds a client id: the principal that first authenticated with it, while its session lasts. */
interface Session {
  owner: string;
  /** the live connection, if any */
  client: Client | null;
  /** a persistent session outlives its connection (and keeps queued messages) */
  persistent: boolean;
}

const ownerOf = (p: Principal) => (p.kind === 'device' ? `device:${p.device.deviceId}` : `watcher:${p.watcher.name}`);

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
  /** client id → its owner: a client id belongs to the principal whose session it is */
  private readonly sessions = new Map<string, Session>();
  /** QoS 1 messages queued per offline persistent session since it was last connected */
  private readonly offlineQueued = new Map<string, number>();

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
      const session = this.sessions.get(c.id);
      if (session?.client === c) {
        if (session.persistent) session.client = null;
        else this.sessions.delete(c.id);
      }
      const p = this.principals.get(c);
      if (p?.kind !== 'device') return;
      this.perEnterprise.get(p.device.enterpriseId)?.delete(c);
      const live = this.perDevice.get(p.device.deviceId);
      live?.delete(c);
      if (!live?.size) opts.onLink(p.device, 'disconnected', opts.clock());
    });
    this.broker.on('clientReady', (c) => this.offlineQueued.delete(c.id));
    this.broker.on('clientError', (c, err) => opts.log.warn({ client: c.id, err: err.message }, 'mqtt client error'));
    this.broker.on('connectionError', (c, err) => opts.log.warn({ err: err.message }, 'mqtt connection error'));
  }

  async start(): Promise<void> {
    await this.broker.listen();
    this.boundOfflineQueues();
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
          if (client.closed) return;
          this.guard.succeed(device.deviceId);
          const principal: Principal = { kind: 'device', device, telemetry: deviceTopic(device.enterpriseId, device.deviceId, 'telemetry'), credential: this.opts.verifier.credentialOf(device.deviceId, device.secretHash) };
          const refusal = this.sessionRefusal(client, principal);
          if (refusal) return refuse(refusal, refusal === 'client_id_taken' ? 2 : 5);
          const conns = this.perEnterprise.get(device.enterpriseId) ?? new Set<Client>();
          if (conns.size >= this.opts.limits.maxConnectionsPerEnterprise) return refuse('enterprise_connection_limit', 5);
          const live = this.perDevice.get(device.deviceId) ?? new Set<Client>();
          // a reconnect under the same client id takes its own old connection over: not one more
          const others = [...live].filter((c) => c.id !== client.id && !c.closed);
          if (others.length >= this.opts.limits.maxConnectionsPerDevice) return refuse('device_connection_limit', 5);
          conns.add(client);
          this.perEnterprise.set(device.enterpriseId, conns);
          live.add(client);
          this.perDevice.set(device.deviceId, live);
          this.hold(client, principal);
          this.opts.onLogin?.(device.deviceId, true, 'device', remoteAddress(client));
          this.opts.onLink(device, 'connected', this.opts.clock());
          cb(null, true);
        },
        () => refuse('device_secret'),
      );
      return;
    }
    const token = password?.toString('utf8') ?? '';
    const watcher = token ? this.opts.findWatcher(token) : undefined;
    if (!watcher) return refuse(username ? 'unknown_user' : 'no_username');
    const principal: Principal = { kind: 'watcher', watcher, token };
    const refusal = this.sessionRefusal(client, principal);
    if (refusal) return refuse(refusal, refusal === 'client_id_taken' ? 2 : 5);
    this.hold(client, principal);
    this.opts.onLogin?.(watcher.name, true, 'watcher', remoteAddress(client));
    cb(null, true);
  }

  /**
   * A client id belongs to whoever holds its session: another principal presenting it would take
   * the session over (and receive its queued messages), so it is refused; so is a client id that
   * is another device's own id. A device may hold only a few client ids at once.
   */
  private sessionRefusal(client: Client, principal: Principal): string | null {
    const owner = ownerOf(principal);
    const held = this.sessions.get(client.id);
    if (held && held.owner !== owner) return 'client_id_taken';
    const named = this.opts.findDevice(client.id);
    if (named && owner !== `device:${named.deviceId}`) return 'client_id_taken';
    if (!held && principal.kind === 'device') {
      let n = 0;
      for (const s of this.sessions.values()) if (s.owner === owner) n++;
      if (n >= SESSIONS_PER_DEVICE) return 'device_session_limit';
    }
    return null;
  }

  private hold(client: Client, principal: Principal) {
    this.principals.set(client, principal);
    this.sessions.set(client.id, { owner: ownerOf(principal), client, persistent: !client.clean });
  }

  /**
   * The registry changed: a device removed or moved, a secret rotated, a token withdrawn ends the
   * sessions that depended on it (and their persistent state); the others see the new points.
   */
  recheck() {
    for (const [clientId, session] of [...this.sessions]) {
      const principal = session.client ? this.principals.get(session.client) : undefined;
      const stale = principal ? this.stale(principal) : this.staleOwner(session.owner);
      if (!stale) continue;
      this.sessions.delete(clientId);
      this.offlineQueued.delete(clientId);
      if (session.client) {
        this.opts.log.warn({ client: clientId, owner: session.owner }, 'session closed: its device or token changed in the registry');
        this.opts.counters.connectionsRefused.inc({ reason: 'revoked' });
        session.client.close();
      }
      this.forgetSession(clientId);
    }
  }

  private stale(p: Principal): boolean {
    if (p.kind === 'watcher') return this.opts.findWatcher(p.token)?.name !== p.watcher.name;
    const now = this.opts.findDevice(p.device.deviceId);
    if (!now || now.enterpriseId !== p.device.enterpriseId || this.opts.verifier.credentialOf(now.deviceId, now.secretHash) !== p.credential) return true;
    // still allowed: the session sees the device's points as the registry now lists them
    p.device = now;
    return false;
  }

  /** An offline persistent session: kept only while its device still exists. */
  private staleOwner(owner: string): boolean {
    return owner.startsWith('device:') && !this.opts.findDevice(owner.slice('device:'.length));
  }

  /** Drop what the broker keeps for a session that is no longer allowed (subscriptions, queue, will). */
  private forgetSession(clientId: string) {
    const ref = { id: clientId } as Client;
    const p = (this.broker as unknown as { persistence: { cleanSubscriptions(c: Client): Promise<unknown>; delWill(c: Client): Promise<unknown> } }).persistence;
    void Promise.resolve()
      .then(() => p.cleanSubscriptions(ref))
      .then(() => p.delWill(ref))
      .catch((err: Error) => this.opts.log.warn({ err: err.message, client: clientId }, 'session state not removed'));
  }

  /**
   * A persistent session that never comes back must not hold messages without bound: past the
   * limit, further QoS 1 messages for it are dropped and counted (the alert record keeps them).
   */
  private boundOfflineQueues() {
    const persistence = (this.broker as unknown as { persistence: unknown }).persistence as { outgoingEnqueueCombi(subs: { clientId: string }[], packet: unknown): Promise<void> };
    const enqueue = persistence.outgoingEnqueueCombi.bind(persistence);
    const limit = this.opts.limits.maxOfflineQueue;
    persistence.outgoingEnqueueCombi = (subs, packet) => {
      const kept = subs.filter((sub) => {
        const n = this.offlineQueued.get(sub.clientId) ?? 0;
        if (n >= limit) {
          this.opts.counters.offlineQueueDropped.inc();
          return false;
        }
        this.offlineQueued.set(sub.clientId, n + 1);
        return true;
      });
      return kept.length ? enqueue(kept, packet) : Promise.resolve();
    };
  }

  /**
   * Everything a device sends passes here. Nothing it sends may throw out of this hook (aedes
   * would crash the process): a throw is caught, logged, counted and answered as a reject, and
   * the message goes nowhere.
   */
  private authorizePublish(client: Client | null, packet: PublishPacket, cb: (err?: Error | null) => void) {
    if (!client) return cb(null);
    let answered = false;
    const once = (err?: Error | null) => {
      if (answered) return;
      answered = true;
      cb(err);
    };
    try {
      this.publishStep(client, packet, once);
    } catch (e) {
      this.fault(client, packet, e, once);
    }
  }

  private fault(client: Client, packet: PublishPacket, e: unknown, cb: (err?: Error | null) => void) {
    this.opts.counters.publishFaults.inc();
    (this.opts.log.error ?? this.opts.log.warn)({ err: (e as Error)?.message ?? String(e), client: client.id, topic: packet.topic.slice(0, 200) }, 'message could not be processed');
    const p = this.principals.get(client);
    if (p?.kind === 'device') this.answer(p.device, packet.topic, [{ code: 'MESSAGE_NOT_PROCESSED' }]);
    this.refuse(packet, cb);
  }

  private publishStep(client: Client, packet: PublishPacket, cb: (err?: Error | null) => void) {
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
        setTimeout(() => {
          try {
            if (telemetry) this.takeTelemetry(device, packet, cb);
            else this.authorizeDevicePublish(client, device, packet, cb);
          } catch (e) {
            this.fault(client, packet, e, cb);
          }
        }, wait);
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
    // what was refused whole goes to no subscriber either
    if (readings.length === 0) return this.refuse(packet, cb);
    this.opts.counters.readingsAccepted.inc(readings.length);
    let taken: { stored: Promise<void>; recorded: Promise<void> };
    try {
      taken = this.opts.onReadings(readings);
    } catch (e) {
      taken = { stored: Promise.reject(e instanceof Error ? e : new Error(String(e))), recorded: Promise.resolve() };
    }
    // a store that did not take them: their seqs were never stored, so a resend is not a duplicate
    const stored = taken.stored.catch((err: Error) => {
      this.intake.forgetSeqs(device.deviceId, readings);
      throw err;
    });
    const durable = Promise.all([stored, taken.recorded]).then(() => {});
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
