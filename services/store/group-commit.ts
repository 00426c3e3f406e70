/**
 * The group commit both telemetry stores use: what is added within `maxWaitMs` (or until
 * `maxSize` units are waiting) is written in one go, and each caller's promise settles with that
 * write. Writes run one after another, in the order their groups closed.
 */
export class GroupCommit<T> {
  private queue: { item: T; since: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private size = 0;
  private timer?: NodeJS.Timeout;
  private tail: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (items: T[]) => Promise<void>,
    private readonly opts: { maxWaitMs: number; maxSize: number },
  ) {}

  /** Resolves once `item` is written; rejects with the write's error. */
  add(item: T, size: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, since: Date.now(), resolve, reject });
      this.size += size;
      if (this.size >= this.opts.maxSize) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.opts.maxWaitMs);
    });
  }

  /** Units waiting for the next write, and since when the oldest has waited (for health). */
  get waiting(): { size: number; since: number | undefined } {
    return { size: this.size, since: this.queue[0]?.since };
  }

  /** Close the group now; resolves when it (and every group before it) has been written. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const group = this.queue;
    this.queue = [];
    this.size = 0;
    this.tail = this.tail.then(async () => {
      if (!group.length) return;
      try {
        await this.write(group.map((g) => g.item));
        for (const g of group) g.resolve();
      } catch (e) {
        for (const g of group) g.reject(e as Error);
      }
    });
    return this.tail;
  }
}
