import { deserialize, serialize } from 'node:v8';
import type { Outcome, Reading } from '../../domain/types.ts';
import type { Reject } from '../../gateway/reject-codes.ts';
import { AlertBook, type Placement } from '../alerts/alert-book.ts';
import { AlertStore } from '../alerts/alert-store.ts';
import { escalate } from '../alerts/escalation.ts';
import type { RoutingPolicy } from '../alerts/routing.ts';
import type { WorldSnapshot } from '../pipeline/protocol.ts';
import type { Sql } from '../store/sql.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { answerOf, type Command, type CommandAnswer } from './commands.ts';
import type { DeviceStatusTable } from './device-status-table.ts';
import { LogGap, type ClusterLog, type LogMessage, type PartitionReader } from './log.ts';
import { PartitionEngine, type EngineSnapshot } from './partition-engine.ts';
import { Fenced, type PartitionTable, type Takeover } from './partition-table.ts';
import type { RegistryVersions } from './registry-versions.ts';
import { partitionOf } from './subjects.ts';

/**
 * One partition, run by the worker that holds its lease: its log is read in order and each
 * message applied to the partition's engine (partition-engine.ts: decode, seqs, rules) and alert
 * book, exactly as the previous owner did, so that a takeover changes nothing anyone can see.
 *
 * Start: the engine comes back from the last snapshot, then the log from the snapshot up to the
 * committed progress is read again for the engine alone (what it caused is in the record already);
 * from there on every stretch of the log read is applied whole: its readings stored in InfluxDB,
 * then its alert changes and the new progress committed in one transaction under the owner's
 * epoch. A crash anywhere in between leaves progress where it was, and the next owner applies the
 * same stretch again: readings overwrite themselves in InfluxDB (a point is its tags and time),
 * and the alert changes were never committed. A person's step (a command in the log) is a stretch
 * of its own, committed with its progress.
 */
export interface PartitionDeps {
  takeover: Takeover;
  partitions: number;
  log: ClusterLog;
  table: PartitionTable;
  versions: RegistryVersions;
  statuses: DeviceStatusTable;
  sql: Sql;
  telemetry: TelemetryStore;
  /** what the rules read of the world and the baselines, for a partition without a snapshot */
  startWorld(): WorldSnapshot;
  startBaselines(): Promise<{ deviceId: string; metric: string; value: number }[]>;
  placement(enterpriseId: string): Placement;
  policy(enterpriseId: string): RoutingPolicy;
  anyoneTold(alertId: string): boolean;
  /** the worker hears the book (live events, notifications, the record's log lines) */
  listen(book: AlertBook): void;
  /** a person's step came to this: to the API node waiting */
  answer(commandId: string, a: CommandAnswer): void;
  /** what a device must be told of its message */
  reject(enterpriseId: string, deviceId: string, rejects: Reject[]): void;
  onFault(part: string, err: Error, about?: unknown): void;
  /** the partition stopped on its own (another owner, messages lost from the log, a fault) */
  onStopped(partition: number, why: string): void;
  log$: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void; error(o: object, msg?: string): void };
  clock(): number;
  snapshotEveryMs?: number;
  escalateEveryMs?: number;
}

interface Stretch {
  outcomes: Outcome[];
  kept: Reading[];
  last: number;
}

export class PartitionRun {
  readonly partition: number;
  readonly epoch: number;
  private engine!: PartitionEngine;
  private book!: AlertBook;
  private reader?: PartitionReader;
  /** the last log sequence whose effects are committed, and the one being applied */
  private progress: number;
  private mark = 0;
  private stopped = false;
  private running?: Promise<void>;
  private lastSnapshot = 0;
  private lastSnapshotSeq = 0;
  private lastEscalation = 0;
  /** the time of the message being applied: the book's clock */
  private now = 0;
  private dirtyDevices = new Set<string>();
  /** the last log sequence applied to the engine (at or past the committed progress) */
  private applied: number;
  private lastCommit = 0;
  private lastStatusWrite = 0;
  private statusWrite?: Promise<void>;

  constructor(private readonly d: PartitionDeps) {
    this.partition = d.takeover.partition;
    this.epoch = d.takeover.epoch;
    this.progress = d.takeover.progress;
    this.applied = d.takeover.progress;
  }

