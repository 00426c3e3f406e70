/**
 * What happens again and again is said at most once a window per key, with how many times it
 * happened since it was last said: a banned address retrying 230 times a second, or every
 * message in flight failing when a store or the pipeline's thread fails, must not write a line
 * each (tens of thousands), nor hold the alarm path behind those writes.
 */
export class Repeats {
  private readonly last = new Map<string, { saidAt: number; unsaid: number }>();

  constructor(
    private readonly windowMs = 60_000,
    /** keys kept at most (keys can come from outside): past it, those said a window ago go, then all */
    private readonly maxKeys = 100_000,
  ) {}

  /** How many times to say now (this one included), or 0 to stay quiet. */
  happened(key: string, now: number): number {
    const r = this.last.get(key);
    if (r && now - r.saidAt < this.windowMs) {
      r.unsaid++;
      return 0;
    }
    this.last.set(key, { saidAt: now, unsaid: 0 });
    if (this.last.size > this.maxKeys) {
      for (const [k, v] of this.last) if (now - v.saidAt >= this.windowMs) this.last.delete(k);
      if (this.last.size > this.maxKeys) this.last.clear();
    }
    return (r?.unsaid ?? 0) + 1;
  }
}
