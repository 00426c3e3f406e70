import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { LoginsWaiting, type SecretVerifier } from './credentials.ts';
import { guardFrames } from './frame-guard.ts';
import { LoginGuard } from './login-guard.ts';
import { boundOfflineQueues } from './offline-queue.ts';
import { boundOutput } from './output-bound.ts';
import { Followers } from './followers.ts';
import { PublishPipeline, refusedPacket, type TelemetryReply } from './publish.ts';
import { RateLimiter } from './rate-limit.ts';
import { REJECT_CODES, type Reject, type RejectCode } from './reject-codes.ts';
import { Repeats } from './repeats.ts';
import { Sessions, SESSIONS_PER_PRINCIPAL, type GatewayDevice, type GatewayWatcher, type Principal } from './sessions.ts';
import { deviceTopic, filterWithin } from './topics.ts';

/**
 * Packets of one connection parsed and not yet answered, at most (about: see frame-guard.ts). A QoS 1
 * reading is answered when durable, and aedes reads again once a read's packets are all answered:
 * a connection takes this many per commit round, a few hundred readings a second, above the
 * default device rate (100/s) even when commits slow under load (8 held the bench's fleet below
 * its sustained rate). Two thousand connections under overload hold 32 000, not everything their
 * devices sent (110 000 in the bench).
 */
const MAX_PACKETS_PER_READ = 16;
/**
 * PUBLISH packets of all connections taken and not yet answered past which each connection takes
 * one at a time (frame-guard.ts). Above what the reading pipeline takes in flight (20 000) and two
 * of its batches waiting, so reached when the pipeline is the bottleneck (smaller reads then cost
 * nothing it could have used), or when devices' QoS 1 messages over their rate wait for their
 * turn: those are held in memory the same, and count. An outside probe had 1 600 devices of one
 * enterprise crowd the gateway that way; another enterprise's readings were as fast as before.
 */
const CROWDED_AT = 24_000;
/**
 * Bytes written to a connection and not yet taken by it past which it is closed (output-bound.ts):
 * room for a control-room tool's share of a large alarm storm on a slow link; a device gets only
 * the answers to what it sends.
 */
const MAX_UNSENT_BYTES = 16 * 1024 * 1024;

export type { GatewayDevice, GatewayWatcher } from './sessions.ts';

/**
 * aedes' own options. `concurrency: 0`: its message router takes each message as it comes. With
 * a bound (aedes' default, 100 deliveries at once) messages queue behind deliveries in flight, and
 * a long queue let go completes one message inside the other until the stack overflows: 200
 * deliveries to a subscriber in flight and 5 000 messages behind them crash aedes alone (upstream
 * mcollina/mqemitter#204), as an alarm storm to a control-room tool with a batch of readings'
 * PUBACKs behind it could. What the gateway holds is bounded before the router instead: reads by
 * the frame guard, writes by output-bound.ts.
 */
export const brokerOptions = (limits: Pick<GatewayOptions['limits'], 'maxKeepaliveS' | 'connectTimeoutS'>) => ({
  concurrency: 0,
  drainTimeout: 30_000,
  keepaliveLimit: limits.maxKeepaliveS,
  maxClientsIdLength: MAX_CLIENT_ID,
  connectTimeout: limits.connectTimeoutS * 1000,
});

/**
 * The MQTT edge, laid out as aedes is: the listeners (TCP, WebSocket, TLS) here, and one hook per
 * packet the broker asks about: `preConnect` (bans, keepalive), `authenticate` (credentials, then
 * the session: sessions.ts), `authorizePublish` (the publish pipeline: publish.ts),
 * `authorizeSubscribe` (a device's own topics, a watcher's alerts). Telemetry leaves through
 * `onTelemetry`, as received, and is answered from there; the gateway knows nothing of rules or alerts.
 */
export type DeviceLink = 'online' | 'offline' | 'connected' | 'disconnected';

const SUBSCRIPTIONS_PER_DEVICE = 16;
/** problems of one message answered one by one on the device's reject topic; the rest in one MORE_REJECTS */
const ANSWERED_PER_MESSAGE = 10;
/**
 * client ids are kept as session keys and written in log lines: longer ones are refused (CONNACK 2).
 * aedes' own maxClientsIdLength holds only for MQTT 3.1
 */
