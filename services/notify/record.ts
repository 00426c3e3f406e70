import type { Transition } from '../alerts/model.ts';
import type { UnitConfig } from '../registry/schema.ts';
import type { OutboxItem } from './outbox-store.ts';

/**
 * The record stage: every outcome of a notification (delivered, failed, given up) becomes a line
 * in the record of each alert it carried; and a unit's channel failing again and again is news
 * for the operators, as is its recovery.
 */
export function outcomeLines(items: OutboxItem[], line: Pick<Transition, 'type' | 'detail'>, at: number): Transition[] {
  // one line per alert: a message carrying two changes of one alert (raised, then rose) was one message
  const alerts = [...new Set(items.flatMap((i) => (i.alertId === null ? [] : [i.alertId])))];
  return alerts.map((alertId) => ({ alertId, at, actor: 'system', ...line }));
}

/** The record gets a failure's first attempt, then every fifth, so a long outage does not drown it. */
export const worthRecording = (attempts: number) => attempts === 1 || attempts % 5 === 0;

export class ChannelHealth {
  private readonly failures = new Map<string, number>();
  /** channels delivered to since the start */
  private readonly seen = new Set<string>();

  /**
   * `alertOpen`: whether the channel's failing alert is open, asked at a channel's first delivery
   * since the start. The counts are this process's: an alert raised before a restart was never
   * cleared, however well its channel delivered after it (an outside probe, kill -9 while a
   * receiver failed).
   */
  constructor(
    private readonly failuresBeforeAlert: number,
    private readonly onChange: (unit: UnitConfig, channel: string, failing: boolean, error?: string) => void,
    private readonly alertOpen: (unit: UnitConfig, channel: string) => boolean = () => false,
  ) {}

  failed(unit: UnitConfig, channel: string, error: string) {
    const key = `${unit.id}|${channel}`;
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    if (n === this.failuresBeforeAlert) this.onChange(unit, channel, true, error);
  }

  /**
   * Notices expired undelivered: the channel is failing, whatever was delivered between (a
   * receiver that refuses only its larger messages never failed three times in a row, and the
   * notices it refused were lost without a word to the operators). The next delivery clears it.
   */
  expired(unit: UnitConfig, channel: string, count: number) {
    const key = `${unit.id}|${channel}`;
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, Math.max(n, this.failuresBeforeAlert));
    if (n < this.failuresBeforeAlert) this.onChange(unit, channel, true, `${count} notices expired undelivered`);
  }

  /** the channel is no longer the unit's: whatever it was failing, it no longer is anybody's problem */
  gone(unit: UnitConfig, channel: string) {
    this.delivered(unit, channel);
  }

  delivered(unit: UnitConfig, channel: string) {
    const key = `${unit.id}|${channel}`;
    const first = !this.seen.has(key);
    this.seen.add(key);
    if ((this.failures.get(key) ?? 0) >= this.failuresBeforeAlert || (first && this.alertOpen(unit, channel))) this.onChange(unit, channel, false);
    this.failures.delete(key);
  }
}
