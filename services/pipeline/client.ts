import { Worker } from 'node:worker_threads';
import type { Outcome, Reading } from '../../domain/types.ts';
import { registryChange } from '../registry/change.ts';
import type { LoadedRegistry } from '../registry/load.ts';
import { openTelemetry } from '../store/open-telemetry.ts';
import { newThread, threadEntry } from '../threads/entry.ts';
import { LatestOnly } from './latest-only.ts';
import { takeEarlyThread, takeWaiting, waitingThread, type WaitingThread } from './early-thread.ts';
import { Suspects, type HeldBack } from './suspects.ts';
import type { AlertAnnotation, BufferDepth, StoreHealth, TelemetryStore } from '../store/telemetry-store.ts';
import { PipelineCore } from './core.ts';
import { bareReading, type FromPipeline, type OpenSeed, type PipelineSettings, type StoreCall, type TelemetryAnswer, type TelemetryItem, type ToPipeline, type WorldSnapshot } from './protocol.ts';

/**
 * The main thread's side of the reading pipeline. Telemetry is gathered into batches (everything
 * that arrived in one turn of the event loop, up to a size) and handed across with its bytes
 * transferred, not copied; each message's answer comes back with the batch's outcomes, which go
 * to the alert book at once, and its durability once the batch is committed.
 *
 * Bounded: while more than `maxInFlight` messages are on the other side and not yet committed,
 * new ones wait here unanswered, so the broker reads no more from their connections (TCP pushes
 * back on the devices) instead of this process buffering without end.
 */
export interface PipelineInit {
  registry: LoadedRegistry;
  world: WorldSnapshot;
  baselines: { deviceId: string; metric: string; value: number }[];
  open: OpenSeed[];
  now: number;
}

export interface TelemetryDecision extends TelemetryAnswer {
  /** the readings and what they caused are committed (a QoS 1 PUBACK waits for it) */
  durable: Promise<void>;
}

/**
 * Where a telemetry message's fate is told, once: `taken` with its answer, or `failed` when it was
 * never taken (the pipeline not running, its thread gone). An object, not a promise: tens of
 * thousands of messages a second each made a promise, its resolvers and their callbacks.
 */
export interface TelemetryReply {
  taken(d: TelemetryDecision): void;
  failed(err: Error): void;
}

export interface PipelineClientOptions {
  settings: PipelineSettings;
  /**
   * Where the pipeline runs: `thread` (default) a worker thread, `inline` this thread (the store
   * and the rules share the event loop with everything else, as before the seam).
   */
  mode?: 'thread' | 'inline';
  /** the thread's entry when not beside this file (the bundle `npm start` runs, tests) */
  entry?: string;
  /** outcomes of readings, ticks and reloads, in order: resolves when they are in the record */
  onOutcomes(outcomes: Outcome[]): Promise<void>;
  onForward(readings: Reading[]): void;
  onEvaluated(n: number): void;
  onFault(part: string, err: Error, about?: unknown): void;
  /** InfluxDB's disk buffer refused readings (`full`), or has room again */
  onBuffer(full: boolean, depth: BufferDepth): void;
  /** the pipeline ended without being asked (it crashed): everything in flight was refused; it restarts */
  onExit(code: number): void;
  /** it runs again after such an end */
  onRestarted(): void;
  log: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void; error(o: object, msg?: string): void };
  maxBatch?: number;
  maxInFlight?: number;
  /** the pipeline says nothing for this long (it says its health every 250 ms): its health says it is stalled */
  silentAfterMs?: number;
  /** it has said nothing for `silentMs` (checked every second), or (null) it speaks again */
  onSilence?(silentMs: number | null): void;
  /** a device's message ended the thread twice as it was judged, or its messages did often: held back (suspects.ts) */
  onHeldBack?(deviceId: string, held: HeldBack): void;
}

/** How long a running pipeline may say nothing before its health says so (the main thread's stall bound, /api/health). */
export const PIPELINE_SILENT_MS = 5000;

interface Pending {
  item: TelemetryItem;
  payload: Buffer;
  reply: TelemetryReply;
}