  /** The engine back where the previous owner left it, the book from the record; then the log. */
  async start(): Promise<void> {
    const { takeover: t, versions } = this.d;
    const store = await AlertStore.create(this.d.sql);
    this.book = new AlertBook(store, (id) => this.d.placement(id), () => this.now || this.d.clock(), (err, c) => this.d.onFault('alert-listener', err, { alert: c.alert.id }), {
      mode: 'explicit',
      within: async (tx, complete) => {
        await this.d.table.fence(tx, this.partition, this.epoch, complete ? this.mark : undefined);
        if (complete) this.progress = Math.max(this.progress, this.mark);
      },
    });
    const open = await this.book.load((a) => partitionOf(a.enterpriseId, this.d.partitions) === this.partition);
    const hash = t.snapshot?.registry ?? (await versions.first());
    if (!hash) throw new Error('the cluster has no registry yet');
    this.engine = new PartitionEngine(this.partition, this.d.partitions, (h) => versions.get(h), hash, this.d.onFault);
    let from = 1;
    if (t.snapshot) {
      await this.engine.restore(deserialize(t.snapshot.data) as EngineSnapshot);
      from = t.snapshot.seq + 1;
      this.lastSnapshotSeq = t.snapshot.seq;
    } else {
      // never snapshotted: from the start of the log, which carries every change since; only a
      // log whose start aged out is resumed from the world as it is now and the alerts still open
      from = Math.max(1, (await this.d.log.bounds(this.partition)).first);
      if (from > 1)
        await this.engine.resume({
          now: this.d.clock(),
          world: this.d.startWorld(),
          baselines: await this.d.startBaselines(),
          open: open.map((a) => ({ key: a.key, state: a.state, severity: a.severity, peak: a.peak, value: a.value, flapping: a.flapping })),
        });
    }
    this.d.listen(this.book);
    this.reader = this.d.log.reader(this.partition, from);
    this.running = this.loop();
  }

  /** The alerts of this partition still open (the dispatcher's view of "open now"). */
  openAlerts() {
    return this.book?.openAlerts() ?? [];
  }

  /** Stop reading; what is under way finishes (or is left uncommitted, for the next owner). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.reader?.stop();
    await this.running?.catch(() => {});
    this.book?.shut();
  }

  private async loop() {
    try {
      while (!this.stopped) {
        let batch: LogMessage[];
        try {
          // a few milliseconds more for a fuller stretch: its commit costs the same
          batch = await this.reader!.read(1000, 500, 20);
        } catch (e) {
          if (!(e instanceof LogGap)) throw e;
          // readings that aged out unread are gone: say so loudly, and go on from what is there
          this.d.log$.error({ partition: this.partition, from: e.from, to: e.to }, 'messages of the partition were lost from the log before they were read');
          this.d.onFault('log-gap', e, { partition: this.partition });
          continue;
        }
        if (!batch.length) {
          await this.housekeeping();
          continue;
        }
        await this.apply(batch);
        await this.housekeeping();
      }
    } catch (e) {
      if (this.stopped) return;
      const why = e instanceof Fenced ? 'another worker owns it now' : (e as Error).message;
      if (!(e instanceof Fenced)) this.d.log$.error({ partition: this.partition, err: (e as Error).message, stack: (e as Error).stack }, 'the partition stopped on a fault');
      this.stopped = true;
      this.reader?.stop();
      this.book?.shut();
      this.d.onStopped(this.partition, why);
    }
  }

  /** A stretch of the log, in order. Messages at or before the progress are the engine's alone. */
  private async apply(batch: LogMessage[]) {
    let stretch: Stretch = { outcomes: [], kept: [], last: this.progress };
    for (const m of batch) {
      if (this.stopped) return;
      this.now = m.at;
      try {
        const a = await this.engine.apply(m);
        if (m.seq <= this.progress) continue;
        if (a.rejects) this.d.reject(a.rejects.enterpriseId, a.rejects.deviceId, a.rejects.rejects);
        if (a.command) {
          // a command is a stretch of its own: what came before it is committed first
          await this.commit(stretch);
          stretch = { outcomes: [], kept: [], last: m.seq };
          await this.command(a.command, a.outcomes, m.seq);
        } else {
          this.collect(stretch, a.outcomes, a.kept, a.deviceId);
          if (a.tick && this.escalationDue(m.at)) {
            stretch.last = m.seq;
            await this.commit(stretch, true);
            stretch = { outcomes: [], kept: [], last: m.seq };
            await this.escalation(m.at, m.seq);
          }
        }
      } catch (e) {
        if (e instanceof Fenced) throw e;
        // stopped on purpose (given to another worker): what was under way is the next owner's
        if (this.stopped) return;
        // a message that cannot be applied is skipped, never the ones after it
        this.d.onFault('partition', e as Error, { partition: this.partition, seq: m.seq });
      }
      stretch.last = Math.max(stretch.last, m.seq);
      this.applied = Math.max(this.applied, m.seq);
    }
    if (!this.stopped && stretch.last > this.progress) await this.commit(stretch);
  }

  private collect(s: Stretch, outcomes: Outcome[], kept: Reading[], deviceId?: string) {
    for (const o of outcomes) s.outcomes.push(o);
    for (const r of kept) s.kept.push(r);
    if (deviceId !== undefined) this.dirtyDevices.add(deviceId);
  }

  /**
   * A stretch's effects: the alert book hears its outcomes at once (the live board and sirens do
   * not wait), its readings are stored (until InfluxDB takes them: the progress must not pass
   * readings that are not stored), then its alert changes and progress are committed together.
   * A stretch that changed no alert moves the progress at most once a second (`force`: now):
   * applying a second of the log again after a crash writes the same readings again (a point is
   * its tags and time) and changes nothing else.
   */
  private async commit(s: Stretch, force = false) {
    if (s.last <= this.progress && !s.outcomes.length) return;
    if (s.outcomes.length) this.book.handle(s.outcomes);
    if (s.kept.length) await this.stored(s.kept);
    if (!force && !s.outcomes.length && this.d.clock() - this.lastCommit < 1000) return;
    this.lastCommit = this.d.clock();
    this.mark = s.last;
    await this.retried(() => this.book.commitHandled());
    // nothing to commit with it: the progress alone
    if (this.progress < s.last) await this.retried(() => this.d.sql.tx((t) => this.d.table.fence(t, this.partition, this.epoch, s.last)));
    this.progress = Math.max(this.progress, s.last);
  }

