import type { UnitConfig } from '../../registry/schema.ts';
import type { Message } from '../message.ts';
import type { PhoneParams } from './providers/phone-provider.ts';

/**
 * A way to reach a unit: e-mail, a webhook (generic JSON, DingTalk or WeCom robot), SMS, voice. The outbox knows channels only through this interface; adding one is a
 * file in this folder and a line in the composition root.
 *
 * A unit's channel is named by an id that the outbox stores with each notification: the kind, and
 * for kinds a unit can have several of, which one (`email`, `webhook:0`, `webhook:1`, `sms:0`).
 */
export interface Delivery {
  /** what people read */
  message: Message;
  /** what machines read: the event, or `{ digest, count, events }` for several */
  event: unknown;
  /** the same for every attempt at the same notification: receivers drop resends by it */
  notificationId: string;
  /** what fits an SMS or a call: template variables and a short text (with the acknowledge link) */
  phone: { params: PhoneParams; text: string };
  /** the link that acknowledges this notification's alerts without a login, when it has one */
  ackLink?: string;
}

/** Not a failure: the channel may not send yet (a provider's per-number limit); try at `retryAt`. */
export class RetryLater extends Error {
  constructor(
    message: string,
    readonly retryAt: number,
  ) {
    super(message);
  }
}

export interface Channel {
  readonly kind: string;
  /** the ids of this kind of channel the unit has (none when it has none, or the channel is off) */
  idsOf(unit: UnitConfig): string[];
  /** resolves when the receiver has it; throws to be tried again later */
  send(unit: UnitConfig, id: string, delivery: Delivery): Promise<void>;
  /** where it went, for the record: never a secret (robot tokens stay out) */
  target(unit: UnitConfig, id: string): string;
  /**
   * the largest body the receiver takes, when it refuses larger ones for good: a group of
   * notices larger than that goes as several messages (pace.ts `bySize`). Absent: no limit, or the
   * channel fits its message itself (a robot's markdown)
   */
  maxBodyBytes?(unit: UnitConfig, id: string): number | undefined;
  close?(): void;
}

/** `webhook:1` → { kind: 'webhook', index: 1 }; `email` → { kind: 'email', index: 0 } */
export function parseChannelId(id: string): { kind: string; index: number } {
  const i = id.indexOf(':');
  if (i < 0) return { kind: id, index: 0 };
  const index = Number(id.slice(i + 1));
  return { kind: id.slice(0, i), index: Number.isSafeInteger(index) && index >= 0 ? index : -1 };
}

/** The channels the service has, by kind. */
export class Channels {
  private readonly byKind = new Map<string, Channel>();

  constructor(channels: Channel[]) {
    for (const c of channels) this.byKind.set(c.kind, c);
  }

  /** every channel id of the unit, of every kind */
  idsOf(unit: UnitConfig): string[] {
    return [...this.byKind.values()].flatMap((c) => c.idsOf(unit));
  }

  /** the channel ids of the unit for what is read at a desk (reports, summaries): not phones */
  writtenIdsOf(unit: UnitConfig): string[] {
    return [...this.byKind.values()].filter((c) => c.kind !== 'sms' && c.kind !== 'voice').flatMap((c) => c.idsOf(unit));
  }

  /** the largest body the unit's receiver on this channel takes (undefined: no limit) */
  maxBodyBytes(unit: UnitConfig, id: string): number | undefined {
    return this.of(id)?.maxBodyBytes?.(unit, id);
  }

  /** the channel behind an id, or undefined for a kind the service does not have (any longer) */
  of(id: string): Channel | undefined {
    return this.byKind.get(parseChannelId(id).kind);
  }

  close() {
    for (const c of this.byKind.values()) c.close?.();
  }
}
