import type { Outcome, Reading } from '../../domain/types.ts';
import { storedAsSent } from '../../domain/indicators.ts';
import { clearNotes, decodeNotes } from '../../gateway/decode.ts';
import { TelemetryIntake } from '../../gateway/ingest.ts';
import type { Reject } from '../../gateway/reject-codes.ts';
import type { SeqTracker } from '../../gateway/sequence.ts';
import type { EngineData } from '../../rules/engine.ts';
import { LiveStatus, type DeviceStatus } from '../devices/live-status.ts';
import { forwardedEnterprises } from '../forward/coverage.ts';
import type { LoadedRegistry } from '../registry/load.ts';
import { Registry } from '../registry/registry.ts';
import { RuleRunner } from '../rules/runner.ts';
import { DeviceWatches, type WatchesSnapshot } from './device-watches.ts';
import type { OpenSeed, TelemetryAnswer, TelemetryItem, WorldSnapshot } from './protocol.ts';

/**
 * What readings mean, without storing anything: decoding and de-duplication (gateway/ingest.ts),
 * the rules, and the last values. It reads no clock and does no I/O: every time comes with the
 * input that needs it, so the same inputs in the same order give the same answers and outcomes.
 * The reading pipeline (core.ts) runs one and stores what it keeps; in cluster mode each
 * partition a worker owns runs one over the partition's log, and a snapshot of it (`snapshot`)
 * plus the log after it gives it back exactly.
 */
export interface Judged {
  /** per telemetry message, in order */
  answers: TelemetryAnswer[];
  /** readings kept (not refused, not duplicates), to be stored */
  kept: Reading[];
  /** readings of enterprises an uplink covers: for the forwarder */
  forward: Reading[];
  /** what they changed, in order: for the alert book */
  outcomes: Outcome[];
}

/** Everything a judge remembers, as data (structured-clone safe). */
export interface JudgeSnapshot extends WatchesSnapshot {
  now: number;
  engine: EngineData;
  seqs: [string, SeqTracker][];
  seen: [string, DeviceStatus][];
  world: WorldSnapshot;
}

export class ReadingJudge {
  registry!: Registry;
  private readonly intake = new TelemetryIntake({ maxPayloadBytes: 0, maxReadingsPerMessage: 0, maxFutureSkewMs: 0, maxPastMs: 0 });
  readonly rules: RuleRunner;
  readonly seen = new LiveStatus();
  private forwarded = new Set<string>();
  private world: WorldSnapshot = { maintenance: [], suspended: [] };
  private suspended = new Set<string>();
  /** what decode notes of each message for the watches: one, emptied for each */
  private readonly notes = decodeNotes();
  /** each device's clock, and whether its messages and its points' values are taken at all */
  private readonly watches = new DeviceWatches(
    (d, p) => this.registry.devices.get(d)?.points.get(p),
    {
      device: (d) => {
        const entry = this.registry.devices.get(d);
        return entry && { points: entry.points, reportIntervalS: entry.device.reportIntervalS };
      },
      hasValue: (d, p) => this.seen.hasValue(d, p),
    },
  );
  /** the evaluation under way: its time and what it changed */
  private now: number;
  private collected: Outcome[] = [];

  constructor(
    start: { registry: LoadedRegistry; world: WorldSnapshot; now: number },
    /** a rule or a message threw: reported, and everything else goes on */
    private readonly onFault: (part: string, err: Error, about?: unknown) => void,
  ) {
    // the engine's start is the start of silence for devices never heard
    this.now = start.now;
    this.rules = new RuleRunner(
      () => this.now,
      (o) => {
        for (const x of o) this.collected.push(x);
        return DONE;
      },
      (err, deviceId) => onFault('rules', err, { deviceId }),
      {
        maintenanceAnnounced: (e, d, at) => this.world.maintenance.some((w) => w.enterpriseId === e && (w.deviceId === null || w.deviceId === d) && at >= w.from && at < w.until),
        suspended: (e) => this.suspended.has(e),
      },
    );
    this.useWorld(start.world);
    this.useRegistry(start.registry, start.now);
    this.collected = [];
  }

  /** A new registry: rules that did not change keep their state; what changed or went clears. */
  useRegistry(loaded: LoadedRegistry, now: number): Outcome[] {
    return this.emit(now, () => {
      // on a registration the thread is sent only what changed: the rest keeps its entries
      const before = this.registry;
      this.registry = new Registry(loaded, before);
      const g = loaded.file.gateway;
      this.intake.limits = { maxPayloadBytes: g.maxPayloadBytes, maxReadingsPerMessage: g.maxReadingsPerMessage, maxFutureSkewMs: g.maxFutureSkewS * 1000, maxPastMs: g.maxPastS * 1000 };
      this.forwarded = forwardedEnterprises(this.registry);
      this.rules.use(this.registry);
      // a device gone from the registry, or now another enterprise's, has nothing to set right:
      // its alerts clear with its rules', as its enterprise's
      const stays = (d: string) => {
        const entry = this.registry.devices.get(d);
        return entry !== undefined && (before?.devices.get(d)?.enterprise.id ?? entry.enterprise.id) === entry.enterprise.id;
      };
      this.watches.registryChanged(stays, now, this.collected);
    });
  }

