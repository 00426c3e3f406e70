import { getHeapStatistics } from 'node:v8';
import { thisThreadTid } from '../thread-cpu.ts';
import type { Reading } from '../../domain/types.ts';
import type { BufferDepth, TelemetryStore } from '../store/telemetry-store.ts';
import type { InfluxTelemetryStore } from '../store/influx-telemetry.ts';
import { ReadingJudge, type Judged } from './judge.ts';
import { applyRegistryChange } from '../registry/change.ts';
import { bareReading, type FromPipeline, type PipelineSettings, type StoreCall, type ToPipeline } from './protocol.ts';

/**
 * The reading pipeline: telemetry payloads in, answers, outcomes and commits out. It decodes and
 * de-duplicates (gateway/ingest.ts), runs the rules, keeps the last values, and appends to the
 * time-series store; the alert book, which the outcomes go to, is on the other side of the seam.
 * It reads no clock: every time comes with the message that needs it, so the same messages give
 * the same answers. It runs in a worker thread of its own (thread.ts), or in the caller's thread.
 *
 * A batch's readings are appended only once the alert changes they caused are in the record
 * (`recorded`): after a crash in between, the device's resend is evaluated again instead of being
 * dropped as a duplicate of stored readings whose alarm was lost.
 */
export interface PipelineStores {
  /** InfluxDB also keeps alert changes beside the readings (annotations for its dashboards) */
  telemetry: TelemetryStore & { annotate?: InfluxTelemetryStore['annotate'] };
  close(): Promise<void>;
  /** no new native call, those under way returned: the thread may end without flushing */
  halt(): Promise<void>;
}

/** What the store needs from the pipeline while it runs. */
export interface StoreHooks {
  /** the region and industry of an enterprise, for InfluxDB tags */
  placement(enterpriseId: string): { region: string; industry: string };
  onBuffer(full: boolean, depth: BufferDepth): void;
  log: WorkerLog;
}

export interface WorkerLog {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
  debug(o: object, msg?: string): void;
  child(bindings: object): WorkerLog;
}

export class PipelineCore {
  private judge!: ReadingJudge;
  /** the number of the registry the judge holds (registry/change.ts) */
  private registryVersion = 0;
  /** batches waiting for their alert changes to be recorded, with their readings */
  private readonly awaitingRecord = new Map<number, Reading[]>();
  private healthTimer?: ReturnType<typeof setInterval>;
  private stores!: PipelineStores;
  /** the batch and index of the message being judged, shared with the main thread (suspects.ts) */
  private judging?: Int32Array;

  constructor(
    private readonly open: (settings: PipelineSettings, hooks: StoreHooks) => Promise<PipelineStores>,
    private readonly post: (m: FromPipeline) => void,
  ) {}

  /** A logger whose lines go to the service's own log, on the other side. */
  readonly logger: WorkerLog = this.loggerWith({});

  private loggerWith(bindings: object): WorkerLog {
    const at = (level: 'info' | 'warn' | 'error') => (obj: object, msg = '') => this.log(level, { ...bindings, ...obj }, msg);
    return { info: at('info'), warn: at('warn'), error: at('error'), debug: () => {}, child: (b) => this.loggerWith({ ...bindings, ...b }) };
  }

  /** The store opened, the registry, what the rules know of the world and where they stood: then ready. */
  async start(m: Extract<ToPipeline, { kind: 'start' }>) {
    this.judging = m.judging && new Int32Array(m.judging);
    this.stores = await this.open(m.settings, {
      placement: (id) => {
        const ent = this.judge?.registry.enterprises.get(id);
        return { region: ent?.region ?? '', industry: ent?.industry ?? '' };
      },
      onBuffer: (full, depth) => this.post({ kind: 'buffer', full, depth }),
      log: this.logger.child({ part: 'store' }),
    });
    this.judge = new ReadingJudge({ registry: m.registry, world: m.world, now: m.now }, (part, err, about) => this.fault(part, err, about));
    this.registryVersion = m.registryVersion;
    for (const b of m.baselines) this.judge.baseline(b.deviceId, b.metric, b.value);
    this.judge.seed(m.open);
    // whatever the store could not answer at start, it is the store: the service runs on
    const t = this.stores.telemetry;
    const tried = async <T>(what: string, fn: () => Promise<T>, fallback: T) =>
      fn().catch((err: Error) => (this.log('warn', { err: err.message }, `${what} not read at start: the store is unreachable`), fallback));
    this.judge.remember(await tried('last values', () => t.latest(), []));
    for (const [deviceId, seqs] of await tried('recent seqs', () => t.recentSeqs(m.settings.seqWindow), new Map<string, [number, number][]>())) this.judge.primeSeq(deviceId, seqs);
    this.healthTimer = setInterval(() => {
      const h = getHeapStatistics();
      this.post({ kind: 'health', health: t.health(), heap: [h.used_heap_size, h.total_heap_size] });
    }, 250);
    (this.healthTimer as { unref?(): void }).unref?.();
    this.post({ kind: 'ready', store: t.kind, tid: thisThreadTid() });
  }

