import { randomUUID } from 'node:crypto';
import { alertFromJson, transitionFromJson, type Transition } from '../alerts/model.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import { parseChannelId, type Channels } from './channels/channel.ts';
import { renderDigest, renderMessage, renderSilence, type Message } from './message.ts';
import type { NoticeBody, OutboxItem, OutboxStore } from './outbox-store.ts';
import type { RoutingPolicy } from '../alerts/routing.ts';

/**
 * Sends what the outbox holds. Items for one unit and channel that are due together go as one
 * message (a digest when there are several); a failed send is tried again with a growing delay,
 * and a notification not delivered within the policy's expiry is given up. Every outcome joins
 * the alert's record. A channel that keeps failing is reported to the operators.
 */
export interface OutboxDeps {
  store: OutboxStore;
  registry(): Registry;
  /** notification outcomes for the alert's record */
  record(lines: Transition[]): Promise<void>;
  channels: Channels;
  clock(): number;
  publicUrl: string;
  policy(enterpriseId: string): RoutingPolicy;
  counters: { notifications: { inc(labels: { channel: string; outcome: string }): void } };
  log: { warn(o: object, msg?: string): void };
  /** first retry delay; doubles each time up to maxDelayMs */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** consecutive failures of one unit's channel before the operators are told */
  failuresBeforeAlert?: number;
  onChannelHealth(unit: UnitConfig, channel: string, failing: boolean, error?: string): void;
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
  private readonly failures = new Map<string, number>();
  /** per unit and channel: when the group now filling goes out, and when the last one went */
  private readonly pacing = new Map<string, { groupAt: number | null; lastSent: number | null }>();

  constructor(private readonly deps: OutboxDeps) {}

  start(pollMs = 500) {
    this.timer = setInterval(() => void this.run(), pollMs);
    this.timer.unref();
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await this.busy;
  }

  /** Persist first; the time each item may go is set so a unit's items group. */
  async enqueue(notices: Notice[]): Promise<void> {
    const now = this.deps.clock();
    const items: OutboxItem[] = [];
    for (const n of notices) {
      const key = `${n.unitId}|${n.channel}`;
      const pace = await this.pace(n.unitId, n.channel);
      if (pace.groupAt === null || pace.groupAt < now) {
        const policy = this.deps.policy(n.enterpriseId);
        const last = pace.lastSent;
        pace.groupAt = !n.urgent && last !== null && now - last < policy.groupIntervalS * 1000 ? last + policy.groupIntervalS * 1000 : now + policy.groupWaitS * 1000;
        this.pacing.set(key, pace);
      }
      const notBefore = pace.groupAt;
      items.push({ id: randomUUID(), unitId: n.unitId, channel: n.channel, alertId: n.alertId, body: n.body, createdAt: now, notBefore, nextAttemptAt: notBefore, attempts: 0, status: 'pending', lastError: null, deliveredAt: null, notificationId: null });
    }
    await this.deps.store.add(items);
    const wake = Math.min(...items.map((i) => i.notBefore));
    if (wake <= now) void this.run();
  }

  /** The pacing of a unit's channel, read from the outbox once after a start. */
  private async pace(unitId: string, channel: string) {
    const key = `${unitId}|${channel}`;
    let p = this.pacing.get(key);
    if (!p) {
      const waiting = (await this.deps.store.pending(unitId, channel)).filter((w) => w.attempts === 0).map((w) => w.notBefore);
      p = { groupAt: waiting.length ? Math.min(...waiting) : null, lastSent: await this.deps.store.lastDelivered(unitId, channel) };
      this.pacing.set(key, p);
    }
    return p;
  }

