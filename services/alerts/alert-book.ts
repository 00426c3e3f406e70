import { randomUUID } from 'node:crypto';
import type { Outcome } from '../../domain/types.ts';
import { AlertError, acknowledge, applyOutcome, close, type Step, reportFeedback, reviewFeedback, type Feedback, type ReviewPolicy } from './lifecycle.ts';
import type { Alert, AlertChange, Disposition, Transition } from './model.ts';

export type { AlertChange } from './model.ts';
import type { AlertStore } from './alert-store.ts';
import type { SqlRunner } from '../store/sql.ts';

/**
 * The open alerts and every change to them, applied one at a time so two hands on one alert
 * cannot cross. Two kinds of listener: `onLive` hears of a change the moment it is decided (the
 * live board, MQTT `alerts/…`, on-site alarm devices: people and sirens must not wait for a disk),
 * `onChange` once it is committed to the record (notifications, which promise a record exists).
 */

export interface Placement {
  region: string;
  industry: string;
  review: ReviewPolicy;
}

export class AlertNotFound extends Error {}

/** A step taken but not yet answered (cluster mode: the alert's partition has no owner this moment); it is applied when one takes it. */
export class AlertStepPending extends Error {}

/**
 * How a book commits. `auto` (a single process): every change handled is committed as soon as
 * the commit before it ends, and a failed commit is tried again every second. `explicit` (a
 * cluster partition): changes handled wait for `commitHandled()`, which its owner calls once the log's
 * readings they came from are stored (`commitHandled`), and `within` writes the partition's progress (and checks
 * its epoch) in the same transaction: a commit is all of a stretch of the log, or nothing.
 */
export interface BookCommits {
  mode: 'auto' | 'explicit';
  /**
   * What else goes in every commit's transaction; `complete`: nothing handled is left out of this
   * commit (so progress may be written with it).
   */
  within?: (t: SqlRunner, complete: boolean) => Promise<void>;
  /** the record could not be written (`err`), or can be again (`null`): told once per change of state */
  onFailing?: (err: Error | null, waiting: number) => void;
  /** a change is in the record, `ms` after it was decided (operators watch the alarm path) */
  onRecorded?: (alert: Alert, ms: number) => void;
}

/** a step waiting for the record, numbered in the order it was handled; a person's is answered once recorded */
type Queued = { step: Step; n: number; at: number; answer?: { resolve(): void; reject(e: Error): void } };

/** answered once the first `steps` steps handled and the first `lines` lines queued are in the record */
type Waiter = { steps: number; lines: number; resolve: () => void; reject: (e: Error) => void };

/** the most steps and record lines one transaction of the record takes */
const MAX_STEPS = 2000;
const MAX_LINES = 5000;

/**
 * Where an open alert is found: its enterprise and its key. A key names a device, and a device id
 * can pass from one enterprise to another (removed from one, later another's): the second one's
 * outcomes must never clear, raise again or update the first one's alarm (they did, and it was
 * told to the first enterprise's people).
 */
const slotOf = (a: { enterpriseId: string; key: string }) => `${a.enterpriseId}\u0000${a.key}`;

