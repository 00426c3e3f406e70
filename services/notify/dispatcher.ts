import type { OwedChange } from '../alerts/alert-store.ts';
import { alertJson, criticalAlarm, transitionJson, type Alert, type AlertChange, type Transition } from '../alerts/model.ts';
import { immediateKinds, type RoutingPolicy } from '../alerts/routing.ts';
import { covers, type Silence, type Silences } from '../alerts/silences.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import { audienceOf, unitsOf, type Audience } from './audience.ts';
import type { LiveStream } from './live-stream.ts';
import { heldLine } from './mute.ts';
import { channelKindsFor } from './reach.ts';
import { parseChannelId } from './channels/channel.ts';
import type { Notice, Outbox } from './outbox.ts';
import type { ToldUnits } from './told.ts';

/**
 * Every alert change goes to the live stream and MQTT at once, and to the enterprise's on-site
 * alarm device when it concerns a critical alarm. The changes people must hear of pass the
 * stages: audience (who), mute (a silence holds it, and the record says so), then the outbox
 * (group/pace, send, record). Nothing here writes to the alert: who was told is the outbox's.
 */
export interface DispatchDeps {
  registry(): Registry;
  policy(enterpriseId: string): RoutingPolicy;
  /** lines for the alert's record that do not change the alert (a notification held) */
  record(lines: Transition[]): Promise<void>;
  told: Pick<ToldUnits, 'of' | 'anyone' | 'forget'>;
  openAlerts(): Alert[];
  live: Pick<LiveStream, 'send'>;
  outbox: Pick<Outbox, 'enqueue'>;
  silences: Pick<Silences, 'matching'>;
  /** the channel ids a unit can be reached on */
  channelsOf(unit: UnitConfig): string[];
  publishMqtt(topic: string, payload: string): Promise<void>;
  clock(): number;
  log: { warn(o: object, msg?: string): void };
}

export class Dispatcher {
  private readonly inFlight = new Set<Promise<void>>();
  /**
   * Per change (its transitions share one alert object): the units told before it, fixed once, so
   * a reminder in the same step as an escalation does not reach the unit just escalated to twice.
   */
  private readonly toldBeforeChange = new WeakMap<Alert, Set<string>>();

  private toldBefore(alert: Alert): Set<string> {
    let before = this.toldBeforeChange.get(alert);
    if (!before) this.toldBeforeChange.set(alert, (before = new Set(this.deps.told.of(alert.id))));
    return before;
  }

  /** The composition root has it hear the alert book: `onLive` at once, `onChange` once committed. */
  constructor(private readonly deps: DispatchDeps) {}

