import { randomUUID } from 'node:crypto';
import { criticalAlarm, type Transition } from '../alerts/model.ts';
import type { RoutingPolicy } from '../alerts/routing.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import { parseChannelId, RetryLater, type Channels } from './channels/channel.ts';
import type { AckLinks } from './ack-links.ts';
import { laneOf, type NoticeBody, type OutboxItem, type OutboxStore } from './outbox-store.ts';
import { groupTime, messagesOf, retryDelay, type Pace } from './pace.ts';
import { ChannelHealth, outcomeLines, worthRecording } from './record.ts';
import { sendMessage, targetOf } from './send.ts';
import type { ToldUnits } from './told.ts';
import { failureText } from '../failure-text.ts';

/**
 * The notification log and its clock: every notice is written here before anything is sent and
 * stays until it is delivered or given up, so a restart resumes where it stopped. The stages it
 * runs are in their own files: group/pace (pace.ts), send (send.ts), record (record.ts). A
 * message not delivered is tried again with a growing delay, and given up after the policy's
 * expiry.
 *
 * Deliveries go in lanes, one per unit and channel: a receiver hears a unit's news one message
 * at a time and in the order it was queued. A notice with no group or pacing to wait for (a
 * critical raise, or any change of a unit that groups nothing) goes express when nothing queued
 * before it in its lane is unsent: alone, under its own id, straight into its lane (behind the
 * one message the lane may be sending; a second waits for a round, and what gathers goes as one
 * message), without waiting for a round (in an alarm storm a round can be thousands of
 * deliveries long) or for a query to find it. It does not wait for its write either: it goes
 * beside it (its change is in the record, owed its notices until the write settles it), and its
 * outcome is written once its row is in. (Only critical raises went express at first, then only
 * into a free lane, then beside their write only if critical: at full load a unit's alarms, 100 ms
 * apart, found the lane held, by a message or by a clear waiting for its write, and waited up to
 * seconds.)
 */
export interface OutboxDeps {
  store: OutboxStore;
  registry(): Registry;
  /** notification outcomes for the alert's record */
  record(lines: Transition[]): Promise<void>;
  channels: Channels;
  clock(): number;
  publicUrl: string;
  ackLinks?: Pick<AckLinks, 'issue'>;
  policy(enterpriseId: string): RoutingPolicy;
  counters: { notifications: { inc(labels: { channel: string; outcome: string }): void }; notificationSeconds?: { observe(labels: { notice: string }, seconds: number): void } };
  /** notes who is told as notices are queued */
  told: Pick<ToldUnits, 'note'>;
  log: { warn(o: object, msg?: string): void };
  /** first retry delay; doubles each time up to maxDelayMs */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** consecutive failures of one unit's channel before the operators are told */
  failuresBeforeAlert?: number;
  onChannelHealth(unit: UnitConfig, channel: string, failing: boolean, error?: string): void;
  /** the channel's failing alert is open (raised before a restart, say) */
  channelAlertOpen?(unit: UnitConfig, channel: string): boolean;
}

export interface Notice {
  unitId: string;
  channel: string;
  alertId: string | null;
  body: NoticeBody;
  /** a critical raise does not wait for the pacing interval, only for grouping */
  urgent: boolean;
  /** the enterprise whose policy paces it */
  enterpriseId: string;
}

