import { alertJson, transitionJson, type Alert, type AlertChange, type Transition } from '../alerts/model.ts';
import { covers, type Silence, type Silences } from '../alerts/silences.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import type { LiveStream } from './live-stream.ts';
import type { Notice, Outbox } from './outbox.ts';
import { audienceOf, immediateKinds, type Audience, type RoutingPolicy } from '../alerts/routing.ts';

/**
 * Every alert change goes to the live stream and MQTT at once, and to the enterprise's on-site
 * alarm device when it concerns a critical alarm. The changes people must hear of become
 * notices in the outbox for each unit and channel, unless a silence holds them (then the record
 * says so).
 */
export interface DispatchDeps {
  registry(): Registry;
  policy(enterpriseId: string): RoutingPolicy;
  /** lines for the alert's record that do not change the alert (a notification held) */
  record(lines: Transition[]): Promise<void>;
  /** units about to be told of an alert: from then on its clears and closes reach them too */
  addUnits(alertId: string, unitIds: string[]): Promise<void>;
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
   * Per open alert, the units told so far: saved on the alert a moment later, but a raise and its
   * clear can be committed together, and the clear must reach the units the raise went to.
   */
  private readonly toldSoFar = new Map<string, Set<string>>();
  /** per change (its transitions share one alert object): the units told before it, fixed once */
  private readonly toldBeforeChange = new WeakMap<Alert, Set<string>>();

  private toldBefore(alert: Alert): Set<string> {
    let before = this.toldBeforeChange.get(alert);
    if (!before) this.toldBeforeChange.set(alert, (before = new Set([...alert.units, ...(this.toldSoFar.get(alert.id) ?? [])])));
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
    const event = { ...alertJson(alert), transition: transitionJson(transition) };
    this.deps.live.send(alert.enterpriseId, 'alert', event);
    this.deps.publishMqtt(`alerts/${alert.enterpriseId}`, JSON.stringify(event)).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'alert not published on MQTT'));
    this.command(alert, transition);
  }

  /** Notifications promise a record: they go once the change is committed. */
  onChange({ alert, transition }: AlertChange) {
    const audience = audienceOf(transition, alert, this.deps.policy(alert.enterpriseId));
    if (audience) this.track(this.tell(alert, transition, audience));
    if (alert.state === 'closed') this.toldSoFar.delete(alert.id);
  }

  private async tell(alert: Alert, t: Transition, audience: Audience) {
    const registry = this.deps.registry();
    const routed = registry.unitsFor(alert.enterpriseId, audience.kinds);
    const told = audience.told ? [...this.toldBefore(alert)].flatMap((id) => registry.units.get(id) ?? []) : [];
    if (routed.length) this.toldSoFar.set(alert.id, new Set([...(this.toldSoFar.get(alert.id) ?? this.toldBefore(alert)), ...routed.map((u) => u.id)]));
    const units = [...new Map([...routed, ...told].map((u) => [u.id, u])).values()];
    if (!units.length) return;
    const silence = this.deps.silences.matching({ enterpriseId: alert.enterpriseId, deviceId: alert.deviceId, rule: alert.rule }, this.deps.clock());
    if (silence) {
      await this.deps.record([
        { alertId: alert.id, at: this.deps.clock(), type: 'notification_held', actor: 'system', detail: { silence: silence.id, reason: silence.reason, until: new Date(silence.until).toISOString(), units: units.map((u) => u.id), for: t.type } },
      ]);
      return;
    }
    const body = { notice: 'alert' as const, alert: alertJson(alert), transition: transitionJson(t) };
    const urgent = alert.severity === 'critical' && (t.type === 'raised' || t.type === 'reactivated' || t.type === 'severity_changed');
    // the outbox row is what promises delivery: it need not wait for the units to be saved on the alert
    const saved = this.deps.addUnits(alert.id, routed.map((u) => u.id));
    await this.deps.outbox.enqueue(units.flatMap((u) => this.deps.channelsOf(u).map((channel): Notice => ({ unitId: u.id, channel, alertId: alert.id, body, urgent, enterpriseId: alert.enterpriseId }))));
    await saved;
  }

  /** A silence starting or ending is news for the enterprise and its township. */
  announceSilence(s: Silence, phase: 'started' | 'ended') {
    const units = this.deps.registry().unitsFor(s.enterpriseId, ['enterprise', 'township']);
    const body = { notice: 'silence' as const, phase, silence: { ...s } };
    this.track(this.deps.outbox.enqueue(units.flatMap((u) => this.deps.channelsOf(u).map((channel): Notice => ({ unitId: u.id, channel, alertId: null, body, urgent: false, enterpriseId: s.enterpriseId })))));
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
    const alarming = alert.severity === 'critical' && alert.state === 'active' && ['raised', 'reactivated', 'severity_changed'].includes(t.type);
    const quiet = (t.type === 'cleared' || t.type === 'closed') && !this.deps.openAlerts().some((a) => a.enterpriseId === ent.id && a.state === 'active' && a.severity === 'critical');
    const send = (command: string) =>
      this.deps.publishMqtt(topic, JSON.stringify({ command, alertId: alert.id, severity: alert.severity, message: alert.message, at })).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'alarm device command not published'));
    if (alarming) send('alarm_on');
    else if (quiet) send('alarm_off');
  }
}
