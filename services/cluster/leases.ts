import pg from 'pg';

/**
 * A worker's leases on partitions: PostgreSQL advisory locks held by one session of its own.
 * The session says `idle_session_timeout`: a worker that stops answering (killed, frozen with
 * SIGSTOP, cut off) has its session ended by the server after `leaseS` seconds, and with it every
 * lock it held, so another worker can take its partitions. A live worker keeps the session busy
 * with a heartbeat well inside that time. When the session ends under a live worker (it froze
 * for too long) every lease is gone at once: `onLost` says so, and the worker stops its partitions
 * (their epochs have moved on, so nothing they would still write is accepted anyway).
 */
const LOCK_CLASS = 0x524d; // "RM"

export class Leases {
  private client?: pg.Client;
  private beat?: NodeJS.Timeout;
  private readonly held = new Set<number>();
  private connecting?: Promise<pg.Client>;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly leaseS: number,
    /** every lease was lost at once (the session ended) */
    private readonly onLost: (partitions: number[], why: string) => void,
  ) {}

  /** The partitions this worker holds now. */
  get partitions(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  private async session(): Promise<pg.Client> {
    if (this.client) return this.client;
    return (this.connecting ??= (async () => {
      const c = new pg.Client({ connectionString: this.url, application_name: 'risk-monitor-lease' });
      c.on('error', (err) => this.lose(c, err.message));
      c.on('end', () => this.lose(c, 'the lease session ended'));
      await c.connect();
      await c.query(`SET idle_session_timeout = '${Math.round(this.leaseS * 1000)}ms'`);
      this.client = c;
      clearInterval(this.beat);
      // a third of the lease: two missed beats still keep it
      this.beat = setInterval(() => void this.query(c, 'SELECT 1').catch(() => {}), Math.max(200, (this.leaseS * 1000) / 3));
      this.beat.unref();
      return c;
    })().finally(() => (this.connecting = undefined)));
  }

  /** One statement at a time on the session (the driver queues them, but will not from pg 9 on). */
  private tail: Promise<unknown> = Promise.resolve();
  private query<R extends pg.QueryResultRow>(c: pg.Client, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    const next = this.tail.then(() => c.query<R>(text, values));
    this.tail = next.catch(() => {});
    return next;
  }

  private lose(c: pg.Client, why: string) {
    if (this.client !== c) return;
    this.client = undefined;
    clearInterval(this.beat);
    const lost = this.partitions;
    this.held.clear();
    if (!this.closed && lost.length) this.onLost(lost, why);
  }

  /** Take the lease of a partition if nobody holds it; true when it is now this worker's. */
  async take(partition: number): Promise<boolean> {
    if (this.held.has(partition)) return true;
    const c = await this.session();
    const r = await this.query<{ ok: boolean }>(c, 'SELECT pg_try_advisory_lock($1, $2) AS ok', [LOCK_CLASS, partition]);
    if (r.rows[0]?.ok && this.client === c) this.held.add(partition);
    return this.held.has(partition);
  }

  /** Give a partition up (its work is stopped and committed first). */
  async release(partition: number): Promise<void> {
    if (!this.held.delete(partition)) return;
    const c = this.client;
    if (c) await this.query(c, 'SELECT pg_advisory_unlock($1, $2)', [LOCK_CLASS, partition]).catch(() => {});
  }

  /** The partitions some worker holds a lease on now. */
  async taken(): Promise<Set<number>> {
    const c = await this.session();
    // advisory locks are per database: another cluster's, in another database of the same server, are not ours
    const r = await this.query<{ objid: number }>(
      c,
      `SELECT objid::int AS objid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objsubid = 2 AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [LOCK_CLASS],
    );
    return new Set(r.rows.map((x) => Number(x.objid)));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.beat);
    const c = this.client;
    this.client = undefined;
    this.held.clear();
    await Promise.race([this.tail, new Promise((r) => setTimeout(r, 1000).unref())]);
    await c?.end().catch(() => {});
  }
}