export class AlertBook {
  /** open alerts by enterprise and key (slotOf) */
  private readonly openByKey = new Map<string, Alert>();
  /** the same alerts by id: a person's step looks its alert up by id, and a plant gone offline is 16 000 open alerts */
  private readonly openById = new Map<string, Alert>();
  private readonly listeners: ((c: AlertChange) => void)[] = [];
  private readonly liveListeners: ((c: AlertChange) => void)[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  /** steps waiting for the next batch (a storm is committed in a few transactions, not hundreds), each numbered as handled */
  private queued: Queued[] = [];
  private lines: Transition[] = [];
  private nextBatch: Promise<void> | null = null;
  /** the last commit's error while commits fail */
  private failing: string | null = null;
  private retry?: NodeJS.Timeout;
  /** steps taken by `handle` so far, and up to which of them every one is in the record */
  private handled = 0;
  private recorded = 0;
  /** record lines queued so far, and how many of them (the first, in order) are in the record */
  private linesIn = 0;
  private linesOut = 0;
  private recordWaiters: Waiter[] = [];
  /** alerts whose latest change is not yet in the record, as they are now (a closed one is no longer open) */
  private readonly unrecorded = new Map<string, Alert>();
  /** steps handled and not yet in the record (waiting, or in a transaction under way), in the order handled */
  private readonly notRecorded = new Set<Queued>();

  constructor(
    private readonly store: AlertStore,
    private readonly placement: (enterpriseId: string) => Placement,
    private readonly clock: () => number,
    /** a listener threw: logged and counted by the caller, never passed on */
    private readonly onListenerError: (err: Error, change: AlertChange) => void = () => {},
    private readonly commits: BookCommits = { mode: 'auto' },
  ) {}

  private closed = false;

  /** No more commits or retries (a cluster partition given up: another owner goes on from the record). */
  shut() {
    this.closed = true;
    clearTimeout(this.retry);
    // nothing waiting here will be written by this book: whoever waits hears so
    const closed = new Error('the alert book is closed');
    for (const w of this.recordWaiters.splice(0)) w.reject(closed);
    for (const q of this.queued) q.answer?.reject(closed);
  }

  /** Commit what was handled since the last commit (explicit mode); rejects if it could not be written. */
  commitHandled(): Promise<void> {
    return this.batch();
  }

  /** The alerts still open, from the record (`only`: a cluster partition's own). */
  async load(only?: (a: Alert) => boolean): Promise<Alert[]> {
    const open = (await this.store.open()).filter((a) => !only || only(a));
    for (const a of open) this.place(a);
    return open;
  }

  onChange(fn: (c: AlertChange) => void) {
    this.listeners.push(fn);
  }

  onLive(fn: (c: AlertChange) => void) {
    this.liveListeners.push(fn);
  }

  /** Told when a person closes an alert whose condition still held, so its rule starts afresh. */
  onClosedWhileActive(fn: (key: string) => void) {
    this.closedWhileActive.push(fn);
  }
  private readonly closedWhileActive: ((key: string) => void)[] = [];

  openAlerts(): Alert[] {
    return [...this.openByKey.values()];
  }

  /**
   * Rule outcomes are applied at once, in memory and in arrival order (the live listeners hear
   * now); the record is committed in the next batch, and then the other listeners hear.
   *
   * Resolves once these changes and every change handled before them are in the record, not when
   * the commits run dry: under a storm, changes handled after these keep the commits going, and a
   * reading's PUBACK waited for all of them (26 s with 26 000 queued). Rejects when a commit fails
   * first (the changes are kept and tried again; `whenRecorded` waits for that).
   */
  handle(outcomes: Outcome[]): Promise<void> {
    if (outcomes.length === 0) return Promise.resolve();
    const now = this.clock();
    for (const o of outcomes) {
      const step = applyOutcome(this.openByKey.get(slotOf(o)), o, { newId: randomUUID, now, ...this.placement(o.enterpriseId) });
      if (!step) continue;
      this.place(step.alert);
      this.queue(step);
    }
    if (this.commits.mode === 'explicit') return Promise.resolve();
    return this.answered({ steps: this.handled, lines: 0 }, this.queued.length ? this.batch() : undefined);
  }

  /** Queued for the record before anyone hears of it: nothing a listener does can lose it. */
  private queue(step: Step, answer?: Queued['answer']) {
    const q = { step, n: ++this.handled, at: this.clock(), answer };
    this.queued.push(q);
    this.notRecorded.add(q);
    this.unrecorded.set(step.alert.id, step.alert);
    this.announce(step);
  }

  /** These steps are in the record: their people are answered. */
  private wereRecorded(taken: Queued[]) {
    const now = this.clock();
    for (const q of taken) {
      this.commits.onRecorded?.(q.step.alert, now - q.at);
      q.answer?.resolve();
      this.notRecorded.delete(q);
      if (this.unrecorded.get(q.step.alert.id) === q.step.alert) this.unrecorded.delete(q.step.alert.id);
    }
  }

  /** A transaction with these steps failed: their people hear so (the steps wait for the next). */
  private wereRefused(taken: Queued[]) {
    for (const q of taken) {
      // why is in health and the log, not in a person's answer (it may name files)
      q.answer?.reject(new AlertStepPending('the alert record cannot be written now: the step is kept and written as soon as it can be (see /api/health)'));
      q.answer = undefined;
    }
  }

  /**
   * Resolves once `upTo` is in the record. Rejects if `commits` (the next transaction) fails
   * first: the changes are kept and tried again, and `whenRecorded` waits for that. Without
   * `commits`, what it waits for is in a transaction under way (or waiting for its retry).
   */
  private answered(upTo: Omit<Waiter, 'resolve' | 'reject'>, commits?: Promise<void>): Promise<void> {
    if (this.recorded >= upTo.steps && this.linesOut >= upTo.lines) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the alert book is closed'));
    return new Promise((resolve, reject) => {
      const waiter = { ...upTo, resolve, reject };
      this.recordWaiters.push(waiter);
      commits?.then(undefined, (err: Error) => {
        const i = this.recordWaiters.indexOf(waiter);
        if (i < 0) return;
        this.recordWaiters.splice(i, 1);
        reject(err);
      });
    });
  }

  /**
   * What is waiting (steps and record lines) goes in as few transactions as it takes: under load,
   * work piles up while a commit runs and the next commit takes it, at most `MAX_STEPS` steps a
   * transaction, so that one transaction of a storm is never so large that it stalls the record.
   * When more is waiting than one transaction takes, critical alarms go in the next one, ahead of
   * the rest (`alarmsFirst`), and people's steps go in the next one whatever waits (`withPeople`).
   * Each transaction takes its own turn: what waits for the book's turn (a cluster partition's
   * person step, `settled`) goes between two transactions of a storm, not after it.
   */
  private batch(): Promise<void> {
    return (this.nextBatch ??= this.serial(async () => {
      this.nextBatch = null;
      // a partition's commit is a whole stretch of its log: never split
      const explicit = this.commits.mode === 'explicit';
      const most = explicit ? Infinity : MAX_STEPS;
      do {
        if ((!this.queued.length && !this.lines.length) || this.closed) return;
        const taken = this.withPeople(this.withTheirLater(this.queued.length > most ? this.alarmsFirst(most) : this.queued.splice(0)));
        const steps = taken.map((q) => q.step);
        const lines = this.lines.splice(0, MAX_LINES);
        try {
          await this.commitAll(steps, lines, this.queued.length === 0);
          if (this.failing !== null) this.commits.onFailing?.(null, this.queued.length + this.lines.length);
          this.failing = null;
          this.linesOut += lines.length;
          this.wereRecorded(taken);
          this.countRecorded();
        } catch (e) {
          this.wereRefused(taken);
          // nothing decided is dropped: the changes wait for the next commit, tried again shortly
          this.queued = [...taken, ...this.queued].sort((a, b) => a.n - b.n);
          this.lines = [...lines, ...this.lines];
          if (this.failing === null) this.commits.onFailing?.(e as Error, this.queued.length + this.lines.length);
          this.failing = (e as Error).message;
          if (!explicit && !this.closed)
            this.retry ??= setTimeout(() => {
              this.retry = undefined;
              void this.batch().catch(() => {});
            }, 1000).unref();
          throw e;
        }
      } while (explicit);
      // the rest in the next transaction, in its turn
      if (this.queued.length || this.lines.length) void this.batch().catch(() => {});
    }));
  }

  /**
   * Resolves once every change handled so far is in the record, however many tries it takes (a
   * failed commit is tried again): what readings raised must be on disk before they are stored or
   * acknowledged, or a kill -9 loses an alarm whose reading the device was told is safe.
   */
  whenRecorded(): Promise<void> {
    return this.answered({ steps: this.handled, lines: 0 });
  }

  /**
   * The next transaction's steps out of more than it takes: the critical alarms' first, then the
   * others in the order they came. A plant's 16 000 devices going offline together must not hold
   * another enterprise's gas alarm for eight transactions. One alert's steps keep their order: a
   * step goes ahead only if no earlier step of its alert still waits. At most half a transaction
   * goes ahead, so a storm of critical alarms cannot keep the others (and every PUBACK after
   * them) waiting for ever.
   */
  private alarmsFirst(most: number): Queued[] {
    const ahead: Queued[] = [];
    const rest: Queued[] = [];
    const waiting = new Set<string>();
    for (const q of this.queued) {
      const key = q.step.alert.key;
      if (ahead.length < most / 2 && q.step.alert.severity === 'critical' && !waiting.has(key)) ahead.push(q);
      else (rest.push(q), waiting.add(key));
    }
    this.queued = rest;
    // the rest in order, as far as the transaction takes them (an alert's later steps after its first)
    return [...ahead, ...this.queued.splice(0, most - ahead.length)];
  }

  /**
   * The steps taken, and the later steps of their alerts still waiting: an alert is saved as it is
   * now (`commitAll`), so its changes since must be in the same transaction. Split across two, a
   * kill -9 between them left thousands of alerts `cleared` with no `cleared` line and nobody told,
   * and the device's resent reading no longer cleared anything.
   */
  private withTheirLater(taken: Queued[]): Queued[] {
    return [...taken, ...this.takeQueuedOf(new Set(taken.map((q) => q.step.alert.id)))];
  }

  /**
   * People's steps still waiting go in this transaction, each with its alert's changes before it:
   * a person waits for one transaction, not for a storm's backlog.
   */
  private withPeople(taken: Queued[]): Queued[] {
    if (!this.queued.some((q) => q.answer)) return taken;
    return [...taken, ...this.takeQueuedOf(new Set(this.queued.filter((q) => q.answer).map((q) => q.step.alert.id)))];
  }

  /** The waiting steps of these alerts, in the order they were handled, out of the queue. */
  private takeQueuedOf(ids: Set<string>): Queued[] {
    const theirs: Queued[] = [];
    const rest: Queued[] = [];
    for (const q of this.queued) (ids.has(q.step.alert.id) ? theirs : rest).push(q);
    if (theirs.length) this.queued = rest;
    return theirs;
  }

  /** Every step handled before the first that still waits is in the record now. */
  private countRecorded() {
    this.recorded = this.queued.reduce((low, q) => Math.min(low, q.n - 1), this.handled);
    const isDue = (w: Waiter) => w.steps <= this.recorded && w.lines <= this.linesOut;
    // in the order they came: the PUBACKs go out in the order their messages were handled
    const due = this.recordWaiters.filter(isDue);
    if (!due.length) return;
    this.recordWaiters = this.recordWaiters.filter((w) => !isDue(w));
    for (const w of due) w.resolve();
  }

  /** Can the record be written? (health says degraded while it cannot) */
  health(): { ok: boolean; error?: string; waiting: number } {
    return { ok: this.failing === null, ...(this.failing ? { error: this.failing } : {}), waiting: this.queued.length + this.lines.length };
  }

  private announce({ alert, transitions }: Step) {
    for (const transition of transitions) for (const fn of this.liveListeners) this.tell(fn, { alert, transition });
  }

  /** One listener that throws must not keep the others (or the rest of a batch) from hearing. */
  private tell(fn: (c: AlertChange) => void, change: AlertChange) {
    try {
      fn(change);
    } catch (e) {
      this.onListenerError(e as Error, change);
    }
  }

  /** `toldAt`: see lifecycle.ts's acknowledge (an acknowledge link is for the alarm its notice told) */
  ack(id: string, actor: string, note?: string, toldAt?: number): Promise<Alert> {
    return this.act(id, (a, now) => acknowledge(a, actor, now, note, toldAt));
  }

  close(id: string, actor: string, disposition: Disposition, note: string): Promise<Alert> {
    return this.act(id, (a, now, review) => close(a, actor, now, disposition, note, review));
  }

  /** The enterprise's feedback (处置反馈). */
  feedback(id: string, actor: string, f: Feedback): Promise<Alert> {
    return this.act(id, (a, now, review) => reportFeedback(a, actor, now, f, review));
  }

  /** The review of the feedback (核查): accepted closes, not accepted sends it back. */
  review(id: string, actor: string, accepted: boolean, note: string): Promise<Alert> {
    return this.act(id, (a, now, review) => reviewFeedback(a, actor, now, accepted, note, review));
  }

  /**
   * A person's step on one alert, under its enterprise's review policy: applied at once, and
   * answered once it is in the record. It goes in the record's next transaction with its alert's
   * changes still waiting (ahead of it, as they were handled), not after a storm's backlog, and
   * costs no transaction of its own. Should that transaction fail, the answer is the error and the
   * step stays queued, written when the record can be (as the book keeps every change).
   */
  private act(id: string, step: (a: Alert, now: number, review: ReviewPolicy) => Step): Promise<Alert> {
    // a cluster partition's person steps are committed at their place in its log, one by one
    if (this.commits.mode === 'explicit')
      return this.serial(async () => {
        const before = await this.find(id);
        const s = step(before, this.clock(), this.placement(before.enterpriseId).review);
        await this.commit(s);
        this.closedIfActive(before, s);
        return s.alert;
      });
    return (async () => {
      const stored = this.current(id) ? undefined : await this.find(id);
      // looked at again after the wait: another step may have come meanwhile
      const before = this.current(id) ?? stored!;
      const s = step(before, this.clock(), this.placement(before.enterpriseId).review);
      this.place(s.alert);
      const recorded = new Promise<void>((resolve, reject) => this.queue(s, { resolve, reject }));
      this.closedIfActive(before, s);
      void this.batch().catch(() => {});
      await recorded;
      return s.alert;
    })();
  }

  /**
   * An alert's changes handled but not yet in the record, in order: while the record cannot be
   * written (a full disk) they are kept, and whoever reads the alert is shown them as such.
   */
  unrecordedOf(id: string): Transition[] {
    const out: Transition[] = [];
    for (const q of this.notRecorded) if (q.step.alert.id === id) out.push(...q.step.transitions);
    return out;
  }

  /** The alert as the book holds it when its latest change is not yet in the record, else undefined. */
  unrecordedAlert(id: string): Alert | undefined {
    return this.unrecorded.get(id);
  }

  /**
   * The alert as it is now, if the book holds it: open, or changed and not yet recorded. (Who may
   * handle an alert is asked of it, not of the record: an alarm on the board is acknowledged
   * before its raise is written.)
   */
  current(id: string): Alert | undefined {
    return this.openById.get(id) ?? this.unrecorded.get(id);
  }

  /** Closed by a person while its condition still held: its rule starts afresh. */
  private closedIfActive(before: Alert, s: Step) {
    if (s.alert.state !== 'closed' || before.state !== 'active') return;
    for (const fn of this.closedWhileActive) {
      try {
        fn(before.key);
      } catch (err) {
        this.onListenerError(err as Error, { alert: s.alert, transition: s.transitions[s.transitions.length - 1] });
      }
    }
  }

  /** Notification outcomes and other lines that do not change the alerts themselves. */
  record(transitions: Transition[]): Promise<void> {
    if (!transitions.length) return Promise.resolve();
    this.lines.push(...transitions);
    this.linesIn += transitions.length;
    return this.answered({ steps: 0, lines: this.linesIn }, this.batch());
  }

  /**
   * Apply a time-driven step (escalation) to every open alert. Its changes join the others in the
   * record's queue (kept and tried again should a commit fail); resolves once they are recorded.
   */
  sweep(step: (a: Alert) => Step | null): Promise<void> {
    // a cluster partition commits its sweep at its place in the log, in a transaction of its own
    if (this.commits.mode === 'explicit')
      return this.serial(async () => {
        const steps = this.swept(step);
        steps.forEach((s) => this.announce(s));
        await this.commitAll(steps);
      });
    const steps = this.swept(step);
    steps.forEach((s) => this.queue(s));
    return steps.length ? this.answered({ steps: this.handled, lines: 0 }, this.batch()) : Promise.resolve();
  }

  private swept(step: (a: Alert) => Step | null): Step[] {
    const steps: Step[] = [];
    for (const a of [...this.openByKey.values()]) {
      const s = step(a);
      if (!s) continue;
      this.place(s.alert);
      steps.push(s);
    }
    return steps;
  }

  /**
   * Wait for every change handled and line queued so far to be recorded (API reads after writes,
   * shutdown), or until a commit fails (health says so; the changes are kept and tried again).
   */
  async settled(): Promise<void> {
    await this.serial(async () => {});
    if (this.failing !== null || this.closed) return;
    // what was handled before now, not what a storm hands in meanwhile
    await this.answered({ steps: this.handled, lines: this.linesIn }, this.batch()).catch(() => {});
  }

  private async find(id: string): Promise<Alert> {
    const open = this.openById.get(id);
    if (open) return open;
    const found = await this.store.get(id);
    if (!found) throw new AlertNotFound(id);
    return found.alert;
  }

  private async commit(step: Step) {
    this.place(step.alert);
    this.announce(step);
    await this.commitAll([step]);
  }

  private place(alert: Alert) {
    if (alert.state === 'closed') (this.openByKey.delete(slotOf(alert)), this.openById.delete(alert.id));
    else (this.openByKey.set(slotOf(alert), alert), this.openById.set(alert.id, alert));
  }

  /** Commit the steps in one transaction, then tell listeners. */
  private async commitAll(steps: Step[], lines: Transition[] = [], complete = this.queued.length === 0) {
    if (!steps.length && !lines.length) return;
    if (this.closed) throw new Error('the alert book is closed');
    // the row saved is the alert as it is now: a change applied in memory since (an outcome
    // handled while an acknowledgement waited its turn) must not be overwritten by an older copy
    const now = (a: Alert) => {
      const open = this.openByKey.get(slotOf(a));
      return open?.id === a.id ? open : a;
    };
    const within = this.commits.within;
    const numbers = await this.store.saveMany(
      steps.map((st) => ({ alert: now(st.alert), transitions: st.transitions, told: st.alert })),
      lines,
      within && ((t) => within(t, complete)),
    );
    let i = 0;
    for (const { alert, transitions } of steps) for (const transition of transitions) {
      const line = numbers[i++];
      for (const fn of this.listeners) this.tell(fn, { alert, transition, line });
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn);
    this.tail = next.catch(() => {});
    return next;
  }
}

export { AlertError };
