import pRetry from 'p-retry';
import type { AlertBook, AlertChange } from '../alerts/alert-book.ts';
import { alertJson, transitionJson, type Alert, type Transition } from '../alerts/model.ts';
import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import type { EmailChannel } from './email.ts';
import type { LiveStream } from './live-stream.ts';
import { renderMessage } from './message.ts';
import { audienceOf, immediateKinds, isWorthTelling } from './routing.ts';
import { buildWebhookRequest, postWebhook } from './webhook.ts';

/**
 * Every alert change goes to the live stream and MQTT at once; the changes people must hear of
 * go to the routed units by e-mail and webhook, and each delivery's outcome joins the record.
 */
export interface DispatchDeps {
  registry: () => Registry;
  book: AlertBook;
  live: LiveStream;
  email?: EmailChannel;
  publishMqtt(topic: string, payload: string): Promise<void>;
  publicUrl: string;
  clock: () => number;
  counters: { notifications: { inc(labels: { channel: string; outcome: string }): void } };
  log: { warn(o: object, msg?: string): void };
  retries?: number;
}

interface Delivery {
  channel: 'email' | 'webhook';
  target: string;
  send(): Promise<unknown>;
}

export class Dispatcher {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: DispatchDeps) {
    deps.book.onChange((c) => this.onChange(c));
  }

  /** Wait for the deliveries under way (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  private onChange({ alert, transition }: AlertChange) {
    const event = { ...alertJson(alert), transition: transitionJson(transition) };
    this.deps.live.send(alert.enterpriseId, 'alert', event);
    this.deps.publishMqtt(`alerts/${alert.enterpriseId}`, JSON.stringify(event)).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'alert not published on MQTT'));
    if (!isWorthTelling(alert, transition)) return;
    const p = this.tell(alert, transition, event).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async tell(alert: Alert, t: Transition, event: unknown) {
    const registry = this.deps.registry();
    const units =
      audienceOf(t) === 'routed'
        ? registry.unitsFor(alert.enterpriseId, immediateKinds(registry.file.routing, alert.severity, alert.metric))
        : alert.units.flatMap((id) => registry.units.get(id) ?? []);
    const enterpriseName = registry.enterprises.get(alert.enterpriseId)?.name ?? alert.enterpriseId;
    const message = renderMessage(alert, t, { enterpriseName, link: `${this.deps.publicUrl}/#/alerts/${alert.id}` });
    const results = await Promise.all(units.map((u) => this.deliverToUnit(u, this.deliveries(u, message, event))));
    const lines = results.flat().map((r) => ({ ...r, alertId: alert.id }));
    const told = units.filter((_, i) => results[i].some((r) => r.type === 'notified')).map((u) => u.id);
    if (lines.length) await this.deps.book.record(lines, told).catch((err: Error) => this.deps.log.warn({ err: err.message }, 'notification record not saved'));
  }

  private deliveries(u: UnitConfig, message: ReturnType<typeof renderMessage>, event: unknown): Delivery[] {
    const out: Delivery[] = [];
    const email = this.deps.email;
    if (email && u.email.length) out.push({ channel: 'email', target: u.email.join(','), send: () => email.send(u.email, message) });
    for (const hook of u.webhooks) {
      out.push({
        channel: 'webhook',
        target: `${hook.format} ${redact(hook.url)}`,
        send: () => postWebhook(hook, buildWebhookRequest(hook, message, event, this.deps.clock())),
      });
    }
    return out;
  }

  private deliverToUnit(u: UnitConfig, deliveries: Delivery[]): Promise<Omit<Transition, 'alertId'>[]> {
    return Promise.all(
      deliveries.map(async (d) => {
        let attempts = 0;
        const detail = { channel: d.channel, unit: u.id, unitKind: u.kind, target: d.target };
        try {
          await pRetry(() => (attempts++, d.send()), { retries: this.deps.retries ?? 2, minTimeout: 500, factor: 2 });
          this.deps.counters.notifications.inc({ channel: d.channel, outcome: 'delivered' });
          return { at: this.deps.clock(), type: 'notified' as const, actor: 'system', detail: { ...detail, attempts } };
        } catch (e) {
          this.deps.counters.notifications.inc({ channel: d.channel, outcome: 'failed' });
          this.deps.log.warn({ ...detail, err: (e as Error).message }, 'notification failed');
          return { at: this.deps.clock(), type: 'notification_failed' as const, actor: 'system', detail: { ...detail, attempts, error: (e as Error).message.slice(0, 300) } };
        }
      }),
    );
  }
}

/** Webhook URLs carry robot tokens: keep only scheme, host and path in the record. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}