export class Outbox {
  private busy: Promise<void> | null = null;
  private requested = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private readonly health: ChannelHealth;
  /** per unit and channel */
  private readonly pacing = new Map<string, Pace>();
  /** pacings being read (every notice of a lane waits for the one read) */
  private readonly paceReads = new Map<string, Promise<Pace>>();
  /** unit|channel → when the last message queued there has gone: a lane sends one at a time */
  private readonly lanes = new Map<string, Promise<void>>();
  /** deliveries not finished, their bookkeeping included */
  private readonly working = new Set<Promise<void>>();
  /** items a delivery has taken (a round leaves them to it) */
  private readonly taken = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  /** a round found items for a lane still sending */
  private waitingForLane = false;
  private wake?: { at: number; timer: NodeJS.Timeout };
  /** lanes held for an express notice on its way into them */
  private readonly reserved = new Set<string>();
  /**
   * written notices due now waiting for their lane (id → notice): when a lane is free and every
   * notice waiting for it is here, they go from here, without a round's query
   */
  private readonly waitingItems = new Map<string, OutboxItem>();
  /** lanes still sending with an express message waiting behind (lane → its id): one at most */
  private readonly behind = new Map<string, string>();
  /**
   * lane → its notices queued (being written, or written) and not yet in the lane, in the order
   * they were queued (rows found pending at a start count as before everything)
   */
  private readonly unsent = new Map<string, Map<string, number>>();
  private queuedCount = 0;
  /** notices being written (their enqueue has not yet stored them) */
  private readonly unwritten = new Set<string>();
  /** express notices → their write, until it is done */
  private readonly writes = new Map<string, Promise<unknown>>();
  /** a round held a message back until something queued before it in its lane is written */
  private heldForWrites = false;
  /** lane → its unit and channel */
  private readonly laneParts = new Map<string, { unitId: string; channel: string }>();
  /** lanes with a message that failed and waits for its next attempt (nothing may overtake it) */
  private failedLanes = new Set<string>();
  /** lane → when (in failures counted) its last failure was written; a round's query started before it cannot have seen it */
  private readonly failedAt = new Map<string, number>();
  private failures = 0;

  constructor(private readonly deps: OutboxDeps) {
    this.health = new ChannelHealth(deps.failuresBeforeAlert ?? 3, deps.onChannelHealth, deps.channelAlertOpen);
  }