  handle(m: ToPipeline): void {
    switch (m.kind) {
      case 'telemetry': {
        const judged = this.judge.telemetry(m.items, Buffer.from(m.bytes), this.judging && ((i) => this.markJudging(m.batch, i)));
        return this.conclude(m.batch, judged);
      }
      case 'readings':
        return this.conclude(m.batch, this.judge.readings(m.readings.map(bareReading), m.at));
      case 'recorded': {
        const readings = this.awaitingRecord.get(m.batch);
        this.awaitingRecord.delete(m.batch);
        if (readings) this.append(m.batch, readings);
        return;
      }
      case 'link':
        return this.post({ kind: 'outcomes', id: m.id, outcomes: this.judge.link(m.deviceId, m.link, m.at) });
      case 'tick':
        return this.post({ kind: 'outcomes', id: m.id, outcomes: this.judge.tick(m.now) });
      case 'registry': {
        if ('from' in m.change && m.change.from !== this.registryVersion) return this.post({ kind: 'registry-stale', id: m.id, holds: this.registryVersion });
        const registry = applyRegistryChange(this.judge.registry.loaded, m.change);
        this.registryVersion = m.version;
        return this.post({ kind: 'outcomes', id: m.id, outcomes: this.judge.useRegistry(registry, m.now) });
      }
      case 'world':
        return this.judge.useWorld(m.world);
      case 'baseline':
        return this.judge.baseline(m.deviceId, m.metric, m.value);
      case 'forget':
        return this.judge.forget(m.key);
      case 'annotate':
        void this.stores.telemetry.annotate?.(m.alert, m.type, m.at).catch((err: Error) => this.log('warn', { err: err.message }, 'alert annotation not written'));
        return;
      case 'call':
        void this.call(m).then(
          (value) => this.post({ kind: 'result', id: m.id, value, health: this.stores.telemetry.health() }),
          (err: Error) => this.post({ kind: 'result', id: m.id, error: err?.message ?? String(err), health: this.stores.telemetry.health() }),
        );
        return;
      case 'start':
      case 'stop':
      case 'crash':
        return;
    }
  }

  /** Everything appended so far committed, then the store closed. */
  async stop(): Promise<void> {
    clearInterval(this.healthTimer);
    // batches still waiting for their record go in as they are: accepted readings are kept
    for (const [batch, readings] of this.awaitingRecord) this.append(batch, readings);
    this.awaitingRecord.clear();
    await this.stores.telemetry.flush(this.stores.telemetry.health().ok ? 10_000 : 0).catch(() => {});
    await this.stores.close();
  }

  /** The message being judged (-1: none), where the main thread can read it should this thread end. */
  private markJudging(batch: number, index: number) {
    const judging = this.judging!;
    if (index < 0) return void Atomics.store(judging, 0, 0);
    Atomics.store(judging, 1, index);
    Atomics.store(judging, 0, batch);
  }

  /** For a thread about to end as a crash would: nothing is flushed, no store call is left under way. */
  async halt(): Promise<void> {
    clearInterval(this.healthTimer);
    await this.stores?.halt();
  }

  private conclude(batch: number, { answers, kept, forward, outcomes }: Judged) {
    this.post({ kind: 'decoded', batch, answers, outcomes, evaluated: kept.length, forward });
    if (!kept.length) return this.post({ kind: 'stored', batch, error: null, health: this.stores.telemetry.health() });
    if (outcomes.length) this.awaitingRecord.set(batch, kept);
    else this.append(batch, kept);
  }

  private append(batch: number, readings: Reading[]) {
    this.stores.telemetry.append(readings).then(
      () => this.post({ kind: 'stored', batch, error: null, health: this.stores.telemetry.health() }),
      (err: Error) => {
        // never stored: a resend of these seqs is not a duplicate
        this.judge.forgetSeqs(readings);
        // health says so before the device hears of it
        this.post({ kind: 'stored', batch, error: err?.message ?? String(err), health: this.stores.telemetry.health() });
      },
    );
  }

  private async call(m: StoreCall): Promise<unknown> {
    const t = this.stores.telemetry;
    switch (m.method) {
      case 'query':
        return t.query(...m.args);
      case 'latest':
        return t.latest();
      case 'coverage':
        return t.coverage(...m.args);
      case 'firstSeen':
        return t.firstSeen(...m.args);
      case 'prune':
        return t.prune(...m.args);
      case 'flush':
        return t.flush(...m.args);
      case 'lastValues':
        return m.args[0].map((id) => {
          const s = this.judge.seen.get(id);
          return { deviceId: id, lastSeen: s.lastSeen, lastValues: { ...s.lastValues } };
        });
    }
  }

  private fault(part: string, err: Error, about?: unknown) {
    this.post({ kind: 'fault', part, err: err?.message ?? String(err), stack: err?.stack, about });
  }

  private log(level: 'info' | 'warn' | 'error', obj: object, msg: string) {
    this.post({ kind: 'log', level, obj, msg });
  }
}
