/** A token bucket per device: `ratePerS` sustained, `burst` at once; excess is refused, not queued. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerS: number,
    private readonly burst: number,
  ) {}

  take(key: string, now: number): boolean {
    const b = this.refill(key, now);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Take a token even if there is none yet: how many ms until it would have been there. */
  reserve(key: string, now: number): number {
    const b = this.refill(key, now);
    b.tokens -= 1;
    return b.tokens >= 0 ? 0 : (-b.tokens / this.ratePerS) * 1000;
  }

  private refill(key: string, now: number) {
    let b = this.buckets.get(key);
    if (b === undefined) this.buckets.set(key, (b = { tokens: this.burst, at: now }));
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.ratePerS);
    b.at = now;
    return b;
  }
}
