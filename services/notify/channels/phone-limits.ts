import type { ProviderConfig } from '../../registry/schema.ts';

/**
 * The flow control SMS and voice providers put on one number, so that a message we know would be
 * refused waits instead (and the record says why). Windows are rolling; the defaults are the
 * providers' documented defaults (README: "SMS and voice"), and a deployment whose limits were
 * raised in the provider's console says so in `perNumber`.
 */
export interface PerNumber {
  perMinute?: number;
  perHour?: number;
  perDay?: number;
}

const DEFAULTS: Record<ProviderConfig['kind'], Record<'sms' | 'voice', PerNumber>> = {
  // Alibaba Cloud: notification SMS ≤ 50 a day per number and template; voice 1/min, 5/h, 20/day
  aliyun: { sms: { perDay: 50 }, voice: { perMinute: 1, perHour: 5, perDay: 20 } },
  // Tencent Cloud: 1 per 30 s for the same content, 2 a day per number unless raised in the console
  tencent: { sms: { perDay: 2 }, voice: {} },
  http: { sms: {}, voice: {} },
};

export function limitsOf(p: ProviderConfig, kind: 'sms' | 'voice'): PerNumber {
  return p.perNumber ?? DEFAULTS[p.kind][kind];
}

const WINDOWS = [
  ['perMinute', 60_000],
  ['perHour', 3_600_000],
  ['perDay', 86_400_000],
] as const;

/** When the next message to a number may go, given when the last ones went (0: now). */
export function nextAllowed(sent: readonly number[], now: number, limits: PerNumber): number {
  let at = 0;
  for (const [name, ms] of WINDOWS) {
    const max = limits[name];
    if (!max) continue;
    const within = sent.filter((t) => t > now - ms).sort((a, b) => a - b);
    // the oldest of the last `max` must leave the window first
    if (within.length >= max) at = Math.max(at, within[within.length - max] + ms);
  }
  return at;
}

/** Keeps the send times of the last day per number (in memory: a restart forgets, the provider does not). */
export class NumberHistory {
  private readonly sent = new Map<string, number[]>();

  of(key: string, now: number): number[] {
    const list = (this.sent.get(key) ?? []).filter((t) => t > now - 86_400_000);
    this.sent.set(key, list);
    return list;
  }

  note(key: string, at: number) {
    this.of(key, at).push(at);
  }
}