  start(pollMs = 500) {
    this.timer = setInterval(() => void this.rounds(), pollMs);
    this.timer.unref();
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.wake?.timer);
    await this.busy;
    await this.lanesDone();
  }

  /**
   * Persist first; the time each item may go is set so a unit's items group. `settles`: the
   * record's changes these notices are owed for (written off in the same transaction). `owed`:
   * the notices of changes told again because they were owed (OutboxStore.add).
   */
  async enqueue(notices: Notice[], settles: number[] = [], o: { owed?: boolean } = {}): Promise<void> {
    // a change read as owed while its telling here is still being written (a worker that took its
    // partitions back): that telling settles it. Told again, both writes raced for the line, and
    // the one that lost still wrote when it was the first telling
    if (o.owed && settles.length && settles.every((n) => this.settling.has(n))) return;
    for (const n of settles) this.settling.add(n);
    try {
      await this.queue(notices, settles, o);
    } finally {
      for (const n of settles) this.settling.delete(n);
    }
  }

  /** the record's lines whose notices are being written here */
  private readonly settling = new Set<number>();

  private async queue(notices: Notice[], settles: number[], o: { owed?: boolean }): Promise<void> {
    // before any await: a clear queued right after its raise must reach the units the raise did
    for (const n of notices) if (n.alertId !== null) this.deps.told.note(n.alertId, [n.unitId]);
    // and each notice takes its place in its lane's order, in the order enqueue was called
    const places = notices.map((n) => this.unsentIn(laneOf(n), randomUUID()));
    const ids = places.map((p) => p.id);
    for (const id of ids) this.unwritten.add(id);
    const now = this.deps.clock();
    const items: OutboxItem[] = [];
    for (const [k, n] of notices.entries()) {
      const pace = await this.pace(n.unitId, n.channel);
      pace.groupAt = groupTime(pace, now, n.urgent, this.deps.policy(n.enterpriseId));
      const notBefore = pace.groupAt;
      const { id, order } = places[k];
      const lane = laneOf(n);
      // express: nothing to group with and nothing before it in its lane (held for an express
      // notice, failed, or queued and not yet sent), so its message (and id) is known now. A lane
      // still sending takes one express message behind the one it sends; more wait for a round
      // and go together. The lane is held for it from here until it is in the lane
      // (a change told again is sent once its write shows nobody told it before: not beside it)
      const express = !o.owed && notBefore <= now && !this.reserved.has(lane) && !this.failedLanes.has(lane) && !this.behind.has(lane) && this.firstUnsent(lane, id);
      if (express) (this.reserved.add(lane), this.laneParts.set(lane, { unitId: n.unitId, channel: n.channel }));
      items.push({ id, unitId: n.unitId, channel: n.channel, alertId: n.alertId, body: n.body, createdAt: now, notBefore, nextAttemptAt: notBefore, attempts: 0, status: 'pending', lastError: null, deliveredAt: null, notificationId: express ? id : null, seq: order });
    }
    const express = items.filter((i) => i.notificationId !== null);
    // an alarm to be told now is written on the store's urgent connection; should it commit
    // before something queued earlier in its lane, rounds hold it until that one is written
    const urgent = notices.some((n, k) => n.urgent && items[k].notBefore <= now);
    // an express message takes its place in its lane at once and goes beside its write, not after
    // it: its change is in the record already, owed its notices until this write settles it (a
    // crash in between tells it again at the next start), and the delivery's outcome waits for the
    // row. A clear sent only once stored held its lane for its write (at full load 0.3-0.6 s), and
    // the unit's next alarm waited behind it
    const write = this.deps.store.add(items, settles, { urgent, owed: o.owed });
    try {
      if (express.length) {
        const expressIds = express.map((i) => i.id);
        for (const id of expressIds) this.writes.set(id, write);
        // kept should the write never be (the service stops): the delivery must then not write
        // its outcome (the change it tells is still owed, told again at the next start)
        void write.then(() => expressIds.forEach((id) => this.writes.delete(id)), () => {});
        for (const i of express) {
          const lane = laneOf(i);
          if (this.lanes.has(lane)) this.behind.set(lane, i.id);
          void this.inLane([i]);
          this.reserved.delete(lane);
        }
      }
      if (!(await write)) return this.toldElsewhere(items);
    } finally {
      for (const id of ids) this.unwritten.delete(id);
    }
    // still waiting for their lane (a round may have found and taken them since their write)
    const waiting = items.filter((i) => i.notificationId === null && i.notBefore <= now && this.unsent.get(laneOf(i))?.has(i.id));
    for (const i of waiting) this.waitingItems.set(i.id, i);
    for (const lane of new Set(waiting.map(laneOf))) this.refill(lane);
    if (items.some((i) => i.notificationId === null && i.notBefore <= now) || this.heldForWrites) void this.rounds();
  }

  /**
   * Notices of a change told twice whose other telling wrote its notices first: they are in no
   * table, so they leave their lanes' order, and what waited behind them goes on.
   */
  private toldElsewhere(items: OutboxItem[]) {
    for (const i of items) {
      const lane = laneOf(i);
      const m = this.unsent.get(lane);
      m?.delete(i.id);
      if (m?.size === 0) this.unsent.delete(lane);
    }
    for (const lane of new Set(items.map(laneOf))) this.refill(lane);
    if (this.heldForWrites) void this.rounds();
  }

  /**
   * A message into its unit's and channel's lane: sent once the message before it there has gone
   * (its bookkeeping may still run). Its items are taken at once, so a round leaves them alone,
   * and given back when the attempt has been written down.
   */
  private inLane(items: OutboxItem[]): Promise<void> {
    const lane = laneOf(items[0]);
    const unsent = this.unsent.get(lane);
    if (unsent) for (const i of items) unsent.delete(i.id);
    for (const i of items) this.waitingItems.delete(i.id);
    if (unsent?.size === 0) this.unsent.delete(lane);
    this.laneParts.set(lane, { unitId: items[0].unitId, channel: items[0].channel });
    for (const i of items) this.taken.add(i.id);
    let gone!: () => void;
    const turn = new Promise<void>((r) => (gone = r));
    const before = this.lanes.get(lane) ?? Promise.resolve();
    // an express message waiting behind the one the lane is sending
    const chained = this.behind.get(lane) === items[0].id;
    this.lanes.set(lane, turn);
    void turn.then(() => {
      if (this.lanes.get(lane) === turn) {
        this.lanes.delete(lane);
        this.refill(lane);
      }
      // what a round left for this lane goes now, as one message
      if (this.waitingForLane) {
        this.waitingForLane = false;
        void this.rounds();
      }
    });
    const work: Promise<void> = before
      .then(() => {
        if (this.behind.get(lane) === items[0].id) this.behind.delete(lane);
        // behind a message that failed it does not overtake it: it stays pending, and goes after
        // that one is tried again (rounds)
        if (this.stopped || (chained && this.failedLanes.has(lane))) return;
        return this.deliver(items, this.deps.clock(), gone);
      })
      .catch((err: Error) => this.deps.log.warn({ err: failureText(err), unit: items[0].unitId, channel: items[0].channel }, 'delivery failed'))
      .finally(() => {
        gone();
        for (const i of items) this.taken.delete(i.id);
        this.working.delete(work);
        if (!this.working.size) for (const r of this.idleWaiters.splice(0)) r();
      });
    this.working.add(work);
    return work;
  }

  /**
   * A free lane takes what waits for it as one message (or as few as its receiver's size allows),
   * when every notice waiting there was written by this process and is due: without a round's two
   * queries, each of which waited 0.1-1 s for the event loop at full load. Otherwise the round
   * the lane's end calls finds them.
   */
  private refill(lane: string): void {
    if (this.stopped || this.lanes.has(lane) || this.reserved.has(lane) || this.failedLanes.has(lane)) return;
    const queued = this.unsent.get(lane);
    if (!queued?.size) return;
    const now = this.deps.clock();
    const items: OutboxItem[] = [];
    for (const [id] of [...queued].sort((a, b) => a[1] - b[1])) {
      const i = this.waitingItems.get(id);
      if (!i || this.taken.has(id) || i.notBefore > now) return;
      items.push(i);
    }
    this.dispatch(items);
  }

  /** Note a notice of a lane as queued and not yet sent; its id and its place. */
  private unsentIn(lane: string, id: string, order = ++this.queuedCount): { id: string; order: number } {
    let m = this.unsent.get(lane);
    if (!m) this.unsent.set(lane, (m = new Map()));
    m.set(id, order);
    return { id, order };
  }

  /** Nothing queued before this notice in its lane is still unsent. */
  private firstUnsent(lane: string, id: string): boolean {
    const m = this.unsent.get(lane);
    const mine = m?.get(id) ?? Infinity;
    if (m) for (const order of m.values()) if (order < mine) return false;
    return true;
  }

  /** A message of the lane failed (its retry is written): nothing of the lane goes before it, nor express. */
  private failed(lane: string) {
    this.failedLanes.add(lane);
    this.failedAt.set(lane, ++this.failures);
  }

  /** Resolves once no round runs and no delivery is under way, express ones included. */
  private async lanesDone() {
    while (this.busy || this.working.size) {
      if (this.busy) await this.busy;
      else await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  /**
   * The pacing of a unit's channel, read from the outbox once after a start: one read however
   * many notices ask at once. (A read each, as before, put 16 000 queries on the outbox's
   * connection when a plant's 16 000 devices went offline together, and another enterprise's
   * critical alarm waited behind them for 45 s; each late answer also replaced the pacing the
   * notices before it had set.)
   */
  private pace(unitId: string, channel: string): Pace | Promise<Pace> {
    const key = laneOf({ unitId, channel });
    const known = this.pacing.get(key);
    if (known) return known;
    let read = this.paceReads.get(key);
    if (!read) {
      read = (async () => {
        const pending = await this.deps.store.pending(unitId, channel);
        if (pending.some((w) => w.attempts > 0)) this.failed(key);
        // rows left pending by the last run go before anything queued in this one
        for (const w of pending) if (w.attempts === 0 && !this.taken.has(w.id)) this.unsentIn(key, w.id, 0);
        const waiting = pending.filter((w) => w.attempts === 0).map((w) => w.notBefore);
        const p: Pace = { groupAt: waiting.length ? Math.min(...waiting) : null, lastSent: await this.deps.store.lastDelivered(unitId, channel) };
        this.pacing.set(key, p);
        return p;
      })().finally(() => this.paceReads.delete(key));
      this.paceReads.set(key, read);
    }
    return read;
  }

  /**
   * Send everything due now; resolves when nothing asked for before it is left undone, express
   * deliveries under way included. A round only finds what is due and hands it to the lanes: the
   * next round need not wait for a slow receiver, only that receiver's lane does.
   */
  run(): Promise<void> {
    return this.rounds().then(() => this.lanesDone());
  }

  /** Find what is due and hand it to the lanes, again while asked to. */
  private rounds(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.requested = true;
    return (this.busy ??= (async () => {
      // work queued while a round runs gets a round of its own, within the same promise
      while (this.requested) {
        this.requested = false;
        await this.round().catch((err: Error) => this.deps.log.warn({ err: err.message }, 'outbox round failed'));
      }
    })().finally(() => (this.busy = null)));
  }

  /**
   * What is due, into the lanes. A lane's messages never overtake one of its own that failed: a
   * lane with something due and a failed message waiting for its retry tries that one again
   * first (no sooner than the first retry delay after its last attempt), then the rest, whatever
   * its outcome (a receiver refusing one message for good holds the others up by one attempt, not
   * until it expires).
   */
  private async round() {
    const now = this.deps.clock();
    this.heldForWrites = false;
    const failuresBefore = this.failures;
    const retrying = await this.deps.store.retryingLanes(now);
    // lanes still sending are left out of the query (a digest of thousands being delivered is not
    // read again every round); what is due for them is found by the round their end calls
    const sending = [...new Set([...this.lanes.keys(), ...this.reserved])].flatMap((l) => this.laneParts.get(l) ?? []);
    if (sending.length) this.waitingForLane = true;
    const found = await this.deps.store.due(now, (id) => this.taken.has(id), sending);
    // a message tried before goes before its lane's news (rows of one millisecond have no order)
    const due = [...found.filter((i) => i.attempts > 0), ...found.filter((i) => i.attempts === 0)];
    const failedLanes = new Set(retrying.map(laneOf));
    for (const [lane, n] of this.failedAt) if (n > failuresBefore) failedLanes.add(lane);
    for (const lane of this.failedAt.keys()) if (!failedLanes.has(lane)) this.failedAt.delete(lane);
    this.failedLanes = failedLanes;
    // into the lanes in the same turn the query answered: before an express item stored later
    // (none can be for a lane with a failed message, whose turn comes after one more query)
    const held = due.filter((i) => failedLanes.has(laneOf(i)));
    this.dispatch(due.filter((i) => !failedLanes.has(laneOf(i))));
    if (!held.length) return;
    const lanes = [...new Map(held.map((i) => [laneOf(i), { unitId: i.unitId, channel: i.channel }])).values()];
    const failed = (await this.deps.store.retryingIn(lanes, now)).filter((i) => !this.taken.has(i.id));
    // what failed was queued before anything new of its lane: it goes first, but no sooner than
    // the first retry delay after its last attempt (news for a receiver that is down must not
    // make it hammered); until then the lane's news waits for it
    const base = this.deps.baseDelayMs ?? 5000;
    const lastTried = (i: OutboxItem) => i.nextAttemptAt - retryDelay(i.attempts, base, this.deps.maxDelayMs ?? 600_000);
    let wake = Infinity;
    const waiting = new Set<string>();
    for (const i of failed) {
      const from = lastTried(i) + base;
      if (from > now) (waiting.add(laneOf(i)), (wake = Math.min(wake, from)));
    }
    this.dispatch([...failed, ...held].filter((i) => !waiting.has(laneOf(i))));
    if (wake < Infinity) this.wakeAt(wake - now);
  }

  /** A round again in `ms` (one timer at a time: the earliest asked for). */
  private wakeAt(ms: number) {
    const at = this.deps.clock() + ms;
    if (this.wake && this.wake.at <= at) return;
    clearTimeout(this.wake?.timer);
    const timer = setTimeout(() => ((this.wake = undefined), void this.rounds()), Math.max(0, ms));
    timer.unref?.();
    this.wake = { at, timer };
  }

  /**
   * A lane still sending is left to fill: what waits for it goes as one message when it is free.
   * A free lane takes the messages in order, one after another.
   */
  private dispatch(items: OutboxItem[]) {
    const busy = new Set([...this.lanes.keys(), ...this.reserved]);
    const registry = this.deps.registry();
    const maxBytesOf = (i: OutboxItem) => {
      const unit = registry.units.get(i.unitId);
      return unit && this.deps.channels.maxBodyBytes(unit, i.channel);
    };
    // a lane may have taken some since the query found them (from memory: refill)
    for (const g of messagesOf(items.filter((i) => !this.taken.has(i.id)), maxBytesOf)) {
      if (busy.has(laneOf(g[0]))) this.waitingForLane = true;
      else if (this.behindUnwritten(g)) this.heldForWrites = true;
      else void this.inLane(g);
    }
  }

  /**
   * Something queued before one of this message's notices in its lane is still being written (it
   * must go first). Before any of them, not before the first: a round found a lane's notices
   * 4-16 and 20-21 written (20 and 21 alarms, on their own connection) and 17-19 still being
   * written, and sent 20-21 ahead of them.
   */
  private behindUnwritten(g: OutboxItem[]): boolean {
    if (!this.unwritten.size) return false;
    const queued = this.unsent.get(laneOf(g[0]));
    if (!queued) return false;
    const last = g.reduce((high, i) => Math.max(high, queued.get(i.id) ?? 0), -Infinity);
    for (const [id, order] of queued) if (order < last && this.unwritten.has(id)) return true;
    return false;
  }

  /** `gone`: called once the channel has taken the message or refused it (the lane may go on). */
  private async deliver(items: OutboxItem[], now: number, gone: () => void = () => {}) {
    const { unitId, channel } = items[0];
    const registry = this.deps.registry();
    const unit = registry.units.get(unitId);
    const expireMs = this.deps.policy(enterpriseOf(items[0]) ?? '').notificationExpireH * 3_600_000;
    // a group already tried expires whole: its message must not change
    const frozen = items[0].notificationId !== null;
    const oldest = Math.min(...items.map((i) => i.createdAt));
    // a channel taken out of the registry (a webhook removed) is not retried until it expires:
    // its failures would keep a channel alert up for a receiver nobody uses any more
    const removed = unit !== undefined && !this.deps.channels.idsOf(unit).includes(channel);
    if (removed) this.health.gone(unit, channel);
    const expired = items.filter((i) => !unit || removed || now - (frozen ? oldest : i.createdAt) >= expireMs);
    if (expired.length) {
      await this.giveUp(expired, now, !unit ? 'the unit is no longer in the registry' : removed ? 'the unit no longer has this channel' : 'expired before delivery');
      if (unit && !removed) this.health.expired(unit, channel, expired.length);
    }
    const live = items.filter((i) => !expired.includes(i));
    if (!live.length || !unit) return;
    const attempts = Math.max(...live.map((i) => i.attempts)) + 1;
    // whatever comes next for this unit starts a new group
    const pace = this.pacing.get(laneOf(items[0]));
    if (pace && pace.groupAt !== null && pace.groupAt <= now) pace.groupAt = null;
    // the id is fixed with the group before its first attempt, so a resend after a crash carries
    // the same id and the same content (receivers may drop it by id). A message with a critical
    // alarm does not wait for that write (0.1 s at full load, and a fifth of the alarms went this
    // way): it is sent beside it, and a crash in between costs a resend under another id
    const id = live[0].notificationId ?? (live.length === 1 ? live[0].id : randomUUID());
    const ids = live.map((i) => i.id);
    let idWritten: Promise<boolean> | undefined;
    if (!live[0].notificationId) {
      const write = this.deps.store.update(ids, { notificationId: id });
      if (!live.some(alarmNotice)) await write;
      else
        idWritten = write.then(
          () => true,
          (err: Error) => (this.deps.log.warn({ err: failureText(err), unit: unitId, channel }, 'notification id not written; the message is sent again'), false),
        );
      for (const i of live) i.notificationId = id;
    }
    // the rows are as the message says (written, with its id); else its outcome is not written,
    // and the rows wait to be sent again
    const rowsIn = async () => (await this.stored(ids)) && (idWritten === undefined || (await idWritten));
    const about = { channel: channelKind(channel), unit: unit.id, unitKind: unit.kind, target: targetOf(this.deps.channels, unit, channel), attempts };
    try {
      const { linkStored } = await sendMessage({ channels: this.deps.channels, registry, publicUrl: this.deps.publicUrl, ackLinks: this.deps.ackLinks }, unit, channel, live, id);
      gone();
      if (attempts === 1) {
        const taken = this.deps.clock();
        for (const i of live) this.deps.counters.notificationSeconds?.observe({ notice: alarmNotice(i) ? 'critical_alarm' : 'other' }, (taken - i.createdAt) / 1000);
      }
      // delivered, with a link that cannot work until its row is in: should that write fail, the
      // message is tried again (the same id, content and link; the row written again)
      await linkStored;
      if (!(await rowsIn())) return;
      // the record first: a kill between the two then leaves the row pending, sent again under the
      // same id with a second `notified` line, not a delivery the alert's record never shows
      await this.record(outcomeLines(live, { type: 'notified', detail: { ...about, digestOf: live.length, notificationId: id } }, now));
      await this.deps.store.update(ids, { status: 'delivered', attempts, deliveredAt: now, lastError: null });
      this.deps.counters.notifications.inc({ channel: channelKind(channel), outcome: 'delivered' });
      if (pace) pace.lastSent = now;
      this.health.delivered(unit, channel);
    } catch (e) {
      if (!(await rowsIn())) return gone();
      if (e instanceof RetryLater) return this.postpone(live, e, attempts, about, now, gone);
      const error = failureText(e).slice(0, 300);
      const delay = retryDelay(attempts, this.deps.baseDelayMs ?? 5000, this.deps.maxDelayMs ?? 600_000);
      await this.deps.store.update(ids, { attempts, nextAttemptAt: now + delay, lastError: error });
      // the lane goes on once it is known (and written) that this message waits for a retry
      this.failed(laneOf(live[0]));
      gone();
      this.deps.counters.notifications.inc({ channel: channelKind(channel), outcome: 'failed' });
      this.deps.log.warn({ unit: unitId, channel, attempts, err: error }, 'notification failed; will retry');
      if (worthRecording(attempts)) await this.record(outcomeLines(live, { type: 'notification_failed', detail: { ...about, error, retryInS: Math.round(delay / 1000) } }, now));
      this.health.failed(unit, channel, error);
    }
  }

  /** An express message's row is written (it was sent beside its write); false if it never will be. */
  private stored(ids: string[]): Promise<boolean> {
    const writes = new Set(ids.flatMap((id) => this.writes.get(id) ?? []));
    if (!writes.size) return Promise.resolve(true);
    return Promise.all(writes).then(
      () => true,
      () => false,
    );
  }

  /** Not sent, not failed: the channel said when it may go (the record says so, once per message). */
  private async postpone(items: OutboxItem[], e: RetryLater, attempts: number, about: object, now: number, gone: () => void) {
    await this.deps.store.update(
      items.map((i) => i.id),
      { attempts, nextAttemptAt: Math.max(e.retryAt, now + 1000), lastError: e.message.slice(0, 300) },
    );
    this.failed(laneOf(items[0]));
    gone();
    this.deps.counters.notifications.inc({ channel: channelKind(items[0].channel), outcome: 'postponed' });
    if (attempts === 1) await this.record(outcomeLines(items, { type: 'notification_failed', detail: { ...about, error: e.message.slice(0, 300), postponed: true, retryInS: Math.round((e.retryAt - now) / 1000) } }, now));
  }

  private async giveUp(items: OutboxItem[], now: number, why: string) {
    await this.deps.store.update(
      items.map((i) => i.id),
      { status: 'expired' },
    );
    this.deps.counters.notifications.inc({ channel: channelKind(items[0].channel), outcome: 'expired' });
    await this.record(outcomeLines(items, { type: 'notification_expired', detail: { channel: channelKind(items[0].channel), unit: items[0].unitId, attempts: items[0].attempts, error: items[0].lastError ?? why, reason: why } }, now));
  }

  private async record(lines: Transition[]) {
    if (lines.length) await this.deps.record(lines).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'notification record not saved'));
  }
}

const channelKind = (channel: string) => parseChannelId(channel).kind;

/** the notices the alarm path's targets are about */
const alarmNotice = ({ body: b }: OutboxItem) => b.notice === 'alert' && criticalAlarm(b.alert.severity, b.transition.type);

function enterpriseOf(i: OutboxItem): string | undefined {
  const b: NoticeBody = i.body;
  if (b.notice === 'alert') return b.alert.enterpriseId;
  if (b.notice === 'silence') return b.silence.enterpriseId;
  return undefined;
}