const MAX_CLIENT_ID = 128;
/** device ids are at most 64 characters (the registry's); a control-room tool's name no longer than this */
const MAX_USERNAME = 128;
const SUBSCRIPTIONS_PER_WATCHER = 64;

export interface GatewayCounters {
  messagesIn: { inc(): void };
  readingsAccepted: { inc(n: number): void };
  rejected: { inc(labels: { code: string }, by?: number): void };
  authFailures: { inc(labels: { reason: string }): void };
  /** connections closed by the gateway's own limits, by reason */
  connectionsRefused: { inc(labels: { reason: string }): void };
  /** QoS 1 messages not queued for an offline persistent session that already holds its limit */
  offlineQueueDropped: { inc(): void };
  /** exceptions caught in the publish path: a bug or an input nobody foresaw, never a crash */
  publishFaults: { inc(): void };
  /** answers (a PUBACK, mostly) for a connection that closed before they could be written */
  answersUnsent: { inc(): void };
  /** kept sessions let go to make room for a new client id of the same device or user */
  sessionsReplaced: { inc(): void };
}

/** aedes' error for a packet written to a connection already closed (lib/write.js, lib/client.js) */
const CONNECTION_CLOSED = 'connection closed';

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
    connectionsPerEnterprise(enterpriseId: string): number;
    maxConnectionsPerDevice: number;
    /** QoS 1 messages kept for one offline persistent session */
    maxOfflineQueue: number;
    maxKeepaliveS: number;
    connectTimeoutS: number;
    login: { windowS: number; maxFailuresPerAddress: number; maxFailuresPerUsername: number; banS: number };
  };
  /** PUBLISH packets of all connections unanswered past which each connection takes one at a time (default `CROWDED_AT`) */
  crowdedAt?: number;
  /** bytes waiting for a connection past which it is closed (MAX_UNSENT_BYTES unless set: tests) */
  maxUnsentBytes?: number;
  findDevice(deviceId: string): GatewayDevice | undefined;
  /** the digest an API token is known by: a session keeps that, not the token */
  tokenDigest(token: string): string;
  findWatcher(tokenDigest: string): GatewayWatcher | undefined;
  verifier: SecretVerifier;
  /**
   * A device's telemetry message: decoded, de-duplicated, judged and stored on the other side.
   * `durable` covers the readings and what they caused (alert changes): a QoS 1 PUBACK waits for
   * it, so an acknowledged reading's alarm survives kill -9.
   */
  onTelemetry(device: GatewayDevice, payload: Buffer, at: number, reply: TelemetryReply): void;
  /**
   * `via`: the MQTT client it came over (a cluster tells its edges' connections apart by it).
   * For a device's own `online`/`offline`, the promise resolves once what it changed is durable
   * (the status message's PUBACK waits for it, as a reading's does).
   */
  onLink(device: GatewayDevice, link: DeviceLink, at: number, via: string): Promise<void> | undefined;
  /** every MQTT login, accepted or refused, for the audit trail */
  onLogin?(who: string, ok: boolean, reason: string, address: string | undefined): void;
  counters: GatewayCounters;
  clock: () => number;
  log: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void; error?(o: object, msg?: string): void };
}

export class Gateway {
  readonly broker: Aedes;
  private readonly servers: (NetServer | HttpServer)[] = [];
  private wss?: WebSocketServer;
  ports: { mqtt?: number; ws?: number; mqtts?: number } = {};
  private readonly guard: LoginGuard;
  private readonly sessions: Sessions;
  private readonly pipeline: PublishPipeline;
  private offline?: ReturnType<typeof boundOfflineQueues>;
  /** subscriptions granted per connection */
  private readonly subscriptions = new WeakMap<Client, number>();
  private readonly followers = new Followers();

