import type { Registry } from '../../registry/registry.ts';
import type { PhoneConfig, ProviderConfig, UnitConfig } from '../../registry/schema.ts';
import { maskPhone } from '../ack-links.ts';
import { parseChannelId, RetryLater, type Channel, type Delivery } from './channel.ts';
import { limitsOf, nextAllowed, NumberHistory } from './phone-limits.ts';
import { AliyunProvider } from './providers/aliyun.ts';
import { HttpGatewayProvider } from './providers/http-gateway.ts';
import { ProviderError, type PhoneProvider } from './providers/phone-provider.ts';
import { TencentProvider } from './providers/tencent.ts';

/**
 * SMS and voice calls to the unit's phones, one channel id per number (`sms:0`, `voice:1`), so
 * each person's messages are paced, limited and recorded on their own. The provider is the
 * unit's (`sms: <provider id>`) or the registry's `messaging.sms`; `false` turns the channel off
 * for the unit. Which changes call at all is decided before (notify/reach.ts).
 */
export class PhoneChannel implements Channel {
  private readonly history = new NumberHistory();
  /** adapters by provider config: a registry reload with new credentials makes new ones */
  private readonly adapters = new WeakMap<ProviderConfig, PhoneProvider>();

  constructor(
    readonly kind: 'sms' | 'voice',
    private readonly registry: () => Registry,
    private readonly clock: () => number,
  ) {}

  private provider(unit: UnitConfig): ProviderConfig | undefined {
    const messaging = this.registry().file.messaging;
    const choice = unit[this.kind];
    if (choice === false) return undefined;
    const id = choice ?? messaging[this.kind];
    return messaging.providers.find((p) => p.id === id);
  }

  idsOf(unit: UnitConfig): string[] {
    return unit.phones.length && this.provider(unit) ? unit.phones.map((_, i) => `${this.kind}:${i}`) : [];
  }

  private phoneOf(unit: UnitConfig, id: string): PhoneConfig | undefined {
    return unit.phones[parseChannelId(id).index];
  }

  async send(unit: UnitConfig, id: string, d: Delivery): Promise<void> {
    const phone = this.phoneOf(unit, id);
    const cfg = this.provider(unit);
    if (!phone || !cfg) throw new Error(`the unit has no ${id} (or no ${this.kind} provider)`);
    const now = this.clock();
    const key = `${cfg.id}|${phone.number}`;
    const at = nextAllowed(this.history.of(key, now), now, limitsOf(cfg, this.kind));
    if (at > now) throw new RetryLater(`${this.kind} to ${maskPhone(phone.number)} waits for the provider's per-number limit`, at);
    const m = { params: d.phone.params, text: d.phone.text, notificationId: d.notificationId };
    const adapter = this.adapter(cfg);
    try {
      await (this.kind === 'sms' ? adapter.sms(phone.number, m) : adapter.call(phone.number, m));
    } catch (e) {
      // the provider's own flow control: try again in a minute rather than at once
      if (e instanceof ProviderError && e.throttled) throw new RetryLater(e.message, now + 60_000);
      throw e;
    }
    this.history.note(key, now);
  }

  private adapter(cfg: ProviderConfig): PhoneProvider {
    let a = this.adapters.get(cfg);
    if (!a) {
      a = cfg.kind === 'aliyun' ? new AliyunProvider(cfg, this.clock) : cfg.kind === 'tencent' ? new TencentProvider(cfg, this.clock) : new HttpGatewayProvider(cfg, this.clock);
      this.adapters.set(cfg, a);
    }
    return a;
  }

  /** who it went to, for the record: the person and a masked number, and the provider */
  target(unit: UnitConfig, id: string): string {
    const phone = this.phoneOf(unit, id);
    if (!phone) return id;
    return [phone.name, maskPhone(phone.number), `via ${this.provider(unit)?.id ?? '?'}`].filter(Boolean).join(' ');
  }
}
