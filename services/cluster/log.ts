import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { connect, headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ClusterSetupError } from './partition-table.ts';
import { mappingConfig, marker, partitionOf, probe, PROBE_ENTERPRISE, streamName, streamSubjects } from './subjects.ts';

/**
 * Cluster mode's log: NATS JetStream, one stream per partition. Edges append (and a device's
 * PUBACK waits for JetStream's acknowledgement: the message is then on a majority of the stream's
 * replicas); workers read a partition in order from a sequence number. Plain NATS subjects carry
 * what is news only while it happens (alert events, messages for devices, answers).
 */
export interface LogMessage {
  /** the partition stream's sequence number: contiguous, the position replay starts from */
  seq: number;
  subject: string;
  data: Uint8Array;
  /** the edge's receive time (telemetry, readings, links) or the marker's time */
  at: number;
}

export interface LogLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

const AT = 'Rm-At';
/** how long an append is tried again before its caller hears it failed */
const RETRY_APPENDS_MS = 5000;

interface Pending {
  subject: string;
  data: Uint8Array;
  at: number;
  since: number;
  resolve(seq: number): void;
  reject(e: Error): void;
}

export class ClusterLog {
  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly log: LogLog,
  ) {}

  static async connect(servers: string[], name: string, log: LogLog): Promise<ClusterLog> {
    // reconnects for ever: a NATS node that goes away is replaced by the others of the cluster
    // noAsyncTraces: the client would make an Error (a stack trace) for every request it sends, in
    // case it fails: a third of an edge's CPU per message
    const nc = await connect({ servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 250, pingInterval: 5000, noAsyncTraces: true });
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'disconnect' || s.type === 'reconnect') log.warn({ nats: s.type, server: 'server' in s ? s.server : undefined }, 'NATS connection');
    })().catch(() => {});
    return new ClusterLog(nc, jetstream(nc, { timeout: 5000 }), await jetstreamManager(nc, { timeout: 5000, checkAPI: false }), log);
  }

  /**
   * The partition streams, created where missing. Their number is fixed for the life of the data
   * (the server's mapping hashes enterprises into exactly that many). Messages are kept `keepDays`
   * (a worker snapshots far more often); a full stream refuses new messages rather than dropping
   * old ones a worker may not have read yet.
   */
  async ensureStreams(partitions: number, replicas: number, keepDays = 7): Promise<void> {
    const have = new Set<string>();
    for await (const name of this.jsm.streams.names()) have.add(name);
    const missing = Array.from({ length: partitions }, (_, p) => p).filter((p) => !have.has(streamName(p)));
    if (missing.length) this.log.info({ streams: missing.length, replicas }, 'making the partition streams (the first start of a cluster: this takes a while)');
    for (const p of missing) {
      try {
        await this.jsm.streams.add({
          name: streamName(p),
          subjects: streamSubjects(p),
          num_replicas: replicas,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          max_age: keepDays * 86_400 * 1e9,
          discard: DiscardPolicy.New,
        });
      } catch (e) {
        const msg = (e as Error).message;
        // another process made it meanwhile
        if (/already in use|exists/i.test(msg)) continue;
        if (/replicas > 1 not supported/i.test(msg)) throw new ClusterSetupError(`CLUSTER_REPLICAS is ${replicas}, but NATS runs as a single server: set CLUSTER_REPLICAS=1, or run a NATS cluster of ${replicas} or more`);
        throw e;
      }
    }
    await this.checkMapping(partitions);
  }

  /**
   * The servers must map `rm.in.<enterprise>.…` into the partitions by the same hash and count as
   * this process: a probe goes in (no partition's reader takes it for anything) and must land in
   * the partition computed here.
   */
  private async checkMapping(partitions: number) {
    const expected = streamName(partitionOf(PROBE_ENTERPRISE, partitions));
    let landed: string;
    try {
      landed = (await this.js.publish(probe(), new Uint8Array(0))).stream;
    } catch (e) {
      throw new ClusterSetupError(`the NATS servers do not put rm.in.… into the partition streams (${(e as Error).message}): add this to their configuration and restart them:\n${mappingConfig(partitions)}`);
    }
    if (landed !== expected) throw new ClusterSetupError(`the NATS servers map rm.in.… into another number of partitions than CLUSTER_PARTITIONS=${partitions} (a probe landed in ${landed}, not ${expected}): their mapping must be\n${mappingConfig(partitions)}`);
  }

  /**
   * Append to the log; resolves with the partition's sequence once JetStream has it. Appends made
   * within one turn of the event loop go out together, in one write to the socket (a message at a
   * time, a write each, was most of an edge's CPU).
   */
  append(subject: string, data: Uint8Array, at: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push({ subject, data, at, since: Date.now(), resolve, reject });
      if (this.pending.length === 1) setImmediate(() => this.flush());
    });
  }

  private pending: Pending[] = [];

  private flush() {
    const batch = this.pending;
    this.pending = [];
    for (const p of batch) this.publish1(p);
  }

  /**
   * A stream whose leader just went away, or a server that restarted and has not rejoined
   * JetStream yet, refuses for a moment: the append is tried again for a few seconds before its
   * caller hears of it (and an MQTT device then sends it again: it may be in the log twice, and
   * the worker drops the second by its seq).
   */
  private publish1(p: Pending) {
    const h = natsHeaders();
    h.set(AT, String(p.at));
    this.js.publish(p.subject, p.data, { headers: h }).then(
      (ack) => p.resolve(ack.seq),
      (err: Error) => {
        if (Date.now() - p.since > RETRY_APPENDS_MS || this.nc.isClosed()) return p.reject(err);
        setTimeout(() => this.publish1(p), 250);
      },
    );
  }

  /** A partition-wide marker (time passing, a new registry), with its time. */
  mark(partition: number, kind: 'tick' | 'registry', body: object, at: number): Promise<number> {
    return this.append(marker(partition, kind), new TextEncoder().encode(JSON.stringify(body)), at);
  }

  /** Plain NATS: news for whoever listens now. */
  publish(subject: string, data: string | Uint8Array) {
    this.nc.publish(subject, data);
  }

  subscribe(subject: string, onMessage: (subject: string, data: Uint8Array, reply?: string) => void): Subscription {
    const sub = this.nc.subscribe(subject);
    void (async () => {
      for await (const m of sub) {
        try {
          onMessage(m.subject, m.data, m.reply);
        } catch (err) {
          this.log.error({ err: (err as Error).message, subject: m.subject }, 'a NATS listener failed');
        }
      }
    })();
    return sub;
  }

  /** The first and last sequence a partition holds (0, 0 for an empty one). */
  async bounds(partition: number): Promise<{ first: number; last: number }> {
    const info = await this.jsm.streams.info(streamName(partition));
    return { first: info.state.first_seq, last: info.state.last_seq };
  }

  /** Read a partition in order from `from` (see PartitionReader). */
  reader(partition: number, from: number): PartitionReader {
    return new PartitionReader(this.js, this.jsm, partition, from, this.log);
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}