  /** Wait until every change so far is in the outbox (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<void>) {
    const q = p.catch((err: Error) => this.deps.log.warn({ err: err.message }, 'notification not queued')).finally(() => this.inFlight.delete(q));
    this.inFlight.add(q);
  }

  /** The live board, MQTT subscribers and on-site alarm devices: at once, not after the disk. */
  onLive({ alert, transition }: AlertChange) {
    const event = { ...alertJson(alert, this.deps.told.of(alert.id)), transition: transitionJson(transition) };
    this.deps.live.send(alert.enterpriseId, 'alert', event);
    this.deps.publishMqtt(`alerts/${alert.enterpriseId}`, JSON.stringify(event)).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'alert not published on MQTT'));
    this.command(alert, transition);
  }

  /**
   * Notifications promise a record: they go once the change is committed. The change's line is
   * owed its notices until they are in the outbox (or there is nobody to tell): a change whose
   * notices a crash kept from the outbox is told at the next start (`tellOwed`).
   */
  onChange({ alert, transition, line }: AlertChange, owed = false) {
    const audience = audienceOf(transition, alert, this.deps.policy(alert.enterpriseId), this.deps.told.anyone(alert.id));
    const settles = line === undefined ? [] : [line];
    this.track(audience ? this.tell(alert, transition, audience, settles, owed) : this.deps.outbox.enqueue([], settles));
    // the close's notices are queued (tell runs to the outbox before it awaits): from now on
    // who was told of this alert is read from the outbox
    if (alert.state === 'closed') this.deps.told.forget(alert.id);
  }

  /**
   * Changes committed before a crash (or a partition's owner lost) whose notices never reached
   * the outbox: told now, in the order they were committed, to whoever the registry names today.
   */
  tellOwed(owed: OwedChange[]) {
    for (const { n, alert, transition } of owed) this.onChange({ alert, transition, line: n }, true);
    if (owed.length) this.deps.log.warn({ changes: owed.length, alerts: new Set(owed.map((o) => o.alert.id)).size }, 'notifications owed by changes committed before the last stop: queued now');
  }

  private async tell(alert: Alert, t: Transition, audience: Audience, settles: number[] = [], owed = false) {
    const { all: units } = unitsOf(alert, audience, this.deps.registry(), this.toldBefore(alert));
    if (!units.length) return this.deps.outbox.enqueue([], settles);
    const held = heldLine(alert, t, units, this.deps.silences, this.deps.clock());
    if (held) {
      await this.deps.record([held]);
      return this.deps.outbox.enqueue([], settles);
    }
    const body = { notice: 'alert' as const, alert: alertJson(alert, [...new Set([...this.toldBefore(alert), ...units.map((u) => u.id)])]), transition: transitionJson(t) };
    const urgent = criticalAlarm(alert.severity, t.type);
    const over = channelKindsFor(alert, t, this.deps.policy(alert.enterpriseId), audience.via);
    await this.deps.outbox.enqueue(
      units.flatMap((u) =>
        this.deps
          .channelsOf(u)
          .filter((channel) => over(parseChannelId(channel).kind))
          .map((channel): Notice => ({ unitId: u.id, channel, alertId: alert.id, body, urgent, enterpriseId: alert.enterpriseId })),
      ),
      settles,
      { owed },
    );
  }

  /** A silence starting or ending is news for the enterprise and its township. */
  announceSilence(s: Silence, phase: 'started' | 'ended') {
    const units = this.deps.registry().unitsFor(s.enterpriseId, ['enterprise', 'township']);
    const body = { notice: 'silence' as const, phase, silence: { ...s } };
    // nobody is called about a silence
    const notices = units.flatMap((u) => this.deps.channelsOf(u).filter((c) => parseChannelId(c).kind !== 'voice').map((channel): Notice => ({ unitId: u.id, channel, alertId: null, body, urgent: false, enterpriseId: s.enterpriseId })));
    this.track(this.deps.outbox.enqueue(notices));
    if (phase === 'ended') this.releaseHeld(s);
  }

  /** When a silence ends, alerts it held that are still open and unacknowledged go out now. */
  private releaseHeld(s: Silence) {
    const now = this.deps.clock();
    for (const a of this.deps.openAlerts()) {
      if (a.acknowledged || a.state !== 'active' || !covers({ ...s, endedAt: null, until: Infinity, from: -Infinity }, { enterpriseId: a.enterpriseId, deviceId: a.deviceId, rule: a.rule }, now)) continue;
      if (this.deps.silences.matching({ enterpriseId: a.enterpriseId, deviceId: a.deviceId, rule: a.rule }, now)) continue;
      const t: Transition = { alertId: a.id, at: now, type: 'reminded', actor: 'system', detail: { afterSilence: s.id } };
      this.track(this.tell(a, t, { kinds: immediateKinds(this.deps.policy(a.enterpriseId), a.severity, a.metric), told: true }));
    }
  }

  /** The on-site sound-light alarm follows the enterprise's critical alarms. Never an interlock. */
  private command(alert: Alert, t: Transition) {
    const ent = this.deps.registry().enterprises.get(alert.enterpriseId);
    if (!ent?.alarmDevice) return;
    const topic = `v1/${ent.id}/${ent.alarmDevice}/command`;
    const at = new Date(t.at).toISOString();
    const alarming = alert.state === 'active' && criticalAlarm(alert.severity, t.type);
    const quiet = (t.type === 'cleared' || t.type === 'closed') && !this.deps.openAlerts().some((a) => a.enterpriseId === ent.id && a.state === 'active' && a.severity === 'critical');
    const send = (command: string) =>
      this.deps.publishMqtt(topic, JSON.stringify({ command, alertId: alert.id, severity: alert.severity, message: alert.message, at })).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'alarm device command not published'));
    if (alarming) send('alarm_on');
    else if (quiet) send('alarm_off');
  }
}