  constructor(private readonly opts: GatewayOptions) {
    this.guard = new LoginGuard(opts.limits.login);
    this.sessions = new Sessions(opts.limits);
    this.pipeline = new PublishPipeline({
      limiter: new RateLimiter(opts.limits.messagesPerS, opts.limits.messageBurst),
      limits: opts.limits,
      clock: opts.clock,
      onTelemetry: (d, payload, at, reply) => opts.onTelemetry(d, payload, at, reply),
      onLink: (d, link, at, via) => opts.onLink(d, link, at, via),
      othersOf: (deviceId, client) => this.sessions.othersOf(deviceId, client),
      answer: (d, topic, rejects) => this.answer(d, topic, rejects),
      counters: opts.counters,
      log: opts.log,
    });
    // connectTimeout: a client that dribbles its CONNECT a byte at a time is closed
    this.broker = new Aedes(brokerOptions(opts.limits));
    this.broker.preConnect = (_c, packet, cb) => {
      // no keepalive, or a longer one than allowed, becomes the maximum: silent links get closed
      if (!packet.keepalive || packet.keepalive > opts.limits.maxKeepaliveS) packet.keepalive = opts.limits.maxKeepaliveS;
      cb(null, true);
    };
    this.broker.authenticate = (c, u, p, cb) => this.authenticate(c, u, p, cb);
    this.broker.authorizePublish = (c, p, cb) => (c ? this.pipeline.handle(c, this.sessions.principalOf(c), p, cb) : cb(null));
    this.broker.authorizeSubscribe = (c, s, cb) => cb(null, this.authorizeSubscribe(c, s));
    // the last step of a client's PUBLISH, after its PUBACK: the router, only when someone may be
    // waiting for it (followers.ts); the gateway's own messages are always routed
    // (aedes' own call, from a client's PUBLISH or will, passes the client second: not in its types)
    type Publish = (packet: PublishPacket, client: Client | null | ((err?: Error) => void), done?: (err?: Error) => void) => void;
    const broker = this.broker as unknown as { publish: Publish };
    const route = broker.publish.bind(this.broker);
    broker.publish = (packet, client, done) => (client && typeof client !== 'function' && !this.routed(client, packet) ? done?.() : route(packet, client, done));
    this.broker.on('clientDisconnect', (c) => {
      const gone = this.sessions.release(c, opts.clock());
      if (gone?.last) void opts.onLink(gone.device, 'disconnected', opts.clock(), c.id)?.catch(() => {});
    });
    // a device that went away before its readings were acknowledged is no error: what it did not
    // hear acknowledged it sends again (stored once, by seq). Counted, not logged: a line for each
    // unanswered message was a flood (32 000 lines when 2 000 busy devices dropped at once) and
    // most of the memory the service took in that moment
    this.broker.on('clientError', (c, err) => (err.message === CONNECTION_CLOSED ? opts.counters.answersUnsent.inc() : this.clientError(c, err)));
    this.broker.on('connectionError', (c, err) => opts.log.warn({ err: err.message }, 'mqtt connection error'));
  }

