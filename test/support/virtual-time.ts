import type { FleetTime } from '../../simulators/fleet.ts';

/**
 * A clock and timers that move only when a test says so. `advance` runs the timers that fall
 * due in order, each at its own time, and lets the world settle (every message answered, every
 * alert recorded) before the next: a minute of plant time takes as long as its work, and runs
 * the same way every time.
 */
export class VirtualTime implements FleetTime {
  private timers: { at: number; n: number; fn: () => void }[] = [];
  private n = 0;

  constructor(private current: number) {
    this.current = Math.round(current);
  }

  readonly now = () => this.current;

  setTimeout(fn: () => void, ms: number): unknown {
    // whole milliseconds, as a real clock gives
    const timer = { at: this.current + Math.max(0, Math.round(ms)), n: ++this.n, fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown) {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Move `ms` on; after each step (and once at the end) `settle` runs. */
  async advance(ms: number, settle: () => Promise<void>): Promise<void> {
    const until = this.current + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at || a.n - b.n);
      if (!due.length) break;
      // every timer due at this instant runs, then the world settles
      const at = due[0].at;
      this.current = Math.max(this.current, at);
      for (const t of due.filter((d) => d.at === at)) {
        this.timers = this.timers.filter((x) => x !== t);
        t.fn();
      }
      await settle();
    }
    this.current = until;
    await settle();
  }
}
