import type { Client, PublishPacket } from 'aedes';
import type { RateLimiter } from './rate-limit.ts';
import type { Reject } from './reject-codes.ts';
import { Repeats } from './repeats.ts';
import type { GatewayDevice, Principal } from './sessions.ts';
import { parseDeviceTopic } from './topics.ts';

/**
 * What happens to a PUBLISH from a device, step by step, as named functions:
 *
 *   rate ─▶ topic ─▶ telemetry: handed on (decoded there) ─▶ answer ─▶ ack policy
 *                └─▶ status: online/offline (a replaced session's will is not news) ─▶ ack policy
 *                └─▶ anything else: TOPIC_NOT_ALLOWED
 *
 * Every step answers through `done`: `done()` lets aedes route and acknowledge the packet,
 * `refuse` sends it nowhere (acknowledged, never delivered), `done(err)` withholds the PUBACK and
 * closes the link. Nothing may throw out of `handle`: a fault is caught, answered
 * MESSAGE_NOT_PROCESSED, logged and counted.
 */
export type Done = (err?: Error | null) => void;

/**
 * What became of a telemetry message: what to answer the device, how many readings were kept,
 * and `durable`, which resolves once they and what they caused are committed.
 */
export interface TelemetryTaken {
  rejects: Reject[];
  accepted: number;
  durable: Promise<void>;
}

/** Told once what became of a telemetry message: taken, or not taken at all. */
export interface TelemetryReply {
  taken(t: TelemetryTaken): void;
  failed(err: Error): void;
}

export interface PublishDeps {
  limiter: RateLimiter;
  limits: { messagesPerS: number; messageBurst: number };
  clock(): number;
  /** decode, de-duplicate, judge and store: the other side of the gateway */
  onTelemetry(device: GatewayDevice, payload: Buffer, at: number, reply: TelemetryReply): void;
  /** resolves once what the device's word changed (its offline alarm) is durable */
  onLink(device: GatewayDevice, link: 'online' | 'offline', at: number, via: string): Promise<void> | undefined;
  /** the device's other live connections */
  othersOf(deviceId: string, client: Client): Client[];
  /** publish the rejects on the device's `reject` topic, and count them */
  answer(device: GatewayDevice, topic: string, rejects: Reject[]): void;
  counters: {
    messagesIn: { inc(): void };
    readingsAccepted: { inc(n: number): void };
    rejected: { inc(labels: { code: string }): void };
    publishFaults: { inc(): void };
  };
  log: { warn(o: object, msg?: string): void; error?(o: object, msg?: string): void };
}

/** aedes has no way to refuse a QoS 0/1 PUBLISH under MQTT 3.1.1 without dropping the link; we
 * re-address refused packets to a topic nobody may subscribe to, as mosquitto drops them. */
const NOWHERE = '$refused';

/** Was this packet refused (sent nowhere)? */
export const refusedPacket = (packet: PublishPacket) => packet.topic === NOWHERE;

export function refuse(packet: PublishPacket, done: Done) {
  packet.topic = NOWHERE;
  packet.retain = false;
  done(null);
}

export class PublishPipeline {
  /** when each device was last told it is too fast, so the answers do not flood it either */
  private readonly toldTooFast = new Map<string, number>();
  /** messages not taken, said once a minute */
  private readonly notTakenSaid = new Repeats();
  /** PUBLISH packets of each connection (its socket) taken and not yet answered */
  private readonly open = new WeakMap<object, number>();
  /** and of every connection */
  private openTotal = 0;

  constructor(private readonly deps: PublishDeps) {}

  /** How many of this connection's PUBLISH packets are taken and not yet answered (the frame guard reads no more past a bound). */
  unanswered(conn: object): number {
    return this.open.get(conn) ?? 0;
  }

  /** How many PUBLISH packets of all connections are taken and not yet answered. */
  unansweredInAll(): number {
    return this.openTotal;
  }

  handle(client: Client, principal: Principal | undefined, packet: PublishPacket, cb: Done) {
    let answered = false;
    const conn = client.conn as object;
    this.open.set(conn, (this.open.get(conn) ?? 0) + 1);
    this.openTotal++;
    const done: Done = (err) => {
      if (answered) return;
      answered = true;
      // counted down before the broker hears: the read it then tries sees the room
      this.open.set(conn, this.open.get(conn)! - 1);
      this.openTotal--;
      cb(err);
    };
    this.guarded(client, principal, packet, done, () => {
      if (principal?.kind !== 'device') return refuse(packet, done);
      this.deps.counters.messagesIn.inc();
      this.rate(client, principal, packet, done, () => this.topic(client, principal, packet, done));
    });
  }

  private guarded(client: Client, principal: Principal | undefined, packet: PublishPacket, done: Done, step: () => void) {
    try {
      step();
    } catch (e) {
      this.deps.counters.publishFaults.inc();
      (this.deps.log.error ?? this.deps.log.warn)({ err: (e as Error)?.message ?? String(e), client: client.id, topic: packet.topic.slice(0, 200) }, 'message could not be processed');
      if (principal?.kind === 'device') this.deps.answer(principal.device, packet.topic, [{ code: 'MESSAGE_NOT_PROCESSED' }]);
      refuse(packet, done);
    }
  }