  useWorld(w: WorldSnapshot) {
    this.world = w;
    this.suspended = new Set(w.suspended);
  }

  /** Where rules stood when the alerts still open were last changed (a restart without a snapshot). */
  seed(open: OpenSeed[]) {
    this.rules.restore(open);
    this.watches.seed(open, (d) => this.registry.devices.get(d)?.enterprise.id, this.now);
  }

  /** After a restart: the last value of each point the store has (its `metric` is the point's key). */
  remember(points: readonly { deviceId: string; metric: string; value: number | boolean; ts: number }[]) {
    // a store knows a point with an id of its own by that id only: its metric is the registry's
    for (const p of points) this.seen.seed(p.deviceId, p.metric, storedAsSent(this.registry.devices.get(p.deviceId)?.points.get(p.metric)?.metric, p.value), p.ts);
    this.rules.remember(points);
  }

  /** After a restart: the seqs already stored per device, so resends are still caught. */
  primeSeq(deviceId: string, seqs: [number, number][]) {
    this.intake.primeSeq(deviceId, seqs);
  }

  /** The store did not take these readings: their seqs count as never seen. */
  forgetSeqs(readings: readonly Reading[]) {
    const byDevice = new Map<string, Reading[]>();
    for (const r of readings) {
      const list = byDevice.get(r.deviceId);
      if (list) list.push(r);
      else byDevice.set(r.deviceId, [r]);
    }
    for (const [deviceId, list] of byDevice) this.intake.forgetSeqs(deviceId, list);
  }

  /**
   * Decode each message, judge its readings in the order they came. `judging(i)`: told before
   * each message is judged, and -1 after the last.
   */
  telemetry(items: readonly TelemetryItem[], bytes: Buffer, judging?: (i: number) => void): Judged {
    const answers: TelemetryAnswer[] = [];
    const kept: Reading[] = [];
    const forward: Reading[] = [];
    this.collected = [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      judging?.(i);
      try {
        const entry = this.registry.devices.get(item.deviceId);
        if (!entry) {
          answers.push({ rejects: [{ code: 'MESSAGE_NOT_PROCESSED', detail: 'the device is no longer in the registry' }], accepted: 0 });
          continue;
        }
        const scope = { enterpriseId: entry.enterprise.id, deviceId: item.deviceId, points: entry.points };
        const notes = clearNotes(this.notes);
        const { readings, rejects } = this.intake.take(bytes.subarray(item.offset, item.offset + item.length), scope, item.at, notes);
        const answer = { rejects, accepted: readings.length };
        answers.push(answer);
        this.watches.message(scope, notes, answer, readings, item.at, this.collected);
        if (!readings.length) continue;
        this.judge(readings, item.at);
        for (const r of readings) kept.push(r);
        if (this.forwarded.has(scope.enterpriseId)) for (const r of readings) forward.push(r);
      } catch (e) {
        // nothing of a message that could not be processed is kept; the others go on
        this.onFault('telemetry', e as Error, { deviceId: item.deviceId });
        answers.push({ rejects: [{ code: 'MESSAGE_NOT_PROCESSED' } as Reject], accepted: 0 });
      }
    }
    // no message is being judged any more (what follows is the batch's, not one message's)
    judging?.(-1);
    return { answers, kept, forward, outcomes: this.take() };
  }

  /** Readings made elsewhere (fire panels, heartbeats): judged as one batch. */
  readings(readings: Reading[], at: number): Judged {
    this.collected = [];
    this.judge(readings, at);
    return { answers: [], kept: readings, forward: readings.filter((r) => this.forwarded.has(r.enterpriseId)), outcomes: this.take() };
  }

  link(deviceId: string, link: 'online' | 'offline', at: number): Outcome[] {
    return this.emit(at, () => this.rules.link(deviceId, link, at));
  }

  /** Time passing: durations, deadlines, silence. */
  tick(now: number): Outcome[] {
    return this.emit(now, () => this.rules.tick());
  }

  baseline(deviceId: string, metric: string, value: number) {
    this.rules.baseline(deviceId, metric, value);
  }

  /** An alert closed while its condition held: its rule starts afresh. */
  forget(key: string) {
    if (!this.watches.forget(key)) this.rules.forget(key);
  }

  snapshot(): JudgeSnapshot {
    return { now: this.now, engine: this.rules.exportState(), seqs: this.intake.exportSeqs(), seen: this.seen.export(), world: this.world, ...this.watches.export() };
  }

  /** Take over what a snapshot remembers (the registry in force then must be in use already). */
  restore(s: JudgeSnapshot) {
    this.now = s.now;
    this.rules.importState(s.engine);
    this.intake.importSeqs(s.seqs);
    this.seen.import(s.seen);
    this.useWorld(s.world);
    this.watches.import(s);
  }

  private judge(readings: Reading[], at: number) {
    this.now = at;
    this.rules.readings(readings);
    this.seen.onReadings(readings, at);
  }

  /** Run something that may change verdicts, and say what it changed. */
  private emit(now: number, fn: () => void): Outcome[] {
    this.collected = [];
    this.now = now;
    try {
      fn();
    } catch (e) {
      this.onFault('rules', e as Error);
    }
    return this.take();
  }

  private take(): Outcome[] {
    const out = this.collected;
    this.collected = [];
    return out;
  }
}

const DONE = Promise.resolve();