interface InFlight {
  size: number;
  /** when it was handed over (performance.now()): the oldest not yet stored is how long PUBACKs have waited */
  sentAt: number;
  /** a telemetry batch's messages (what becomes suspect should the thread end while judging them) */
  messages?: Pending[];
  /** the thread has said what the batch's readings mean */
  decoded?: boolean;
  /** per message (telemetry) or one for the whole batch (readings); `recorded`: the outcomes are in the record */
  answer(answers: TelemetryAnswer[], recorded: Promise<void>): void;
  fail(err: Error): void;
  stored: { promise: Promise<void>; resolve(): void; reject(e: Error): void };
}

export type PipelineTelemetry = TelemetryStore & {
  annotate(a: AlertAnnotation, type: string, at: number): Promise<void>;
};

interface Side {
  post(m: ToPipeline, transfer?: ArrayBuffer[]): void;
  stop(): Promise<void>;
  /** end it as a crash would (chaos drills and tests) */
  interrupt(): Promise<void>;
}

const defer = () => {
  let resolve!: () => void, reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  // a durability nobody waits for (QoS 0) must not be an unhandled rejection
  promise.catch(() => {});
  return { promise, resolve, reject };
};

export class PipelineClient {
  private side!: Side;
  private batch = 0;
  private call = 0;
  private queue: Pending[] = [];
  /** telemetry messages taken so far, and of them handed over (or refused): a link event waits for those taken before it */
  private takenCount = 0;
  private handedCount = 0;
  /** link events waiting for the telemetry taken before them to be handed over, in order */
  private heldLinks: { after: number; go: () => void }[] = [];
  private scheduled = false;
  private readonly inFlight = new Map<number, InFlight>();
  private inFlightMessages = 0;
  private readonly calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** questions whose outcomes are on their way to the record: told once they are (or could not be) */
  private readonly asked = new Map<number, (err?: Error) => void>();
  private lastHealth: StoreHealth = { ok: true, pending: 0, lagMs: 0 };
  /** when the pipeline last said anything (real time: it speaks on its own timer) */
  private lastHeardAt = performance.now();
  private silenceWatch: NodeJS.Timeout | undefined;
  /** `onSilence` was told it is silent, and not yet that it speaks again */
  private silent = false;
  /** the pipeline thread's V8 heap (used, total bytes) as it last said */
  private lastHeap: [used: number, total: number] | null = null;
  private kind = 'embedded';
  /** the kernel's id of the thread the pipeline runs on (the main thread's when inline) */
  tid: number | undefined;
  private stopping = false;
  /** no thread (it ended, or was stopped): messages are refused */
  private ended = false;
  /** the thread has started (said `ready`): until then messages wait in `held` */
  private ready = false;
  private held: { m: ToPipeline; transfer?: ArrayBuffer[] }[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  /** messages that end the thread (suspects.ts) */
  private readonly suspects = new Suspects();
  /** new registries, one across at a time (latest-only.ts) */
  private readonly registries = new LatestOnly<{ registry: LoadedRegistry; now: number }>(({ registry, now }) =>
    // a change the thread finds not from its registry: the whole follows at once
    this.ask((id) => this.registryMessage(id, registry, now)).catch((e) => (e instanceof StaleRegistry ? this.ask((id) => this.registryMessage(id, registry, now)) : Promise.reject(e))),
  );
  /**
   * The registry the thread holds once it has read what was posted to it, and its number: a new
   * one goes across as what changed from it. Unknown (the whole goes) while no thread is ready: a
   * thread starting takes the start's registry first and what was held for it after.
   */
  private threadHolds: { registry: LoadedRegistry; version: number } | undefined;
  private registryVersion = 0;
  /** the batch and the index of the message the thread is judging (0: none), written by the thread */
  private readonly judging = new Int32Array(new SharedArrayBuffer(8));
  /** the time of the last message taken (suspects are forgotten after a while) */
  private lastAt = 0;

  /** The time-series store as the API and reports see it: questions go to the pipeline that owns it. */
  readonly telemetry: PipelineTelemetry;

  constructor(private readonly o: PipelineClientOptions) {
    const client = this;
    this.telemetry = {
      get kind() {
        return client.kind;
      },
      append: () => Promise.reject(new Error('readings are appended by the pipeline')),
      query: (q) => this.rpc({ method: 'query', args: [q] }),
      recentSeqs: () => Promise.resolve(new Map()),
      latest: () => this.rpc({ method: 'latest', args: [] }),
      coverage: (deviceId, bucketMs, from, to) => this.rpc({ method: 'coverage', args: [deviceId, bucketMs, from, to] }),
      firstSeen: (deviceId) => this.rpc({ method: 'firstSeen', args: [deviceId] }),
      health: () => this.health(),
      prune: (before) => this.rpc({ method: 'prune', args: [before] }),
      // committed here first: what was handed over before the flush is in it
      flush: async (timeoutMs) => {
        await this.idle();
        await this.rpc({ method: 'flush', args: [timeoutMs] });
      },
      close: async () => {},
      annotate: async (a, type, at) => {
        // what the annotation needs, not the whole alert (its history, feedback, photos) copied across
        const alert: AlertAnnotation = { id: a.id, enterpriseId: a.enterpriseId, deviceId: a.deviceId, rule: a.rule, severity: a.severity, metric: a.metric, pointId: a.pointId ?? null, message: a.message };
        this.post({ kind: 'annotate', alert, type, at });
      },
    };
  }

  private init!: () => Promise<PipelineInit>;
  private restarting?: Promise<void>;
  /** a thread loaded and waiting for `start`, kept once one has ended unasked (keepSpare) */
  private spare?: WaitingThread;

  /** `init` says what the pipeline starts from: asked again should it ever have to restart. */
  async start(init: () => Promise<PipelineInit>): Promise<void> {
    this.init = init;
    await this.launch();
    // judged after this turn's messages are read (setImmediate runs after the poll phase): a main
    // thread held up itself has the pipeline's words waiting, which are no silence
    this.silenceWatch = setInterval(() => setImmediate(() => this.watchSilence(performance.now())), Math.min(1000, this.o.silentAfterMs ?? PIPELINE_SILENT_MS));
    this.silenceWatch.unref();
  }

  /** Tells `onSilence` when the running pipeline stops speaking, and when it speaks again. */
  private watchSilence(now: number) {
    // an ended thread (restarting: its own alarm) is not heard again until a new one speaks
    if (!this.ready || this.ended || this.stopping) return;
    const ms = now - this.lastHeardAt;
    const silent = ms >= (this.o.silentAfterMs ?? PIPELINE_SILENT_MS);
    if (silent === this.silent) return;
    this.silent = silent;
    this.isolated('pipeline silence', () => this.o.onSilence?.(silent ? ms : null));
  }

  private async launch(): Promise<void> {
    this.ended = false;
    this.ready = false;
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (m: FromPipeline) => {
        if (m.kind === 'ready') {
          this.kind = m.store;
          this.tid = m.tid;
          this.ready = true;
          this.lastHeardAt = performance.now();
          for (const h of this.held.splice(0)) this.side.post(h.m, h.transfer);
          resolve();
        } else this.receive(m);
      };
      this.side = this.o.mode === 'inline' ? this.inline(onMessage) : this.thread(onMessage, reject);
    });
    const init = await this.init();
    const registryVersion = ++this.registryVersion;
    this.side.post({ kind: 'start', settings: this.o.settings, judging: this.judging.buffer as SharedArrayBuffer, ...init, registryVersion });
    // a registry held meanwhile goes after the start's (and is whole): the thread ends with it
    if (!this.held.some((h) => h.m.kind === 'registry')) this.threadHolds = { registry: init.registry, version: registryVersion };
    await ready;
    if (this.queue.length) this.send();
  }

  /** Running, or starting again after it ended unasked: what is asked now waits for it. */
  private running(): boolean {
    return !this.stopping && (!this.ended || this.restarting !== undefined);
  }

  /** To the pipeline, once it has started (meanwhile in order, held here); false: no pipeline to take it. */
  private post(m: ToPipeline, transfer?: ArrayBuffer[]): boolean {
    if (this.ready) this.side.post(m, transfer);
    else if (!this.ended) this.held.push({ m, transfer });
    else return false;
    return true;
  }

  /**
   * The thread ended unasked: what was in flight was refused (devices resend what was not
   * acknowledged); a new one starts from the registry, the world and the alerts open now.
   */
  private restart() {
    this.restarting ??= (async () => {
      for (let wait = 100; !this.stopping; wait = Math.min(wait * 2, 10_000)) {
        try {
          await this.launch();
          this.restarting = undefined;
          this.o.onRestarted();
          this.keepSpare();
          return;
        } catch (e) {
          this.o.log.error({ err: (e as Error).message }, 'the reading pipeline did not start again; trying once more');
          await new Promise((r) => setTimeout(r, wait));
        }
      }
    })();
  }

  /**
   * Once a thread has ended unasked, another may: a spare one is loaded beside the running one
   * (its code and DuckDB: about half a second of a core, and 35 MB) so that the next restart
   * waits only for its store to open. None is kept before: most services never need it.
   */
  private keepSpare() {
    if (this.o.mode === 'inline' || this.spare || this.stopping) return;
    const { file } = workerEntry(this.o.entry);
    this.spare = waitingThread(this.newWorker(), file);
  }

  private takeSpare(): Worker | undefined {
    const spare = this.spare;
    this.spare = undefined;
    return takeWaiting(spare, workerEntry(this.o.entry).file);
  }

  private newWorker(): Worker {
    return newThread(workerEntry(this.o.entry));
  }

  private thread(onMessage: (m: FromPipeline) => void, failedToStart: (e: Error) => void): Side {
    const { file, boot } = workerEntry(this.o.entry);
    const worker = this.takeSpare() ?? (boot ? undefined : takeEarlyThread(file)) ?? this.newWorker();
    worker.on('message', onMessage);
    worker.on('error', (err) => this.o.log.error({ err: err.message, stack: err.stack }, 'the reading pipeline failed'));
    let ready = false;
    worker.on('message', (m: FromPipeline) => m.kind === 'ready' && (ready = true));
    worker.on('exit', (code) => {
      if (!this.stopping) this.noteEnd();
      this.ended = true;
      this.ready = false;
      // what waited for this thread is refused with the rest (a new one starts from the state now)
      this.held = [];
      this.refuseAll(new Error('the reading pipeline stopped'));
      if (!ready) return failedToStart(new Error(`the reading pipeline ended (exit ${code}) before it was ready; see the log above`));
      if (this.stopping) return;
      this.o.onExit(code);
      this.restart();
    });
    let stopped: Promise<void> | undefined;
    return {
      post: (m, transfer) => worker.postMessage(m, transfer ?? []),
      interrupt: () =>
        new Promise<void>((resolve) => {
          if (this.ended) return resolve();
          worker.once('exit', () => resolve());
          worker.postMessage({ kind: 'crash' } satisfies ToPipeline);
        }),
      stop: () =>
        (stopped ??= new Promise<void>((resolve) => {
          if (this.ended) return resolve();
          const id = ++this.call;
          const onStopped = (m: FromPipeline) => m.kind === 'stopped' && m.id === id && (worker.off('message', onStopped), void worker.terminate().then(() => resolve()));
          worker.on('message', onStopped);
          worker.once('exit', () => resolve());
          worker.postMessage({ kind: 'stop', id } satisfies ToPipeline);
        })),
    };
  }

  private inline(onMessage: (m: FromPipeline) => void): Side {
    // answers are queued, never given inside the call that asked: the same order as a thread.
    // Messages are copied (and their bytes moved) as a thread's would be, so that neither side
    // can lean on sharing an object with the other: both modes see the same data
    const core = new PipelineCore(openTelemetry, (m) => {
      const copy = structuredClone(m);
      queueMicrotask(() => onMessage(copy));
    });
    let started: Promise<void> = Promise.resolve();
    return {
      post: (sent, transfer) => {
        const m = structuredClone(sent, { transfer: transfer ?? [] });
        if (m.kind === 'start') started = core.start(m);
        else if (m.kind !== 'stop') void started.then(() => core.handle(m));
      },
      stop: () => started.then(() => core.stop()),
      interrupt: () => Promise.reject(new Error('an inline pipeline cannot be interrupted')),
    };
  }

  /** Until when a device's messages are held back (suspects.ts), or null. */
  heldBackUntil(deviceId: string, now: number): number | null {
    return this.suspects.deviceHeldUntil(deviceId, now);
  }

  /** One telemetry message of a device, as received. */
  take(deviceId: string, payload: Buffer, at: number, reply: TelemetryReply): void {
    if (!this.running()) return this.tell([reply], new Error('the reading pipeline is not running'));
    this.takenCount++;
    this.lastAt = at;
    const held = this.suspects.heldBackNow(deviceId, payload, at);
    if (held) {
      this.handedCount++;
      this.releaseLinks();
      const detail = held.what === 'message' ? 'this message ended the reading pipeline twice: it is not taken' : `this device's messages ended the reading pipeline again and again: none is taken until ${new Date(held.until).toISOString()}`;
      return this.tell([reply], [{ rejects: [{ code: 'MESSAGE_NOT_PROCESSED', detail }], accepted: 0, durable: Promise.resolve() }]);
    }
    this.queue.push({ item: { deviceId, at, offset: 0, length: payload.length }, payload, reply });
    if (this.queue.length >= (this.o.maxBatch ?? 2000)) this.send();
    else if (!this.scheduled) {
      this.scheduled = true;
      // what arrived in this turn of the event loop goes as one batch
      setImmediate(() => this.send());
    }
  }

  /**
   * Messages' fates told to their replies after the code at hand has run (as a promise's callbacks
   * would be: a reply goes on into the broker, which must not come back into a loop of this
   * client), each isolated: a reply that throws does not keep the others from theirs.
   */
  private tell(replies: TelemetryReply[], outcome: TelemetryDecision[] | Error) {
    queueMicrotask(() => {
      for (let i = 0; i < replies.length; i++) {
        try {
          if (outcome instanceof Error) replies[i].failed(outcome);
          else replies[i].taken(outcome[i]);
        } catch (e) {
          this.o.onFault('telemetry reply', e as Error);
          // its message must not stay unanswered (its link would read no more): failed closes
          // the link unless the reply answered before it threw, and the device sends it again
          if (!(outcome instanceof Error)) {
            try {
              replies[i].failed(e as Error);
            } catch {
              // counted above
            }
          }
        }
      }
    });
  }

  /** Readings made here (fire panels, heartbeats): stored and judged as one batch. */
  readings(readings: Reading[], at: number): { stored: Promise<void>; recorded: Promise<void> } {
    const stored = defer();
    const recorded = defer();
    if (!this.running()) {
      const err = new Error('the reading pipeline is not running');
      stored.reject(err);
      recorded.resolve();
      return { stored: stored.promise, recorded: recorded.promise };
    }
    const batch = this.nextBatch();
    this.inFlight.set(batch, {
      size: 1,
      sentAt: performance.now(),
      answer: (_a, changes) => void changes.then(recorded.resolve, (e: Error) => recorded.reject(e)),
      fail: (e) => (stored.reject(e), recorded.resolve()),
      stored,
    });
    this.inFlightMessages++;
    this.post({ kind: 'readings', batch, readings, at });
    return { stored: stored.promise, recorded: recorded.promise };
  }

  /** Messages waiting here to be handed over, and handed over and not yet committed (for /metrics). */
  depth(): { waiting: number; inFlight: number } {
    return { waiting: this.queue.length, inFlight: this.inFlightMessages };
  }

  /** The pipeline thread's V8 heap, used and total bytes, as it last said (null before it has). */
  heap(): [used: number, total: number] | null {
    return this.lastHeap;
  }

  private send() {
    this.scheduled = false;
    // while a new thread starts, messages wait here (their devices unanswered)
    if (!this.queue.length || !this.ready) return;
    // over the bound: wait for commits to make room (see `receive`, stored)
    if (this.inFlightMessages >= (this.o.maxInFlight ?? 20_000)) return;
    this.sendBatch(this.queue.splice(0, this.o.maxBatch ?? 2000));
    if (this.queue.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.send());
    }
  }

  /**
   * The thread ended unasked: the message it was judging, if any, is a suspect, or, the second
   * time, held back, as is a device whose messages end it often (and the operators told).
   */
  private noteEnd() {
    const batch = Atomics.load(this.judging, 0);
    const index = Atomics.load(this.judging, 1);
    Atomics.store(this.judging, 0, 0);
    const f = batch ? this.inFlight.get(batch) : undefined;
    const m = f && !f.decoded ? f.messages?.[index] : undefined;
    const held = m && this.suspects.ended(m.item.deviceId, m.payload, this.lastAt);
    if (held) this.isolated('held back', () => this.o.onHeldBack?.(m.item.deviceId, held));
  }

  /**
   * Batch numbers run 1 … 2³¹−1 and round again: the thread marks the batch it judges in an Int32
   * word (0: none), and a number past it read back negative, then 0, and no end was pinned on a
   * message any more (an outside probe; at 1 000 batches a second, after 25 days). A batch that old
   * is long settled.
   */
  private nextBatch(): number {
    this.batch = this.batch >= 0x7fffffff ? 1 : this.batch + 1;
    return this.batch;
  }

  /** Messages across as one batch. */
  private sendBatch(take: Pending[]): void {
    let bytes = 0;
    for (const p of take) bytes += p.payload.length;
    const buf = new Uint8Array(bytes);
    let offset = 0;
    const items = take.map((p) => {
      buf.set(p.payload, offset);
      p.item.offset = offset;
      offset += p.payload.length;
      return p.item;
    });
    const replies = take.map((p) => p.reply);
    const batch = this.nextBatch();
    const stored = defer();
    let answered = false;
    this.inFlight.set(batch, {
      size: take.length,
      sentAt: performance.now(),
      messages: take,
      answer: (answers, recorded) => {
        answered = true;
        const durable = Promise.all([stored.promise, recorded]).then(() => {});
        durable.catch(() => {});
        // a resend of readings still on their way to the disk is a duplicate: its PUBACK waits for
        // theirs (and fails with them), or a kill -9 in between would lose readings acknowledged.
        // What each such device had unsettled is noted before this batch joins it (duplicates are
        // rare: nothing is copied for the others)
        let before: Map<number, Promise<void>[]> | undefined;
        for (let i = 0; i < take.length; i++) {
          const a = answers[i];
          if (a?.rejects.length && a.rejects.some((r) => r.code === 'DUPLICATE_SEQ')) (before ??= new Map()).set(i, [...(this.unsettled.get(take[i].item.deviceId) ?? [])]);
        }
        for (const p of take) this.unsettledUntil(p.item.deviceId, durable);
        const decisions: TelemetryDecision[] = [];
        for (let i = 0; i < take.length; i++) {
          const a = (answers[i] ?? { rejects: [{ code: 'MESSAGE_NOT_PROCESSED' }], accepted: 0 }) as TelemetryDecision;
          const earlier = before?.get(i);
          if (earlier?.length) {
            a.durable = Promise.all([durable, ...earlier]).then(() => {});
            a.durable.catch(() => {});
          } else a.durable = durable;
          // the answer came across as a copy: it is this message's own to complete
          decisions.push(a);
        }
        this.tell(replies, decisions);
      },
      // the thread ended: messages not answered yet fail, and those answered (decoded, not yet
      // stored) hear it through `stored`, or their PUBACKs would wait for ever and their links
      // read nothing more
      fail: (err) => {
        if (!answered) this.tell(replies, err);
        stored.reject(err);
      },
      stored,
    });
    this.inFlightMessages += take.length;
    this.post({ kind: 'telemetry', batch, items, bytes: buf.buffer }, [buf.buffer]);
    this.handedCount += take.length;
    this.releaseLinks();
  }

  /** per device, the durability of its messages answered and not yet on disk */
  private readonly unsettled = new Map<string, Set<Promise<void>>>();

  private unsettledUntil(deviceId: string, durable: Promise<void>) {
    let set = this.unsettled.get(deviceId);
    if (!set) this.unsettled.set(deviceId, (set = new Set()));
    if (set.has(durable)) return;
    set.add(durable);
    const done = () => {
      set.delete(durable);
      if (!set.size && this.unsettled.get(deviceId) === set) this.unsettled.delete(deviceId);
    };
    durable.then(done, done);
  }

  /**
   * The store's health as the pipeline last said it, unless it has stopped saying anything: a
   * thread held up (a condition that took minutes, a stuck commit) holds every reading and alarm,
   * while what it said last still reads "ok".
   */
  private health(): StoreHealth {
    const h = { ...this.lastHealth, handedOver: this.inFlightMessages + this.queue.length };
    if (this.silent) return { ...h, ok: false, error: `the reading pipeline has not answered for ${Math.round((performance.now() - this.lastHeardAt) / 1000)} s: readings and alarms wait for it` };
    // a thread that answers but takes none of what it was given (work ahead of the readings, a
    // commit that does not end): an outside probe saw PUBACKs wait 93 s with health "ok"
    const oldest = this.inFlight.values().next().value as InFlight | undefined;
    const waited = oldest ? performance.now() - oldest.sentAt : 0;
    if (waited >= (this.o.silentAfterMs ?? PIPELINE_SILENT_MS)) return { ...h, ok: false, error: `readings handed to the reading pipeline ${Math.round(waited / 1000)} s ago are not stored yet: their PUBACKs, and the alarms among them, wait` };
    return h;
  }

  private receive(m: FromPipeline) {
    this.lastHeardAt = performance.now();
    switch (m.kind) {
      case 'decoded': {
        const f = this.inFlight.get(m.batch);
        if (f) f.decoded = true;
        if (m.evaluated) this.o.onEvaluated(m.evaluated);
        if (m.forward.length) this.isolated('forward', () => this.o.onForward(m.forward.map(bareReading)));
        // the alert book hears of the changes now, in the order they were decided
        let recorded: Promise<void> = Promise.resolve();
        if (m.outcomes.length) {
          recorded = this.o.onOutcomes(m.outcomes);
          const tell = () => this.post({ kind: 'recorded', batch: m.batch });
          recorded.then(tell, tell);
        }
        f?.answer(m.answers, recorded);
        return;
      }
      case 'stored': {
        this.lastHealth = m.health;
        const f = this.inFlight.get(m.batch);
        if (!f) return;
        this.inFlight.delete(m.batch);
        this.inFlightMessages -= f.size;
        if (m.error === null) f.stored.resolve();
        else f.stored.reject(new Error(m.error));
        if (this.queue.length && !this.scheduled) this.send();
        if (!this.inFlight.size) this.idleWaiters.splice(0).forEach((w) => w());
        return;
      }
      case 'registry-stale': {
        this.o.log.error({ holds: m.holds }, 'the reading pipeline holds another registry than the one a change was made from: it is sent whole');
        this.threadHolds = undefined;
        const told = this.asked.get(m.id);
        this.asked.delete(m.id);
        told?.(new StaleRegistry());
        return;
      }
      case 'outcomes': {
        const done = m.outcomes.length ? this.o.onOutcomes(m.outcomes) : Promise.resolve();
        const told = this.asked.get(m.id);
        this.asked.delete(m.id);
        done.then(() => told?.(), (err: Error) => told?.(err));
        return;
      }
      case 'result': {
        this.lastHealth = m.health;
        const c = this.calls.get(m.id);
        this.calls.delete(m.id);
        if (m.error !== undefined) c?.reject(new Error(m.error));
        else c?.resolve(m.value);
        return;
      }
      case 'health':
        this.lastHealth = m.health;
        this.lastHeap = m.heap;
        return;
      case 'fault': {
        const err = Object.assign(new Error(m.err), { stack: m.stack });
        return this.o.onFault(m.part, err, m.about);
      }
      case 'log':
        return this.o.log[m.level](m.obj, m.msg);
      case 'buffer':
        return this.o.onBuffer(m.full, m.depth);
      case 'ready':
      case 'stopped':
        return;
    }
  }

  private isolated(part: string, fn: () => void) {
    try {
      fn();
    } catch (e) {
      this.o.onFault(part, e as Error);
    }
  }

  /** Refuse what waits here: it will never be handed over, so the link events behind it go. */
  private refuseWaiting(err: Error) {
    this.tell(this.queue.splice(0).map((p) => p.reply), err);
    this.handedCount = this.takenCount;
    this.releaseLinks();
  }

  private refuseAll(err: Error) {
    this.refuseWaiting(err);
    for (const f of this.inFlight.values()) f.fail(err);
    this.inFlight.clear();
    this.inFlightMessages = 0;
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
    for (const t of this.asked.values()) t(err);
    this.asked.clear();
    this.idleWaiters.splice(0).forEach((w) => w());
  }

  /** Time-driven rules at `now`; resolves once what they changed is with the alert book. */
  tick(now: number): Promise<void> {
    return this.ask((id) => ({ kind: 'tick', id, now })).catch(() => {});
  }

  /**
   * A new registry: resolves once what it changed (rules removed or redefined) is with the alert
   * book. One goes across at a time; of those given meanwhile only the latest follows it.
   */
  useRegistry(registry: LoadedRegistry, now: number): Promise<void> {
    return this.registries.ask({ registry, now });
  }

  private registryMessage(id: number, next: LoadedRegistry, now: number): ToPipeline {
    const base = this.ready ? this.threadHolds : undefined;
    const version = ++this.registryVersion;
    this.threadHolds = { registry: next, version };
    return { kind: 'registry', id, now, version, change: base ? registryChange(base.registry, next, base.version) : { whole: next } };
  }

  /**
   * A device said online or offline (its status topic, its last will): resolves once what that
   * changed is in the record, so the status message's PUBACK can wait for it as a reading's does;
   * rejects when it is not. It goes after the telemetry taken before it: a will fired as a link
   * closes must not reach the rules ahead of the readings the device sent before it closed (still
   * waiting here for their batch), or those readings, judged after it, count as the device
   * reporting again and clear its offline alarm.
   */
  link(deviceId: string, link: 'online' | 'offline', at: number): Promise<void> {
    const ask = () => this.ask((id) => ({ kind: 'link', id, deviceId, link, at }));
    if (this.handedCount >= this.takenCount) return ask();
    return new Promise((resolve, reject) => this.heldLinks.push({ after: this.takenCount, go: () => void ask().then(resolve, reject) }));
  }

  private releaseLinks() {
    while (this.heldLinks.length && this.heldLinks[0].after <= this.handedCount) this.heldLinks.shift()!.go();
  }

  private ask(make: (id: number) => ToPipeline): Promise<void> {
    if (!this.running()) return Promise.reject(new Error('the reading pipeline is not running'));
    const id = ++this.call;
    return new Promise((resolve, reject) => {
      this.asked.set(id, (err) => (err ? reject(err) : resolve()));
      if (!this.post(make(id))) {
        this.asked.delete(id);
        reject(new Error('the reading pipeline is starting again'));
      }
    });
  }

  world(world: WorldSnapshot) {
    this.post({ kind: 'world', world });
  }

  baseline(deviceId: string, metric: string, value: number) {
    this.post({ kind: 'baseline', deviceId, metric, value });
  }

  forget(key: string) {
    this.post({ kind: 'forget', key });
  }

  private rpc<T = never>(c: StoreCall): Promise<T> {
    if (!this.running()) return Promise.reject(new Error('the reading pipeline is not running'));
    const id = ++this.call;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.post({ kind: 'call', id, ...c } as ToPipeline);
    });
  }

  /** Each device's last values and when it was last heard, from the readings. */
  lastValues(deviceIds: string[]) {
    return this.rpc<{ deviceId: string; lastSeen: number | null; lastValues: Record<string, { value: number | boolean; ts: number }> }[]>({ method: 'lastValues', args: [deviceIds] });
  }

  /** Every batch handed over so far is committed (or refused). */
  idle(): Promise<void> {
    if (!this.inFlight.size && !this.queue.length) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * End the pipeline's thread as a crash would, without letting it commit what it holds: what
   * follows is what follows a crash (tests and chaos drills; nothing in the service calls it).
   */
  interrupt(): Promise<void> {
    return this.side.interrupt();
  }

  /** Stop taking telemetry, let what was handed over commit, then end the pipeline. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.silenceWatch);
    void this.takeSpare()?.terminate();
    this.refuseWaiting(new Error('the service is stopping'));
    await this.side?.stop();
    this.ended = true;
    this.refuseAll(new Error('the reading pipeline stopped'));
  }
}

/** The thread's code: the bundle beside this one (`npm start` runs dist/), or this folder's TypeScript. */
function workerEntry(given?: string): { file: string; boot?: URL } {
  return threadEntry({ given, caller: import.meta.url, bundle: new URL('./pipeline-thread.mjs', import.meta.url), ts: new URL('./thread.ts', import.meta.url) });
}

/** A registry change the thread could not take: it holds another registry than the one it was made from. */
class StaleRegistry extends Error {}