  /**
   * QoS 0 promises nothing: over the rate it is dropped, and said so (at most once a second).
   * QoS 1: a PUBACK must mean stored, so excess is not dropped but slowed: the PUBACK (and the
   * broker reading more from this client) waits until the device is back within its rate.
   */
  private rate(client: Client, p: Extract<Principal, { kind: 'device' }>, packet: PublishPacket, done: Done, next: () => void) {
    const { deviceId } = p.device;
    const now = this.deps.clock();
    if (packet.qos === 0) {
      if (this.deps.limiter.take(deviceId, now)) return next();
      if (now - (this.toldTooFast.get(deviceId) ?? 0) >= 1000) {
        this.toldTooFast.set(deviceId, now);
        this.deps.answer(p.device, packet.topic, [{ code: 'RATE_LIMITED', detail: `at most ${this.deps.limits.messagesPerS} messages/s (burst ${this.deps.limits.messageBurst})` }]);
      } else this.deps.counters.rejected.inc({ code: 'RATE_LIMITED' });
      return refuse(packet, done);
    }
    const wait = this.deps.limiter.reserve(deviceId, now);
    if (wait <= 0) return next();
    if (wait > 10_000) return done(new Error('far over the message rate'));
    this.deps.counters.rejected.inc({ code: 'RATE_LIMITED' });
    setTimeout(() => this.guarded(client, p, packet, done, next), wait);
  }

  /** A device may publish to its own telemetry and status topics only. */
  private topic(client: Client, p: Extract<Principal, { kind: 'device' }>, packet: PublishPacket, done: Done) {
    const device = p.device;
    if (packet.topic === p.telemetry) return this.telemetry(device, packet, done);
    const topic = parseDeviceTopic(packet.topic);
    const own = topic && topic.enterpriseId === device.enterpriseId && topic.deviceId === device.deviceId;
    if (own && topic.kind === 'telemetry') return this.telemetry(device, packet, done);
    if (own && topic.kind === 'status') return this.status(client, device, packet, done);
    this.deps.answer(device, packet.topic, [{ code: 'TOPIC_NOT_ALLOWED', detail: packet.topic.slice(0, 200) }]);
    refuse(packet, done);
  }

  private status(client: Client, device: GatewayDevice, packet: PublishPacket, done: Done) {
    const status = packet.payload.toString('utf8').replace(/^"|"$/g, '').trim();
    if (status !== 'online' && status !== 'offline') {
      this.deps.answer(device, packet.topic, [{ code: 'STATUS_INVALID', detail: status.slice(0, 40) }]);
      return refuse(packet, done);
    }
    // an old session's last will, fired while the device is connected again (a reconnect that
    // took over its session), is not news: the device is there
    if (status === 'offline' && this.deps.othersOf(device.deviceId, client).length) return done(null);
    // the offline alarm it raises (or the one it clears) is in the record before the PUBACK
    this.ack(packet, done, this.deps.onLink(device, status, this.deps.clock(), client.id) ?? Promise.resolve());
  }

  /** handed on → answer → ack policy (`TelemetryMessage`, below) */
  private telemetry(device: GatewayDevice, packet: PublishPacket, done: Done) {
    this.deps.onTelemetry(device, packet.payload as Buffer, this.deps.clock(), new TelemetryMessage(this, device, packet, done));
  }

  /** What became of a telemetry message, answered: the rejects said, the PUBACK when it is due. */
  answered(device: GatewayDevice, packet: PublishPacket, done: Done, { rejects, accepted, durable }: TelemetryTaken) {
    if (rejects.length) this.deps.answer(device, packet.topic, rejects);
    // what was refused whole goes to no subscriber either; a resend of readings still on their
    // way to the disk (a duplicate) is acknowledged when they are, not before
    if (accepted === 0 && rejects.some((r) => r.code === 'DUPLICATE_SEQ')) {
      packet.topic = NOWHERE;
      packet.retain = false;
      return this.ack(packet, done, durable);
    }
    if (accepted === 0) return refuse(packet, done);
    this.deps.counters.readingsAccepted.inc(accepted);
    this.ack(packet, done, durable);
  }

  /**
   * Nothing was taken (the pipeline is not running): no PUBACK, the device sends it again. Said at
   * most once a minute, with how many since: when the pipeline's thread ends, every message in
   * flight lands here (16 for each busy connection: a line each was tens of thousands).
   */
  notTaken(device: GatewayDevice, done: Done, err: Error) {
    const n = this.notTakenSaid.happened('', this.deps.clock());
    if (n) this.deps.log.warn({ err: err.message, device: device.deviceId, alike: n - 1 }, 'telemetry not taken');
    done(err);
  }

  /** QoS 1: the PUBACK is the promise that the message and what it caused are stored, so it waits for durability. */
  private ack(packet: PublishPacket, done: Done, durable: Promise<void>) {
    if (packet.qos > 0) durable.then(() => done(null), (err: Error) => done(err));
    else {
      durable.catch((err: Error) => this.deps.log.warn({ err: err.message, topic: packet.topic.slice(0, 200) }, 'QoS 0 message not stored'));
      done(null);
    }
  }
}

/**
 * A telemetry message on its way: one object per message where a promise and its callbacks were
 * several (the main thread's garbage at tens of thousands of messages a second).
 */
class TelemetryMessage implements TelemetryReply {
  constructor(
    private readonly pipeline: PublishPipeline,
    private readonly device: GatewayDevice,
    private readonly packet: PublishPacket,
    private readonly done: Done,
  ) {}

  taken(t: TelemetryTaken) {
    this.pipeline.answered(this.device, this.packet, this.done, t);
  }

  failed(err: Error) {
    this.pipeline.notTaken(this.device, this.done, err);
  }
}
