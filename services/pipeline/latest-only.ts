/**
 * Work of which only the latest asked matters, run one at a time: what is asked while a run is
 * under way waits, and of all that waited only the last asked runs next; every ask resolves once
 * a run that covers it (its own or a later one) is done. The pipeline takes each new registry so:
 * a run recompiles every device's rules on the pipeline thread, and at 10 000 devices an
 * enterprise registering devices back to back queued registries faster than the thread compiled
 * them, with every reading behind them (an outside probe: PUBACKs held 93 s, alarms 63 s).
 */
export class LatestOnly<T> {
  private next: { value: T; done: (() => void)[] } | undefined;
  private running = false;

  constructor(private readonly run: (value: T) => Promise<void>) {}

  ask(value: T): Promise<void> {
    return new Promise((resolve) => {
      if (this.next) (this.next.value = value), this.next.done.push(resolve);
      else this.next = { value, done: [resolve] };
      if (!this.running) void this.drain();
    });
  }

  private async drain() {
    this.running = true;
    while (this.next) {
      const { value, done } = this.next;
      this.next = undefined;
      // a run that fails is the runner's to tell: whoever waited goes on as after any run
      await this.run(value).catch(() => {});
      for (const d of done) d();
    }
    this.running = false;
  }
}
