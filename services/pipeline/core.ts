import { thisThreadTid } from '../thread-cpu.ts';
import type { Outcome, Reading } from '../../domain/types.ts';
import { TelemetryIntake } from '../../gateway/ingest.ts';
import type { Reject } from '../../gateway/reject-codes.ts';
import { LiveStatus } from '../devices/live-status.ts';
import { forwardedEnterprises } from '../forward/coverage.ts';
import { Registry } from '../registry/registry.ts';
import { RuleRunner } from '../rules/runner.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { InfluxTelemetryStore } from '../store/influx-telemetry.ts';
import { bareReading, type FromPipeline, type PipelineSettings, type StoreCall, type TelemetryAnswer, type TelemetryItem, type ToPipeline, type WorldSnapshot } from './protocol.ts';

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
}

/** What the store needs from the pipeline while it runs. */
export interface StoreHooks {
  /** the region and industry of an enterprise, for InfluxDB tags */
  placement(enterpriseId: string): { region: string; industry: string };
  onBufferFull(depth: { batches: number; bytes: number }): void;
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
  private registry!: Registry;
  private readonly intake = new TelemetryIntake({ maxPayloadBytes: 0, maxReadingsPerMessage: 0, maxFutureSkewMs: 0 });
  private rules!: RuleRunner;
  private readonly seen = new LiveStatus();
  private forwarded = new Set<string>();
  private world: WorldSnapshot = { maintenance: [], suspended: [] };
  private suspended = new Set<string>();
  /** the evaluation under way: its time and what it changed */
  private now = 0;
  private collected: Outcome[] = [];
  /** batches waiting for their alert changes to be recorded, with their readings */
  private readonly awaitingRecord = new Map<number, Reading[]>();
  private healthTimer?: ReturnType<typeof setInterval>;
  private stores!: PipelineStores;

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
    this.stores = await this.open(m.settings, {
      placement: (id) => {
        const ent = this.registry?.enterprises.get(id);
        return { region: ent?.region ?? '', industry: ent?.industry ?? '' };
      },
      onBufferFull: (depth) => this.post({ kind: 'bufferFull', depth }),
      log: this.logger.child({ part: 'store' }),
    });
    // the engine's start is the start of silence for devices never heard
    this.now = m.now;
    this.rules = new RuleRunner(
      () => this.now,
      (o) => {
        for (const x of o) this.collected.push(x);
        return DONE;
      },
      (err, deviceId) => this.fault('rules', err, { deviceId }),
      {
        maintenanceAnnounced: (e, d, at) => this.world.maintenance.some((w) => w.enterpriseId === e && (w.deviceId === null || w.deviceId === d) && at >= w.from && at < w.until),
        suspended: (e) => this.suspended.has(e),
      },
    );
    this.useWorld(m.world);
    this.useRegistry(m.registry, m.now);
    for (const b of m.baselines) this.rules.baseline(b.deviceId, b.metric, b.value);
    this.rules.restore(m.open);
    // whatever the store could not answer at start, it is the store: the service runs on
    const t = this.stores.telemetry;
    const tried = async <T>(what: string, fn: () => Promise<T>, fallback: T) =>
      fn().catch((err: Error) => (this.log('warn', { err: err.message }, `${what} not read at start: the store is unreachable`), fallback));
    for (const p of await tried('last values', () => t.latest(), [])) this.seen.seed(p.deviceId, p.metric, p.value, p.ts);
    for (const [deviceId, seqs] of await tried('recent seqs', () => t.recentSeqs(m.settings.seqWindow), new Map<string, [number, number][]>())) this.intake.primeSeq(deviceId, seqs);
    this.collected = [];
    this.healthTimer = setInterval(() => this.post({ kind: 'health', health: t.health() }), 250);
    (this.healthTimer as { unref?(): void }).unref?.();
    this.post({ kind: 'ready', store: t.kind, tid: thisThreadTid() });
  }

  handle(m: ToPipeline): void {
    switch (m.kind) {
      case 'telemetry':
        return this.telemetry(m.batch, m.items, Buffer.from(m.bytes));
      case 'readings':
        return this.readings(m.batch, m.readings.map(bareReading), m.at);
      case 'recorded': {
        const readings = this.awaitingRecord.get(m.batch);
        this.awaitingRecord.delete(m.batch);
        if (readings) this.append(m.batch, readings);
        return;
      }
      case 'link':
        return this.emit(null, m.at, () => this.rules.link(m.deviceId, m.link, m.at));
      case 'tick':
        return this.emit(m.id, m.now, () => this.rules.tick());
      case 'registry':
        return this.emit(m.id, m.now, () => this.useRegistry(m.registry, m.now));
      case 'world':
        return this.useWorld(m.world);
      case 'baseline':
        return this.rules.baseline(m.deviceId, m.metric, m.value);
      case 'forget':
        return this.rules.forget(m.key);
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

  private useRegistry(loaded: Registry['loaded'], now: number) {
    this.registry = new Registry(loaded);
    const g = loaded.file.gateway;
    this.intake.limits = { maxPayloadBytes: g.maxPayloadBytes, maxReadingsPerMessage: g.maxReadingsPerMessage, maxFutureSkewMs: g.maxFutureSkewS * 1000 };
    this.forwarded = forwardedEnterprises(this.registry);
    this.now = now;
    this.rules.use(this.registry);
  }

  private useWorld(w: WorldSnapshot) {
    this.world = w;
    this.suspended = new Set(w.suspended);
  }

  /** Decode each message, judge its readings in the order they came, answer, then store. */
  private telemetry(batch: number, items: TelemetryItem[], bytes: Buffer) {
    const answers: TelemetryAnswer[] = [];
    const kept: Reading[] = [];
    const forward: Reading[] = [];
    this.collected = [];
    for (const item of items) {
      try {
        const entry = this.registry.devices.get(item.deviceId);
        if (!entry) {
          answers.push({ rejects: [{ code: 'MESSAGE_NOT_PROCESSED', detail: 'the device is no longer in the registry' }], accepted: 0 });
          continue;
        }
        const scope = { enterpriseId: entry.enterprise.id, deviceId: item.deviceId, points: entry.points };
        const { readings, rejects } = this.intake.take(bytes.subarray(item.offset, item.offset + item.length), scope, item.at);
        answers.push({ rejects, accepted: readings.length });
        if (!readings.length) continue;
        this.judge(readings, item.at);
        for (const r of readings) kept.push(r);
        if (this.forwarded.has(scope.enterpriseId)) for (const r of readings) forward.push(r);
      } catch (e) {
        // nothing of a message that could not be processed is kept; the others go on
        this.fault('telemetry', e as Error, { deviceId: item.deviceId });
        answers.push({ rejects: [{ code: 'MESSAGE_NOT_PROCESSED' } as Reject], accepted: 0 });
      }
    }
    this.conclude(batch, answers, kept, forward);
  }

  /** Readings made elsewhere (fire panels, heartbeats): judged and stored as one batch. */
  private readings(batch: number, readings: Reading[], at: number) {
    this.collected = [];
    this.judge(readings, at);
    this.conclude(batch, [], readings, readings.filter((r) => this.forwarded.has(r.enterpriseId)));
  }

  private judge(readings: Reading[], at: number) {
    this.now = at;
    this.rules.readings(readings);
    this.seen.onReadings(readings, at);
  }

  private conclude(batch: number, answers: TelemetryAnswer[], kept: Reading[], forward: Reading[]) {
    const outcomes = this.collected;
    this.collected = [];
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
        const byDevice = new Map<string, Reading[]>();
        for (const r of readings) {
          const list = byDevice.get(r.deviceId);
          if (list) list.push(r);
          else byDevice.set(r.deviceId, [r]);
        }
        for (const [deviceId, list] of byDevice) this.intake.forgetSeqs(deviceId, list);
        // health says so before the device hears of it
        this.post({ kind: 'stored', batch, error: err?.message ?? String(err), health: this.stores.telemetry.health() });
      },
    );
  }

  /** Run something that may change verdicts, and send what it changed. */
  private emit(id: number | null, now: number, fn: () => void) {
    this.collected = [];
    this.now = now;
    try {
      fn();
    } catch (e) {
      this.fault('rules', e as Error);
    }
    const outcomes = this.collected;
    this.collected = [];
    this.post({ kind: 'outcomes', id, outcomes });
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
          const s = this.seen.get(id);
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

const DONE = Promise.resolve();