  async start(): Promise<void> {
    await this.broker.listen();
    // the persistence exists once the broker listens
    this.offline = boundOfflineQueues(this.broker, this.opts.limits.maxOfflineQueue, () => this.opts.counters.offlineQueueDropped.inc());
    const host = this.opts.host ?? '0.0.0.0';
    const handle = (socket: import('node:stream').Duplex, req?: import('node:http').IncomingMessage) => {
      // before the broker takes it: its every read goes through the guard
      guardFrames(socket, { maxPacketBytes: this.opts.limits.maxPacketBytes, maxPacketsPerRead: MAX_PACKETS_PER_READ }, (size) => {
        this.opts.counters.connectionsRefused.inc({ reason: 'packet_too_large' });
        this.opts.log.warn({ size, address: (socket as { remoteAddress?: string }).remoteAddress }, 'mqtt packet too large: connection closed');
      }, () => this.pipeline.unanswered(socket), () => this.pipeline.unansweredInAll() >= (this.opts.crowdedAt ?? CROWDED_AT));
      // and its writes never hold the broker: a reader that cannot keep up is let go instead
      boundOutput(socket, this.opts.maxUnsentBytes ?? MAX_UNSENT_BYTES, (unsent) => {
        this.opts.counters.connectionsRefused.inc({ reason: 'slow_reader' });
        this.opts.log.warn({ unsent, address: (socket as { remoteAddress?: string }).remoteAddress }, 'mqtt connection closed: it does not take what is sent to it');
      });
      this.broker.handle(socket, req as never);
    };
    const tcp = createNetServer((socket) => handle(socket));
    this.ports.mqtt = await listen(tcp, this.opts.mqttPort, host);
    this.servers.push(tcp);
    if (this.opts.wsPort !== undefined) {
      const http = createHttpServer((_, res) => res.writeHead(426).end('MQTT over WebSocket only\n'));
      // a WebSocket message is buffered whole before the frame guard sees it: bound it the same
      this.wss = new WebSocketServer({ server: http, maxPayload: this.opts.limits.maxPacketBytes });
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

  /**
   * The registry changed: a device removed or moved, a secret rotated, a token withdrawn ends the
   * sessions that depended on it (and their persistent state); the others see the new points.
   */
  recheck() {
    const dropped = this.sessions.drop((principal, owner) => (principal ? this.stale(principal) : owner.startsWith('device:') && !this.opts.findDevice(owner.slice('device:'.length))));
    for (const { clientId, owner, client } of dropped) {
      if (client) {
        this.opts.log.warn({ client: clientId, owner }, 'session closed: its device or token changed in the registry');
        this.opts.counters.connectionsRefused.inc({ reason: 'revoked' });
        client.close();
      }
      this.forgetSession(clientId);
    }
  }

  private stale(p: Principal): boolean {
    if (p.kind === 'watcher') return this.opts.findWatcher(p.tokenDigest)?.name !== p.watcher.name;
    const now = this.opts.findDevice(p.device.deviceId);
    if (!now || now.enterpriseId !== p.device.enterpriseId || this.opts.verifier.credentialOf(now.deviceId, now.secretHash) !== p.credential) return true;
    // still allowed: the session sees the device's points as the registry now lists them
    p.device = now;
    return false;
  }

  /** Drop what the broker keeps for a session that is no longer held (subscriptions, queued messages, will). */
  private forgetSession(clientId: string) {
    const ref = { id: clientId } as Client;
    const p = (this.broker as unknown as { persistence: { cleanSubscriptions(c: Client): Promise<unknown>; delWill(c: Client): Promise<unknown> } }).persistence;
    // subscriptions first: nothing more is queued for it while its queue is let go
    void Promise.resolve()
      .then(() => p.cleanSubscriptions(ref))
      .then(() => this.offline?.forget(clientId))
      .then(() => p.delWill(ref))
      .catch((err: Error) => this.opts.log.warn({ err: err.message, client: clientId }, 'session state not removed'));
  }

  private authenticate(client: Client, given: string | undefined, password: Buffer | undefined, answer: (err: AuthenticateError | null, ok: boolean | null) => void) {
    // the CONNECT packet stays with the connection (mqtt-packet keeps it as its parser's
    // settings): once checked, the secret in it is wiped, so memory holds none in the clear
    const cb = (err: AuthenticateError | null, ok: boolean | null) => (password?.fill(0), answer(err, ok));
    const address = remoteAddress(client);
    // a name no device or tool has is cut before it is kept anywhere (ban keys, log, audit)
    const tooLong = given !== undefined && given.length > MAX_USERNAME;
    const username = tooLong ? `${given.slice(0, MAX_USERNAME)}…` : given;
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
      cb(authError(returnCode === 4 ? 'bad username or password' : returnCode === 2 ? 'identifier rejected' : 'not authorized', returnCode as AuthenticateError['returnCode']), false);
    };
    // counted each time; in the audit trail and the log once a minute per ban, with the count
    const refuseBanned = (reason: 'banned' | 'address_banned') => {
      this.opts.counters.authFailures.inc({ reason });
      const n = this.guard.refusedByBan(reason, username, address, now);
      if (n) {
        this.opts.onLogin?.(username ?? '', false, n > 1 ? `${reason} (${n} refused in the last minute)` : reason, address);
        this.opts.log.warn({ username, reason, address, refused: n }, 'mqtt login refused');
      }
      cb(authError('not authorized', 5), false);
    };
    const admit = (principal: Principal, who: string, kind: string) => {
      const admission = this.sessions.admit(client, principal);
      if (admission.refused) return refuse(admission.refused, 5);
      if (admission.evicted !== null) {
        this.opts.counters.sessionsReplaced.inc();
        this.opts.log.info({ client: admission.evicted, replacedBy: client.id }, `kept session let go: its owner holds ${SESSIONS_PER_PRINCIPAL} client ids and logged in under another`);
        this.forgetSession(admission.evicted);
      }
      this.opts.onLogin?.(who, true, kind, address);
      if (principal.kind === 'device') void this.opts.onLink(principal.device, 'connected', this.opts.clock(), client.id)?.catch(() => {});
      cb(null, true);
    };
    // a ban answers before any secret is checked: a banned place costs no hashing
    const admitted = this.guard.admits(username, address, now);
    if (!admitted.ok) {
      if (admitted.reason === 'address_banned') this.opts.counters.connectionsRefused.inc({ reason: 'address_banned' });
      return refuseBanned(admitted.reason);
    }
    if (tooLong) return refuse('username_too_long');
    if (client.id.length > MAX_CLIENT_ID) return refuse('client_id_too_long', 2);
    const tokenDigest = password?.length ? this.opts.tokenDigest(password.toString('utf8')) : undefined;
    const watcher = () => (tokenDigest ? this.opts.findWatcher(tokenDigest) : undefined);
    const asWatcher = (w: GatewayWatcher) => {
      if (username) this.guard.succeed(username, address, this.opts.clock());
      admit({ kind: 'watcher', watcher: w, tokenDigest: tokenDigest! }, w.name, 'watcher');
    };
    const device = username ? this.opts.findDevice(username) : undefined;
    if (device) {
      // when its turn comes: still there, and not banned meanwhile (its address's other logins
      // failed while it waited), or nothing is hashed for it
      const wanted = () => !client.closed && this.guard.admits(username, address, this.opts.clock()).ok;
      // a device that logged in from here before goes ahead of names never seen here
      const trusted = this.guard.trusts(device.deviceId, address, now);
      this.opts.verifier.verify(device.deviceId, password, device.secretHash, wanted, trusted).then(
        (ok) => {
          if (ok === undefined) {
            if (client.closed) return;
            const after = this.guard.admits(username, address, this.opts.clock());
            return after.ok ? refuse('banned', 5) : refuseBanned(after.reason);
          }
          // a control-room tool's username may have become a device id (an enterprise registered
          // one by that name): its API token still logs it in, as what it is
          const w = ok ? undefined : watcher();
          if (w) return asWatcher(w);
          if (!ok) return refuse('device_secret');
          if (client.closed) return;
          this.guard.succeed(device.deviceId, address, this.opts.clock());
          const telemetry = deviceTopic(device.enterpriseId, device.deviceId, 'telemetry');
          const principal: Principal = { kind: 'device', device, telemetry, credential: this.opts.verifier.credentialOf(device.deviceId, device.secretHash) };
          // the registry changed the device (its secret, its enterprise) while the check waited:
          // what was checked is no longer what it must show
          if (this.stale(principal)) return refuse('credential_changed', 5);
          admit(principal, device.deviceId, 'device');
        },
        (err: Error) => (err instanceof LoginsWaiting ? cb(this.busy(username, address), false) : refuse('device_secret')),
      );
      return;
    }
    const w = watcher();
    if (!w) return refuse(username ? 'unknown_user' : 'no_username');
    asWatcher(w);
  }

  private busyToldAt = -Infinity;

  /**
   * Too many logins wait for their secret to be checked: "server unavailable", which a device
   * answers by trying again later. Not a failed login (no ban, no audit line for each), counted,
   * and logged at most once a minute: a fleet reconnecting would otherwise write a line per device.
   */
  private busy(username: string | undefined, address: string | undefined): AuthenticateError {
    this.opts.counters.connectionsRefused.inc({ reason: 'logins_waiting' });
    const now = this.opts.clock();
    if (now - this.busyToldAt >= 60_000) {
      this.busyToldAt = now;
      this.opts.log.warn({ username, address, ...this.opts.verifier.hashing() }, 'logins refused for now: too many wait for their secret to be checked');
    }
    return authError('server unavailable', 3);
  }

  /** Who logged in from where before this start (the audit trail's): trusted at that address again. */
  rememberLogins(logins: { username: string; address: string; at: number }[]) {
    this.guard.remember(logins, this.opts.clock());
  }

  /**
   * Tell a device what was wrong with a message it sent (on its `reject` topic), and count it. At
   * most ANSWERED_PER_MESSAGE problems are answered one by one, then one MORE_REJECTS says how many
   * more: a message of a thousand bad readings cost a thousand publishes on this thread, and at the
   * allowed message rate one device could have kept it from everyone's alarms. All are counted.
   */
  answer(device: Pick<GatewayDevice, 'enterpriseId' | 'deviceId'>, topic: string, rejects: Reject[]) {
    const at = new Date(this.opts.clock()).toISOString();
    const to = deviceTopic(device.enterpriseId, device.deviceId, 'reject');
    const send = (code: RejectCode, detail: string | null, path: string | null) =>
      this.publish(to, JSON.stringify({ error: code, message: REJECT_CODES[code], detail, path, topic, at })).catch(() => {});
    // an entry past the listed ones stands for `count` problems of its code (reject-codes.ts)
    let all = 0;
    for (const r of rejects) (this.opts.counters.rejected.inc({ code: r.code }, r.count ?? 1), (all += r.count ?? 1));
    const answered = rejects.slice(0, ANSWERED_PER_MESSAGE).filter((r) => r.count === undefined);
    for (const r of answered) send(r.code, r.detail ?? null, r.path ?? null);
    const more = all - answered.length;
    if (more > 0) send('MORE_REJECTS', `${more} more: ${[...new Set(rejects.filter((r) => !answered.includes(r)).map((r) => r.code))].join(', ')}`, null);
  }

  /** client errors said once a minute for each message (messages are ours and aedes', a few kinds) */
  private readonly clientErrors = new Repeats(60_000, 100);

  /**
   * A client's error, logged at most once a minute for each message, with how many alike since:
   * a store that fails or a pipeline thread that ends fails every message in flight, each an
   * error of its client (a line each was tens of thousands).
   */
  private clientError(c: Client, err: Error) {
    const n = this.clientErrors.happened(err.message, this.opts.clock());
    if (n) this.opts.log.warn({ client: c.id, err: err.message, alike: n - 1 }, 'mqtt client error');
  }

  /** PUBLISH packets of all connections taken and not yet answered (for /metrics). */
  unanswered(): number {
    return this.pipeline.unansweredInAll();
  }

  /** A client's message worth the router: one of a device some session of it follows, or retained. */
  private routed(client: Client, packet: PublishPacket): boolean {
    if (refusedPacket(packet)) return false;
    const p = this.sessions.principalOf(client);
    return p?.kind !== 'device' || packet.retain || this.followers.followed(p.device.deviceId);
  }

  private authorizeSubscribe(client: Client, sub: Subscription): Subscription | null {
    const principal = this.sessions.principalOf(client);
    if (!principal || sub.topic.startsWith('$')) return null;
    // a device needs a few subscriptions of its own, a control-room tool a few dozen: beyond that a
    // session only makes the broker's work (and a persistent session's state) grow
    const n = (this.subscriptions.get(client) ?? 0) + 1;
    if (n > (principal.kind === 'device' ? SUBSCRIPTIONS_PER_DEVICE : SUBSCRIPTIONS_PER_WATCHER)) {
      this.opts.counters.rejected.inc({ code: 'TOO_MANY_SUBSCRIPTIONS' });
      return null;
    }
    this.subscriptions.set(client, n);
    if (principal.kind === 'device') {
      const { enterpriseId, deviceId } = principal.device;
      if (!filterWithin(sub.topic, `v1/${enterpriseId}/${deviceId}`)) return null;
      this.followers.granted(enterpriseId, deviceId, sub.topic);
      return sub;
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

/** The refusal aedes answers with: CONNACK `returnCode`. */
function authError(message: string, returnCode: AuthenticateError['returnCode']): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function remoteAddress(client: Client): string | undefined {
  return (client.conn as { remoteAddress?: string } | undefined)?.remoteAddress;
}