/**
 * A partition, in order, from a sequence number, with nothing skipped: the next message handed
 * out is always the one after the last. JetStream's consumer can lose its place when a server
 * goes away (and the client's ordered consumer can stall without saying so): here every message's
 * sequence is checked against the one expected, and on a gap, an error, or a consumer that stays
 * silent while the stream holds more, the consumer is made again from the expected sequence.
 */
export class PartitionReader {
  private next: number;
  /** messages received, in order, not yet handed out */
  private queue: LogMessage[] = [];
  private consumer?: { name: string; messages: { close(): Promise<void | Error> } };
  private stopped = false;
  private wake?: () => void;
  private lastHeard = Date.now();
  private watch?: NodeJS.Timeout;
  /** a partition that lost messages for good: said at the next read */
  private lost?: LogGap;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    readonly partition: number,
    from: number,
    private readonly log: LogLog,
  ) {
    this.next = Math.max(1, from);
    this.watch = setInterval(() => void this.watchdog(), 2000);
    this.watch.unref?.();
  }

  /** the sequence of the next message to be handed out */
  get position(): number {
    return this.next - this.queue.length;
  }

  /**
   * Up to `max` messages from the position on, waiting up to `waitMs` for the first and then up
   * to `lingerMs` for more (a stretch applied, stored and committed at once costs the same
   * whether it is one message or a thousand); an empty batch when there is nothing new. Throws
   * `LogGap` when the partition lost messages for good (they aged out before anyone read them).
   */
  async read(max: number, waitMs: number, lingerMs = 0): Promise<LogMessage[]> {
    if (this.lost) {
      const gap = this.lost;
      this.lost = undefined;
      throw gap;
    }
    if (this.stopped) return [];
    if (!this.consumer) await this.open().catch((e: Error) => this.failed(e));
    const until = (ms: number, enough: () => boolean) =>
      enough() || this.stopped
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const t = setTimeout(resolve, ms);
            this.wake = () => (enough() || this.stopped || this.lost ? (clearTimeout(t), resolve()) : undefined);
          });
    await until(waitMs, () => this.queue.length > 0);
    if (lingerMs > 0 && this.queue.length) await until(lingerMs, () => this.queue.length >= max);
    this.wake = undefined;
    return this.queue.splice(0, max);
  }

  private async open() {
    const info = await this.jsm.consumers.add(streamName(this.partition), {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.next,
      // a reader that went away leaves nothing behind for long
      inactive_threshold: 30_000_000_000,
      mem_storage: true,
      num_replicas: 1,
    });
    const consumer = await this.js.consumers.get(streamName(this.partition), info.name);
    const messages = await consumer.consume({ max_messages: 1000, abort_on_missing_resource: true });
    const mine = { name: info.name, messages };
    this.consumer = mine;
    this.lastHeard = Date.now();
    void (async () => {
      for await (const m of messages) {
        if (this.consumer !== mine) break;
        this.lastHeard = Date.now();
        if (m.seq < this.next) continue;
        if (m.seq > this.next) return void (await this.gap());
        const at = Number(m.headers?.get(AT));
        this.queue.push({ seq: m.seq, subject: m.subject, data: m.data, at: Number.isFinite(at) ? at : Math.floor(m.info.timestampNanos / 1e6) });
        this.next = m.seq + 1;
        this.wake?.();
      }
      // the consumer ended (its stream or consumer went away): made again at the next read
      if (this.consumer === mine) this.drop();
    })().catch((e: Error) => this.consumer === mine && this.failed(e));
  }

  /** Silence while the stream holds more than was read: the consumer lost its place. */
  private async watchdog() {
    if (this.stopped || !this.consumer || Date.now() - this.lastHeard < 3000) return;
    try {
      const info = await this.jsm.streams.info(streamName(this.partition));
      if (info.state.last_seq >= this.next) {
        this.log.warn({ partition: this.partition, next: this.next, last: info.state.last_seq }, 'the partition\'s reader went silent with messages waiting; reading again from where it stopped');
        this.drop();
        this.wake?.();
      } else this.lastHeard = Date.now();
    } catch {
      // the cluster is not answering: the next read tries again
    }
  }

  private failed(e: Error) {
    this.log.warn({ partition: this.partition, err: e.message }, 'reading the partition failed; reading again from where it stopped');
    this.drop();
  }

  /** Either the consumer lost its place (made again) or the messages are gone (LogGap). */
  private async gap() {
    this.drop();
    const info = await this.jsm.streams.info(streamName(this.partition));
    if (info.state.first_seq > this.next) {
      this.lost = new LogGap(this.partition, this.next, info.state.first_seq - 1);
      this.next = info.state.first_seq;
    }
    this.wake?.();
  }

  private drop() {
    const c = this.consumer;
    this.consumer = undefined;
    if (!c) return;
    void c.messages.close().catch(() => {});
    void this.jsm.consumers.delete(streamName(this.partition), c.name).catch(() => {});
  }

  stop() {
    this.stopped = true;
    clearInterval(this.watch);
    this.drop();
    this.wake?.();
  }
}

/** Messages of a partition aged out of the log before they were read: they cannot be replayed. */
export class LogGap extends Error {
  constructor(
    readonly partition: number,
    readonly from: number,
    readonly to: number,
  ) {
    super(`partition ${partition} lost messages ${from}..${to} from the log before they were read`);
  }
}
