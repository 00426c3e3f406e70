import type { AlertJson, TransitionJson } from '../alerts/model.ts';
import type { Silence } from '../alerts/silences.ts';
import { OWED_ALERT_COLUMN, OWED_TABLE, settleOwed } from '../alerts/alert-store.ts';
import type { ColumnType, Sql, SqlParams, SqlRunner } from '../store/sql.ts';

/**
 * The notification outbox: every notification is written here before anything is sent, and
 * stays until it is delivered or given up, so a restart resumes where it stopped.
 */
export type OutboxStatus = 'pending' | 'delivered' | 'expired';

export interface OutboxItem {
  id: string;
  unitId: string;
  /** `email`, or `webhook:<index in the unit's webhooks>` */
  channel: string;
  alertId: string | null;
  /** what is told: an alert change, a silence starting or ending, a daily summary */
  body: NoticeBody;
  createdAt: number;
  /** held until then, so that a unit's notifications group into one digest */
  notBefore: number;
  nextAttemptAt: number;
  attempts: number;
  status: OutboxStatus;
  lastError: string | null;
  deliveredAt: number | null;
  /**
   * Fixed, with the items that go together, before the first attempt to send them: every retry
   * (after a failure or a restart) sends the same items as the same message under the same id.
   */
  notificationId: string | null;
  /**
   * The order notices were queued in, within one run: rows of one millisecond (a raise and its
   * clear) go in that order, not in the order of their random ids.
   */
  seq?: number;
}

/** A unit's channel: its notices go in one lane, one message at a time, in the order queued. */
export const laneOf = (i: { unitId: string; channel: string }) => `${i.unitId}|${i.channel}`;

export type NoticeBody =
  | { notice: 'alert'; alert: AlertJson; transition: TransitionJson }
  | { notice: 'silence'; phase: 'started' | 'ended'; silence: Silence }
  | { notice: 'summary'; title: string; text: string; markdown: string; data: unknown };

/** notices on their way to the outbox table, with what they settle */
interface Adding {
  items: OutboxItem[];
  settles: number[];
  owed: boolean;
  resolve: (written: boolean) => void;
  reject: (e: Error) => void;
}

/**
 * What a write says when another connection's commit took the same key first: DuckDB says it as
 * the statement runs when the other committed after this transaction began ("Duplicate key …
 * violates primary key constraint"), at COMMIT when both were open ("… constraint violation");
 * PostgreSQL waits and then does nothing, or cannot serialize.
 */
const RACED = /duplicate key|violates primary key|constraint violation|conflict|could not serialize/i;