  private async stored(readings: Reading[]) {
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      if (this.stopped) throw new Error('stopped before the readings were stored');
      try {
        return await this.d.telemetry.append(readings);
      } catch (e) {
        this.d.log$.warn({ partition: this.partition, err: (e as Error).message, readings: readings.length }, 'readings not stored yet (InfluxDB); the partition waits and tries again');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** PostgreSQL unreachable: wait and try again; another owner: stop. */
  private async retried(fn: () => Promise<void>) {
    for (let wait = 250; ; wait = Math.min(wait * 2, 5000)) {
      if (this.stopped) throw new Error('stopped before the commit');
      try {
        return await fn();
      } catch (e) {
        if (e instanceof Fenced) throw e;
        this.d.log$.warn({ partition: this.partition, err: (e as Error).message }, 'commit failed; the partition waits and tries again');
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  /** A person's step, or the service's own outcomes, committed with its place in the log. */
  private async command(c: Command, outcomes: Outcome[], seq: number) {
    this.mark = seq;
    if (outcomes.length) {
      this.book.handle(outcomes);
      await this.retried(() => this.book.commitHandled());
    } else if (c.op === 'ack' || c.op === 'close' || c.op === 'feedback' || c.op === 'review') {
      let result: Awaited<ReturnType<AlertBook['ack']>> | Error;
      try {
        result =
          c.op === 'ack'
            ? await this.book.ack(c.alertId, c.actor, c.note, c.toldAt)
            : c.op === 'close'
              ? await this.book.close(c.alertId, c.actor, c.disposition, c.note)
              : c.op === 'feedback'
                ? await this.book.feedback(c.alertId, c.actor, c.feedback)
                : await this.book.review(c.alertId, c.actor, c.accepted, c.note);
      } catch (e) {
        if (e instanceof Fenced) throw e;
        result = e as Error;
      }
      this.d.answer(c.id, answerOf(result));
    }
    if (this.progress < seq) await this.retried(() => this.d.sql.tx((t) => this.d.table.fence(t, this.partition, this.epoch, seq)));
    this.progress = Math.max(this.progress, seq);
  }

  private escalationDue(now: number) {
    return now - this.lastEscalation >= (this.d.escalateEveryMs ?? 10_000);
  }

  /** Alerts nobody handled climb the chain, by the log's clock, every so often. */
  private async escalation(now: number, seq: number) {
    this.lastEscalation = now;
    this.mark = seq;
    await this.retried(() => this.book.sweep((a) => escalate(a, this.d.policy(a.enterpriseId), now, this.d.anyoneTold(a.id))));
  }

  /** Device statuses for the API, and a snapshot now and then. */
  private async housekeeping() {
    if (this.stopped) return;
    if (this.dirtyDevices.size && !this.statusWrite && this.d.clock() - this.lastStatusWrite >= 2000) {
      this.lastStatusWrite = this.d.clock();
      const ids = [...this.dirtyDevices];
      this.dirtyDevices.clear();
      const seen = this.engine.seen;
      const rows = seen ? ids.map((id) => [id, seen.get(id)] as [string, ReturnType<typeof seen.get>]) : [];
      this.statusWrite = this.d.sql
        .tx(async (t) => {
          await this.d.table.fence(t, this.partition, this.epoch);
          await this.d.statuses.write(t, rows);
        })
        .catch((e: Error) => {
          for (const id of ids) this.dirtyDevices.add(id);
          if (!(e instanceof Fenced)) this.d.log$.warn({ partition: this.partition, err: e.message }, 'device statuses not written');
        })
        .finally(() => (this.statusWrite = undefined));
    }
    const now = this.d.clock();
    if (now - this.lastSnapshot < (this.d.snapshotEveryMs ?? 15_000) || this.applied <= this.lastSnapshotSeq) return;
    // the snapshot is the engine as it is now: the progress must say so first
    if (this.applied > this.progress) {
      const seq = this.applied;
      await this.retried(() => this.d.sql.tx((t) => this.d.table.fence(t, this.partition, this.epoch, seq)));
      this.progress = Math.max(this.progress, seq);
    }
    const snap = this.engine.snapshot();
    if (!snap || this.applied !== this.progress) return;
    this.lastSnapshot = now;
    const seq = this.progress;
    await this.d.table.snapshot(this.partition, this.epoch, seq, serialize(snap), snap.registry).then(
      () => (this.lastSnapshotSeq = seq),
      (e: Error) => {
        if (e instanceof Fenced) throw e;
        this.d.log$.warn({ partition: this.partition, err: e.message }, 'snapshot not written');
      },
    );
  }
}