  /** Send everything due now; resolves when nothing asked for before it is left undone. */
  run(): Promise<void> {
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

  private async round() {
    const now = this.deps.clock();
    const due = await this.deps.store.due(now);
    const groups = new Map<string, OutboxItem[]>();
    for (const i of due) {
      // a group already tried goes again exactly as it was; otherwise alert changes for one unit
      // and channel go together, and a silence notice or a summary goes alone
      const key = i.notificationId ? `n|${i.notificationId}` : i.body.notice === 'alert' ? `${i.unitId}|${i.channel}` : i.id;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    }
    await Promise.all([...groups.values()].map((g) => this.deliver(g, now)));
  }

  private async deliver(items: OutboxItem[], now: number) {
    const { unitId, channel } = items[0];
    const unit = this.deps.registry().units.get(unitId);
    const expireMs = this.deps.policy(this.enterpriseOf(items[0]) ?? '').notificationExpireH * 3_600_000;
    // a group already tried expires whole: its message must not change
    const frozen = items[0].notificationId !== null;
    const oldest = Math.min(...items.map((i) => i.createdAt));
    const expired = items.filter((i) => !unit || now - (frozen ? oldest : i.createdAt) >= expireMs);
    if (expired.length) await this.giveUp(expired, now, unit ? 'expired before delivery' : 'the unit is no longer in the registry');
    const live = items.filter((i) => !expired.includes(i));
    if (!live.length || !unit) return;
    const attempts = Math.max(...live.map((i) => i.attempts)) + 1;
    // whatever comes next for this unit starts a new group
    const pace = this.pacing.get(`${unitId}|${channel}`);
    if (pace && pace.groupAt !== null && pace.groupAt <= now) pace.groupAt = null;
    // the id is fixed with the group before the first attempt, so a resend after a crash carries
    // the same id and the same content (receivers may drop it by id)
    const id = live[0].notificationId ?? (live.length === 1 ? live[0].id : randomUUID());
    if (!live[0].notificationId) {
      await this.deps.store.update(
        live.map((i) => i.id),
        { notificationId: id },
      );
      for (const i of live) i.notificationId = id;
    }
    try {
      await this.send(unit, channel, live, id);
      await this.deps.store.update(
        live.map((i) => i.id),
        { status: 'delivered', attempts, deliveredAt: now, lastError: null },
      );
      this.deps.counters.notifications.inc({ channel: channelKind(channel), outcome: 'delivered' });
      if (pace) pace.lastSent = now;
      await this.recordOutcome(live, { type: 'notified', detail: { channel: channelKind(channel), unit: unit.id, unitKind: unit.kind, target: this.target(unit, channel), attempts, digestOf: live.length, notificationId: id } }, now);
      if ((this.failures.get(`${unitId}|${channel}`) ?? 0) >= (this.deps.failuresBeforeAlert ?? 3)) this.deps.onChannelHealth(unit, channel, false);
      this.failures.delete(`${unitId}|${channel}`);
    } catch (e) {
      const error = (e as Error).message.slice(0, 300);
      const base = this.deps.baseDelayMs ?? 5000;
      const delay = Math.min(base * 2 ** (attempts - 1), this.deps.maxDelayMs ?? 600_000);
      await this.deps.store.update(
        live.map((i) => i.id),
        { attempts, nextAttemptAt: now + delay, lastError: error },
      );
      this.deps.counters.notifications.inc({ channel: channelKind(channel), outcome: 'failed' });
      this.deps.log.warn({ unit: unitId, channel, attempts, err: error }, 'notification failed; will retry');
      // the record gets the first failure, then every fifth, so a long outage does not drown it
      if (attempts === 1 || attempts % 5 === 0)
        await this.recordOutcome(live, { type: 'notification_failed', detail: { channel: channelKind(channel), unit: unit.id, unitKind: unit.kind, target: this.target(unit, channel), attempts, error, retryInS: Math.round(delay / 1000) } }, now);
      const n = (this.failures.get(`${unitId}|${channel}`) ?? 0) + 1;
      this.failures.set(`${unitId}|${channel}`, n);
      if (n === (this.deps.failuresBeforeAlert ?? 3)) this.deps.onChannelHealth(unit, channel, true, error);
    }
  }

  private async giveUp(items: OutboxItem[], now: number, why: string) {
    await this.deps.store.update(
      items.map((i) => i.id),
      { status: 'expired' },
    );
    this.deps.counters.notifications.inc({ channel: channelKind(items[0].channel), outcome: 'expired' });
    await this.recordOutcome(items, { type: 'notification_expired', detail: { channel: channelKind(items[0].channel), unit: items[0].unitId, attempts: items[0].attempts, error: items[0].lastError ?? why } }, now);
  }

  private async recordOutcome(items: OutboxItem[], line: Pick<Transition, 'type' | 'detail'>, at: number) {
    const lines = items.filter((i) => i.alertId).map((i) => ({ alertId: i.alertId!, at, actor: 'system', ...line }));
    if (lines.length) await this.deps.record(lines).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'notification record not saved'));
  }

  private enterpriseOf(i: OutboxItem): string | undefined {
    const b = i.body;
    if (b.notice === 'alert') return b.alert.enterpriseId;
    if (b.notice === 'silence') return b.silence.enterpriseId;
    return undefined;
  }

  private async send(unit: UnitConfig, channelId: string, items: OutboxItem[], notificationId: string) {
    const channel = this.deps.channels.of(channelId);
    if (!channel) throw new Error(`no ${parseChannelId(channelId).kind} channel configured`);
    const event = items.length === 1 ? eventOf(items[0]) : { digest: true, count: items.length, events: items.map(eventOf) };
    await channel.send(unit, channelId, { message: this.render(items), event, notificationId });
  }

  private target(unit: UnitConfig, channelId: string): string {
    return this.deps.channels.of(channelId)?.target(unit, channelId) ?? channelId;
  }

  private render(items: OutboxItem[]): Message {
    const registry = this.deps.registry();
    const name = (id: unknown) => registry.enterprises.get(id as string)?.name ?? String(id);
    const bodies = items.map((i) => i.body);
    const alerts = bodies.filter((b): b is Extract<NoticeBody, { notice: 'alert' }> => b.notice === 'alert');
    if (items.length === 1) {
      const b = bodies[0];
      if (b.notice === 'summary') return { title: b.title, text: b.text, markdown: b.markdown };
      if (b.notice === 'silence') return renderSilence({ ...b.silence, enterpriseName: name(b.silence.enterpriseId) }, b.phase);
      const alert = alertFromJson(b.alert);
      return renderMessage(alert, transitionFromJson(b.transition), { enterpriseName: name(alert.enterpriseId), link: `${this.deps.publicUrl}/#/alerts/${alert.id}` });
    }
    return renderDigest(
      alerts.map((b) => ({ alert: alertFromJson(b.alert), transition: transitionFromJson(b.transition), enterpriseName: name(b.alert.enterpriseId) })),
      `${this.deps.publicUrl}/#/alerts`,
    );
  }
}

const channelKind = (channel: string) => parseChannelId(channel).kind;

/** What machines read of one item: an alert change as the alert with its transition, else the notice. */
const eventOf = (i: OutboxItem) => (i.body.notice === 'alert' ? { ...i.body.alert, transition: i.body.transition } : i.body);