const ROW_TYPES: ColumnType[] = ['varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'bigint', 'bigint', 'bigint', 'integer', 'varchar', 'varchar', 'bigint', 'varchar', 'integer', 'bigint'];
const COLUMNS = 'id, unit_id, channel, alert_id, body, created_at, not_before, next_attempt_at, attempts, status, last_error, delivered_at, notification_id';

export class OutboxStore {
  private constructor(
    private readonly conn: Sql,
    private readonly urgentConn: Sql,
  ) {}

  /**
   * `urgentConn`: a connection of its own for notices that go the moment they are written (a
   * critical raise with nothing to wait for), so they do not queue behind the outbox's other
   * work: the wave of 16 000 notices of a plant gone offline, the reads and updates of its digest.
   */
  static async create(conn: Sql, urgentConn: Sql = conn) {
    await conn.run(`CREATE TABLE IF NOT EXISTS outbox (
      id VARCHAR PRIMARY KEY, unit_id VARCHAR NOT NULL, channel VARCHAR NOT NULL, alert_id VARCHAR, body VARCHAR NOT NULL,
      created_at BIGINT NOT NULL, not_before BIGINT NOT NULL, next_attempt_at BIGINT NOT NULL, attempts INTEGER NOT NULL,
      status VARCHAR NOT NULL, last_error VARCHAR, delivered_at BIGINT)`);
    // outboxes written before notification ids were fixed per group
    await conn.run('ALTER TABLE outbox ADD COLUMN IF NOT EXISTS notification_id VARCHAR');
    // a cluster's partition whose owner sends the notice (null in a single process)
    await conn.run('ALTER TABLE outbox ADD COLUMN IF NOT EXISTS part INTEGER');
    // the order notices were queued in (older rows have none: they sort after, by id)
    await conn.run('ALTER TABLE outbox ADD COLUMN IF NOT EXISTS seq BIGINT');
    // who was told of each alert: written with the notices, kept when they are pruned
    await conn.run('CREATE TABLE IF NOT EXISTS told (alert_id VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, PRIMARY KEY (alert_id, unit_id))');
    await conn.run('INSERT INTO told SELECT DISTINCT alert_id, unit_id FROM outbox WHERE alert_id IS NOT NULL ON CONFLICT DO NOTHING');
    // the record's changes owed their notices: this store settles them (alert-store.ts writes them)
    await conn.run(OWED_TABLE);
    await conn.run(OWED_ALERT_COLUMN);
    return new OutboxStore(conn, urgentConn);
  }

  /** adds waiting while a write runs: the next write takes them all */
  private waiting: Adding[] = [];
  private writing = false;
  /** why the last write failed, while its notices wait to be written again */
  private failing: string | null = null;
  private stopped = false;

  /**
   * The notices and who they tell, in one transaction. Adds that arrive while a write runs go
   * together in the next one: in an alarm storm each change's notices would otherwise cost a
   * transaction of their own, and the notifications of the last wait behind all of them.
   * `settles`: the record's changes (line numbers) these notices are owed for, no longer owed
   * once they are written (a change with nobody to tell settles with no items).
   * `owed`: the notices of changes told again because they were owed (at a start, or by a
   * partition's next owner). They are written only if their changes are still owed when the
   * transaction runs: a change can be read as owed twice (its partition taken over again, or by
   * two owners in turn) while the first telling's write is under way, and it is told once.
   * Resolves true if the notices were written, false if another telling had written them.
   */
  add(items: OutboxItem[], settles: number[] = [], o: { urgent?: boolean; owed?: boolean } = {}): Promise<boolean> {
    if (!items.length && !settles.length) return Promise.resolve(true);
    const owed = (o.owed ?? false) && settles.length > 0;
    // at once on a connection of its own; should that fail, it joins the others and their retries.
    // The earlier notices of its lanes still waiting for the queue's next write go with it: the
    // alarm is sent after them (a lane keeps its order), so it would otherwise wait for that write
    if (o.urgent && this.urgentConn !== this.conn && !this.failing) {
      const lanes = new Set(items.map(laneOf));
      const along = this.waiting.filter((g) => g.items.some((i) => lanes.has(laneOf(i))));
      if (along.length) this.waiting = this.waiting.filter((g) => !along.includes(g));
      return this.write(this.urgentConn, [...along, { items, settles, owed }]).then(
        (written) => (along.forEach((g, k) => g.resolve(written[k])), written[along.length]),
        () => {
          this.waiting.unshift(...along);
          return this.add(items, settles, { owed });
        },
      );
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ items, settles, owed, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  /**
   * A write that fails (a full disk, a database that cannot commit) is tried again every second
   * with everything that came meanwhile: the alert changes behind these notices are already in
   * the record, and their notifications must not be dropped. Only a stopping service gives up.
   */
  private async drain() {
    this.writing = true;
    let raced = 0;
    while (this.waiting.length) {
      const group = this.waiting.splice(0);
      try {
        const written = await this.write(this.conn, group);
        this.failing = null;
        raced = 0;
        group.forEach((g, k) => g.resolve(written[k]));
      } catch (e) {
        // a write that lost a race with an urgent one (both told a unit of the same alert) goes
        // again at once: nothing is wrong with the database
        if (RACED.test((e as Error).message) && raced++ < 3 && !this.stopped) {
          this.waiting.unshift(...group);
          continue;
        }
        this.failing = (e as Error).message;
        if (this.stopped) {
          for (const g of group) g.reject(e as Error);
          continue;
        }
        this.waiting.unshift(...group);
        await new Promise((r) => setTimeout(r, this.retryMs));
      }
    }
    this.writing = false;
  }

  retryMs = 1000;

  /** For health: notices not yet written because writing fails. */
  health(): { ok: boolean; waiting: number; error?: string } {
    const waiting = this.waiting.reduce((n, g) => n + g.items.length, 0);
    return this.failing === null ? { ok: true, waiting } : { ok: false, waiting, error: this.failing };
  }

  /** No more tries after a failure: what cannot be written now is given up (the service stops). */
  stop() {
    this.stopped = true;
  }

  /** Whether each add was written (an owed telling whose changes another telling settled is not). */
  private write(conn: Sql, adds: readonly Omit<Adding, 'resolve' | 'reject'>[]): Promise<boolean[]> {
    return conn.tx(async (t) => {
      await settleOwed(t, 'notify', adds.flatMap((g) => (g.owed ? [] : g.settles)));
      const written: boolean[] = [];
      for (const g of adds) written.push(!g.owed || (await settleOwed(t, 'notify', g.settles)) > 0);
      const items = adds.flatMap((g, k) => (written[k] ? g.items : []));
      await t.insert('outbox', ROW_TYPES, items.map((i) => [i.id, i.unitId, i.channel, i.alertId, JSON.stringify(i.body), i.createdAt, i.notBefore, i.nextAttemptAt, i.attempts, i.status, null, null, i.notificationId, this.partOf?.(i) ?? null, i.seq ?? null]));
      const told = [...new Map(items.filter((i) => i.alertId !== null).map((i) => [`${i.alertId}\n${i.unitId}`, [i.alertId!, i.unitId]])).values()];
      // one statement for every (alert, unit) of the group, in slices the parser takes easily
      for (let k = 0; k < told.length; k += 500) {
        const part = told.slice(k, k + 500);
        await t.run(`INSERT INTO told VALUES ${part.map((_, j) => `($a${j}, $u${j})`).join(', ')} ON CONFLICT DO NOTHING`, Object.fromEntries(part.flatMap(([a, u], j) => [[`a${j}`, a], [`u${j}`, u]])));
      }
      await this.within?.(t, items);
      return written;
    });
  }

  /**
   * What else must hold or be written with a group of notices. Set once, by whoever opens the store.
   */
  within?: (t: SqlRunner, items: OutboxItem[]) => Promise<void>;

  /**
   * In a cluster: the partition whose owner sends a notice (`partOf`), and the partitions this
   * process owns now (`scope`): it sends only theirs. Unset in a single process: it sends all.
   */
  partOf?: (item: OutboxItem) => number;
  scope?: () => readonly number[];

  /** `AND part IN (…)` for a cluster's worker: its own partitions' notices only */
  private mine(params: SqlParams): string {
    if (!this.scope) return '';
    const parts = this.scope();
    if (!parts.length) return ' AND false';
    parts.forEach((p, i) => (params[`part${i}`] = p));
    return ` AND part IN (${parts.map((_, i) => `$part${i}`).join(', ')})`;
  }

  /**
   * Pending items whose time has come. `skip`: rows the caller has in hand already (being
   * delivered), left out before they are read; `except`: units' channels left out (up to 200 of
   * them; beyond, `skip` sorts them out).
   */
  async due(now: number, skip?: (id: string) => boolean, except: { unitId: string; channel: string }[] = []): Promise<OutboxItem[]> {
    const params: SqlParams = { now: BigInt(now) };
    const out = except.length && except.length <= 200 ? ` AND NOT (${except.map((l, j) => ((params[`xu${j}`] = l.unitId), (params[`xc${j}`] = l.channel), `(unit_id = $xu${j} AND channel = $xc${j})`)).join(' OR ')})` : '';
    return this.rows(`SELECT ${COLUMNS} FROM outbox WHERE status = 'pending' AND not_before <= $now AND next_attempt_at <= $now${out}${this.mine(params)} ORDER BY created_at, seq, id`, params, skip);
  }

  /** The units and channels with an item that was tried and waits for its next attempt. */
  async retryingLanes(now: number): Promise<{ unitId: string; channel: string }[]> {
    const params: SqlParams = { now: BigInt(now) };
    const rows = await this.conn.all<{ unit_id: string; channel: string }>(`SELECT DISTINCT unit_id, channel FROM outbox WHERE status = 'pending' AND attempts > 0 AND next_attempt_at > $now${this.mine(params)}`, params);
    return rows.map((r) => ({ unitId: r.unit_id, channel: r.channel }));
  }

  /** Those items, of some units and channels. */
  async retryingIn(lanes: { unitId: string; channel: string }[], now: number): Promise<OutboxItem[]> {
    const out: OutboxItem[] = [];
    for (let k = 0; k < lanes.length; k += 200) {
      const slice = lanes.slice(k, k + 200);
      const params: SqlParams = { now: BigInt(now), ...Object.fromEntries(slice.flatMap((l, j) => [[`u${j}`, l.unitId], [`c${j}`, l.channel]])) };
      const which = slice.map((_, j) => `(unit_id = $u${j} AND channel = $c${j})`).join(' OR ');
      out.push(...(await this.rows(`SELECT ${COLUMNS} FROM outbox WHERE status = 'pending' AND attempts > 0 AND next_attempt_at > $now AND (${which})${this.mine(params)} ORDER BY created_at, seq, id`, params)));
    }
    return out;
  }

  async pending(unitId: string, channel: string): Promise<OutboxItem[]> {
    const params: SqlParams = { u: unitId, c: channel };
    return this.rows(`SELECT ${COLUMNS} FROM outbox WHERE status = 'pending' AND unit_id = $u AND channel = $c${this.mine(params)}`, params);
  }

  async forAlert(alertId: string): Promise<OutboxItem[]> {
    return this.rows(`SELECT ${COLUMNS} FROM outbox WHERE alert_id = $a ORDER BY created_at`, { a: alertId });
  }

  async counts(): Promise<Record<OutboxStatus, number>> {
    const rows = await this.conn.all<{ status: OutboxStatus; n: number }>('SELECT status, count(*) AS n FROM outbox GROUP BY status');
    const out = { pending: 0, delivered: 0, expired: 0 };
    for (const r of rows) out[r.status] = Number(r.n);
    return out;
  }

  /** Per alert, the units queued a notice of it: who was told. */
  async told(alertIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    // in slices, so a long page of alerts does not make one enormous statement
    for (let i = 0; i < alertIds.length; i += 500) {
      const slice = alertIds.slice(i, i + 500);
      const params = Object.fromEntries(slice.map((id, j) => [`a${j}`, id]));
      const rows = await this.conn.all<{ alert_id: string; unit_id: string }>(
        `SELECT alert_id, unit_id FROM told WHERE alert_id IN (${slice.map((_, j) => `$a${j}`).join(', ')}) ORDER BY unit_id`,
        params,
      );
      for (const r of rows) out.set(r.alert_id, [...(out.get(r.alert_id) ?? []), r.unit_id]);
    }
    return out;
  }

  /** Forget notifications delivered or given up before `before` (their outcome is in the alert record; who was told stays). */
  prune(before: number): Promise<number> {
    return this.conn.run(`DELETE FROM outbox WHERE status <> 'pending' AND created_at < $before`, { before: BigInt(before) });
  }

  /** The last delivery to a unit on a channel, to pace the next group. */
  async lastDelivered(unitId: string, channel: string): Promise<number | null> {
    const [r] = await this.conn.all<{ t: number | null }>(`SELECT max(delivered_at) AS t FROM outbox WHERE unit_id = $u AND channel = $c`, { u: unitId, c: channel });
    return r?.t === null || r?.t === undefined ? null : Number(r.t);
  }

  update(ids: string[], change: { status?: OutboxStatus; attempts?: number; nextAttemptAt?: number; lastError?: string | null; deliveredAt?: number; notificationId?: string }): Promise<void> {
    const sets: string[] = [];
    const params: SqlParams = {};
    if (change.status) (sets.push('status = $status'), (params.status = change.status));
    if (change.attempts !== undefined) (sets.push('attempts = $attempts'), (params.attempts = change.attempts));
    if (change.nextAttemptAt !== undefined) (sets.push('next_attempt_at = $next'), (params.next = BigInt(change.nextAttemptAt)));
    if (change.lastError !== undefined) (sets.push('last_error = $err'), (params.err = change.lastError));
    if (change.deliveredAt !== undefined) (sets.push('delivered_at = $at'), (params.at = BigInt(change.deliveredAt)));
    if (change.notificationId !== undefined) (sets.push('notification_id = $nid'), (params.nid = change.notificationId));
    // a statement per slice of ids, not per row: a digest of thousands must not hold the
    // connection (and every other unit's notices behind it) for seconds
    const slices: string[][] = [];
    for (let k = 0; k < ids.length; k += 500) slices.push(ids.slice(k, k + 500));
    const statement = (slice: string[]) => [`UPDATE outbox SET ${sets.join(', ')} WHERE id IN (${slice.map((_, j) => `$id${j}`).join(', ')})`, { ...params, ...Object.fromEntries(slice.map((id, j) => [`id${j}`, id])) }] as const;
    // one statement is a transaction of its own: one round trip, not three (this update stands
    // between a round's message and its lane, and every delivery's outcome queues behind it)
    if (slices.length === 1) return this.conn.run(...statement(slices[0])).then(() => {});
    // several in one transaction: a group's items change together or not at all (a crash between
    // two of them would split a group that must go again exactly as it went)
    return this.conn.tx(async (t) => {
      for (const slice of slices) await t.run(...statement(slice));
    });
  }

  private async rows(sql: string, params: SqlParams, skip?: (id: string) => boolean): Promise<OutboxItem[]> {
    const all = await this.conn.all<Record<string, unknown>>(sql, params);
    // a digest of thousands being delivered is found again by every round until it is done: its
    // bodies are not parsed again
    const rows = skip ? all.filter((r) => !skip(r.id as string)) : all;
    return rows.map((r) => ({
      id: r.id as string,
      unitId: r.unit_id as string,
      channel: r.channel as string,
      alertId: (r.alert_id as string | null) ?? null,
      body: JSON.parse(r.body as string) as NoticeBody,
      createdAt: Number(r.created_at),
      notBefore: Number(r.not_before),
      nextAttemptAt: Number(r.next_attempt_at),
      attempts: Number(r.attempts),
      status: r.status as OutboxStatus,
      lastError: (r.last_error as string | null) ?? null,
      deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
      notificationId: (r.notification_id as string | null) ?? null,
    }));
  }
}
