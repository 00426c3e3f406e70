import { intDiv, type Sql, type SqlParams, type SqlRunner } from '../store/sql.ts';
import type { Alert, Transition } from './model.ts';

/**
 * The changes whose notices are not yet queued, per listener that owes them (`notify`: people,
 * through the outbox; `forward`: upstream platforms, through their uplinks' queues): written with
 * the change, in its transaction, and deleted once its notices are queued (the outbox deletes its
 * own in the transaction that queues them). A kill -9 between the two leaves the line here, and
 * the next start (or a partition's next owner) tells what it owes: a change in the record never
 * loses its notification.
 */
export const OWED_TABLE = 'CREATE TABLE IF NOT EXISTS notices_owed (owed_to VARCHAR NOT NULL, n BIGINT NOT NULL, alert_id VARCHAR NOT NULL, line VARCHAR NOT NULL, alert VARCHAR, PRIMARY KEY (owed_to, n))';
/** tables written before the alert was kept with each owed line: its rows read the alert as it is now */
export const OWED_ALERT_COLUMN = 'ALTER TABLE notices_owed ADD COLUMN IF NOT EXISTS alert VARCHAR';

export type OwedTo = 'notify' | 'forward';

/** Delete what `to` owed for these lines, in the caller's transaction; how many were still owed. */
export async function settleOwed(t: SqlRunner, to: OwedTo, lines: readonly number[]): Promise<number> {
  let settled = 0;
  for (let k = 0; k < lines.length; k += 500) {
    const part = lines.slice(k, k + 500);
    settled += await t.run(`DELETE FROM notices_owed WHERE owed_to = $to AND n IN (${part.map((_, j) => `$n${j}`).join(', ')})`, { to, ...Object.fromEntries(part.map((n, j) => [`n${j}`, n])) });
  }
  return settled;
}

/** A change committed whose notices were never queued. */
export interface OwedChange {
  /** its line in the record */
  n: number;
  /** the alert as this change left it (as the live listeners heard it), not as it is now */
  alert: Alert;
  transition: Transition;
}

/**
 * Alerts and their records, in the embedded database whatever the time-series store is: the
 * record is what a regulator reconstructs an incident from, so it lives with the service.
 */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS alerts (
     id VARCHAR PRIMARY KEY, key VARCHAR NOT NULL, enterprise VARCHAR NOT NULL, device VARCHAR NOT NULL,
     region VARCHAR NOT NULL, industry VARCHAR NOT NULL, severity VARCHAR NOT NULL, state VARCHAR NOT NULL,
     raised_at BIGINT NOT NULL, doc VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS transitions (alert_id VARCHAR NOT NULL, at_ms BIGINT NOT NULL, n BIGINT NOT NULL, doc VARCHAR NOT NULL)`,
  OWED_TABLE,
  OWED_ALERT_COLUMN,
];

export interface AlertFilter {
  state?: 'active' | 'cleared' | 'closed' | 'open' | 'all';
  enterpriseIds?: string[];
  /** region code prefixes; an alert matches if its region starts with any */
  regions?: string[];
  severities?: string[];
  industries?: string[];
  from?: number;
  to?: number;
  limit: number;
  cursor?: { raisedAt: number; id: string };
}

/** Alerts saved before a field existed read back with its neutral value. */
const NEUTRAL = { remindedAt: null, overdueAt: null, flapping: false, pointId: null, pointName: null, feedback: null, review: null, feedbackDueAt: null, feedbackOverdueAt: null };
/** Alerts saved before who was told moved to the outbox carried `units`: that field is not the alert's. */
const readAlert = (doc: string): Alert => {
  const { units: _told, ...alert } = JSON.parse(doc) as Partial<Alert> & { units?: unknown };
  return { ...NEUTRAL, peakSeverity: alert.severity, activatedAt: alert.raisedAt, ...alert } as Alert;
};

/** an alert saved again replaces its row (the row is the alert as it is now) */
const UPDATE_ALL = ['key', 'enterprise', 'device', 'region', 'industry', 'severity', 'state', 'raised_at', 'doc'].map((c) => `${c} = excluded.${c}`).join(', ');
const LINE_TYPES = ['varchar', 'bigint', 'bigint', 'varchar'] as const;
const OWED_TYPES = ['varchar', 'bigint', 'varchar', 'varchar', 'varchar'] as const;

export class AlertStore {
  private n = 0;

  private constructor(private readonly conn: Sql) {}

  static async create(conn: Sql): Promise<AlertStore> {
    for (const s of SCHEMA) await conn.run(s);
    const store = new AlertStore(conn);
    await store.resume();
    return store;
  }

  /**
   * Record lines are numbered in the order they are written (an alert's record is read in that
   * order). A single process numbers them itself, on from the highest number written so far; the
   * processes of a cluster all write, so there a database sequence numbers them.
   */
  async resume() {
    const [row] = await this.conn.all<{ n: number | null }>('SELECT max(n) AS n FROM transitions');
    this.n = Math.max(this.n, Number(row?.n ?? 0));
    if (this.conn.dialect === 'postgres') {
      await this.conn.run('CREATE SEQUENCE IF NOT EXISTS transitions_n');
      await this.conn.run(`SELECT setval('transitions_n', greatest($n, (SELECT last_value FROM transitions_n)))`, { n: Math.max(1, this.n) });
    }
  }

  /** Numbers for `count` lines about to be written, in order. */
  private async numbers(t: SqlRunner, count: number): Promise<number[]> {
    if (this.conn.dialect !== 'postgres') return Array.from({ length: count }, (_, i) => this.n + i + 1);
    const rows = await t.all<{ n: number }>(`SELECT nextval('transitions_n') AS n FROM generate_series(1, $k)`, { k: count });
    return rows.map((r) => Number(r.n)).sort((a, b) => a - b);
  }

  /** The alert's new state and its new record lines, in one transaction. */
  async save(alert: Alert, transitions: Transition[]): Promise<void> {
    await this.saveMany([{ alert, transitions }]);
  }

  /**
   * Several alerts' changes in one transaction: the latest state of each, every record line, and
   * lines that change no alert (notification outcomes), after them. Resolves with the changes'
   * line numbers, in order: each is owed its notices until the outbox settles it.
   *
   * `told`: the alert as the change left it, kept with what the change is owed. Told after a crash
   * with the alert as it is now, a critical reactivation whose alert had since fallen to major went
   * to the enterprise only, not to the township its severity called (an outside probe, kill -9
   * during alarms 20-100 ms apart: 30 such changes)
   */
  saveMany(changes: { alert: Alert; transitions: Transition[]; told?: Alert }[], extra: Transition[] = [], within?: (t: SqlRunner) => Promise<void>): Promise<number[]> {
    const latest = new Map(changes.map((c) => [c.alert.id, c.alert]));
    const lines = [...changes.flatMap((c) => c.transitions), ...extra];
    const docOf = new Map<Alert, string>();
    const doc = (a: Alert) => docOf.get(a) ?? (docOf.set(a, JSON.stringify(a)), docOf.get(a)!);
    const toldAs = changes.flatMap((c) => c.transitions.map(() => c.told ?? c.alert));
    return this.conn.tx(async (t) => {
      // a storm is thousands of changes: a statement per 200 alerts and one bulk insert for the
      // record, not a statement each (each costs a parse and a plan on the main thread). An
      // upsert, though a delete and an append cost half as much: DuckDB 1.5 aborts the whole
      // process when a commit that deleted and appended a key fails (a full disk) and is undone
      // (an internal error in RevertCommit)
      const alerts = [...latest.values()];
      for (let k = 0; k < alerts.length; k += 200) {
        const part = alerts.slice(k, k + 200);
        const params: SqlParams = {};
        const rows = part.map((a, j) => {
          Object.assign(params, { [`id${j}`]: a.id, [`k${j}`]: a.key, [`e${j}`]: a.enterpriseId, [`d${j}`]: a.deviceId, [`r${j}`]: a.region, [`i${j}`]: a.industry, [`s${j}`]: a.severity, [`st${j}`]: a.state, [`t${j}`]: BigInt(a.raisedAt), [`doc${j}`]: doc(a) });
          return `($id${j}, $k${j}, $e${j}, $d${j}, $r${j}, $i${j}, $s${j}, $st${j}, $t${j}, $doc${j})`;
        });
        await t.run(`INSERT INTO alerts VALUES ${rows.join(', ')} ON CONFLICT (id) DO UPDATE SET ${UPDATE_ALL}`, params);
      }
      const numbers = lines.length ? await this.numbers(t, lines.length) : [];
      const docs = lines.map((l) => JSON.stringify(l));
      await t.insert('transitions', LINE_TYPES, lines.map((l, i) => [l.alertId, l.at, numbers[i], docs[i]]));
      const changed = lines.length - extra.length;
      const owedTo = this.owedTo();
      await t.insert('notices_owed', OWED_TYPES, owedTo.flatMap((to) => lines.slice(0, changed).map((l, i) => [to, numbers[i], l.alertId, docs[i], doc(toldAs[i])])));
      // what else must hold or be written with these changes (a cluster's partition: its owner's epoch)
      await within?.(t);
      if (numbers.length) this.n = Math.max(this.n, numbers[numbers.length - 1]);
      return numbers.slice(0, changed);
    });
  }

  /** Who is owed each change's notices (set by whoever opens the store: uplinks only in a single process). */
  owedTo: () => readonly OwedTo[] = () => ['notify'];

  /** The changes still owed their notices by `to`, in the order they were committed. */
  async owed(to: OwedTo): Promise<OwedChange[]> {
    const rows = await this.conn.all<{ n: number; alert: string; line: string }>('SELECT o.n AS n, coalesce(o.alert, a.doc) AS alert, o.line AS line FROM notices_owed o JOIN alerts a ON a.id = o.alert_id WHERE o.owed_to = $to ORDER BY o.n', { to });
    // an object per line: a line owed is told as a change of its own (who was told before it is
    // fixed per change object: the dispatcher's toldBefore)
    return rows.map((r) => ({ n: Number(r.n), alert: readAlert(r.alert), transition: JSON.parse(r.line) as Transition }));
  }

  /** Changes whose notices `to` has queued (in batches: what a crash loses is told again, once more). */
  async settle(to: OwedTo, lines: readonly number[]): Promise<void> {
    // up to 500 lines are one statement, a transaction of its own (one round trip, not three)
    await (lines.length <= 500 ? settleOwed(this.conn, to, lines) : this.conn.tx((t) => settleOwed(t, to, lines)));
  }

  async open(): Promise<Alert[]> {
    const rows = await this.conn.all<{ doc: string }>(`SELECT doc FROM alerts WHERE state <> 'closed'`);
    return rows.map((r) => readAlert(r.doc));
  }

  /** An enterprise's alerts raised within [from, to). */
  async between(enterpriseId: string, from: number, to: number): Promise<Alert[]> {
    const rows = await this.conn.all<{ doc: string }>('SELECT doc FROM alerts WHERE enterprise = $e AND raised_at >= $from AND raised_at < $to', { e: enterpriseId, from: BigInt(from), to: BigInt(to) });
    return rows.map((r) => readAlert(r.doc));
  }

  /**
   * Alerts raised per time bucket, by enterprise, industry and severity. Buckets start at
   * `offsetMs` past a multiple of `bucketMs` (days start at midnight China Standard Time).
   */
  async countsOverTime(q: { from: number; to: number; bucketMs: number; offsetMs: number }) {
    const bucket = `${intDiv(this.conn, 'raised_at + $off', '$b')} * $b - $off`;
    const rows = await this.conn.all<{ bucket: number; enterprise: string; industry: string; severity: string; n: number }>(
      `SELECT ${bucket} AS bucket, enterprise, industry, severity, count(*) AS n
         FROM alerts WHERE raised_at >= $from AND raised_at < $to GROUP BY ${bucket}, enterprise, industry, severity ORDER BY bucket`,
      { b: BigInt(q.bucketMs), off: BigInt(q.offsetMs), from: BigInt(q.from), to: BigInt(q.to) },
    );
    return rows.map((r) => ({ bucket: Number(r.bucket), enterpriseId: r.enterprise, industry: r.industry, severity: r.severity, count: Number(r.n) }));
  }

  async get(id: string): Promise<{ alert: Alert; transitions: Transition[] } | null> {
    const [row] = await this.conn.all<{ doc: string }>('SELECT doc FROM alerts WHERE id = $id', { id });
    if (!row) return null;
    const ts = await this.conn.all<{ doc: string }>('SELECT doc FROM transitions WHERE alert_id = $id ORDER BY n', { id });
    return { alert: readAlert(row.doc), transitions: ts.map((t) => JSON.parse(t.doc) as Transition) };
  }

  async list(f: AlertFilter): Promise<{ items: Alert[]; next: { raisedAt: number; id: string } | null }> {
    const where: string[] = [];
    const params: SqlParams = { limit: f.limit + 1 };
    const state = f.state ?? 'all';
    if (state === 'open') where.push(`state <> 'closed'`);
    else if (state !== 'all') (where.push('state = $state'), (params.state = state));
    // one of several values: (col = $x0 OR col = $x1 …); an empty list matches nothing
    const anyOf = (name: string, values: string[] | undefined, test: (param: string) => string) => {
      if (!values) return;
      if (values.length === 0) return void where.push('false');
      where.push('(' + values.map((v, i) => ((params[`${name}${i}`] = v), test(`$${name}${i}`))).join(' OR ') + ')');
    };
    anyOf('ent', f.enterpriseIds, (p) => `enterprise = ${p}`);
    anyOf('reg', f.regions, (p) => `starts_with(region, ${p})`);
    anyOf('sev', f.severities, (p) => `severity = ${p}`);
    anyOf('ind', f.industries, (p) => `industry = ${p}`);
    if (f.from !== undefined) (where.push('raised_at >= $from'), (params.from = BigInt(f.from)));
    if (f.to !== undefined) (where.push('raised_at < $to'), (params.to = BigInt(f.to)));
    if (f.cursor) {
      where.push('(raised_at < $cts OR (raised_at = $cts AND id < $cid))');
      params.cts = BigInt(f.cursor.raisedAt);
      params.cid = f.cursor.id;
    }
    const rows = await this.conn.all<{ doc: string }>(
      `SELECT doc FROM alerts ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY raised_at DESC, id DESC LIMIT $limit`,
      params,
    );
    const items = rows.map((r) => readAlert(r.doc));
    const more = items.length > f.limit;
    if (more) items.pop();
    const last = items.at(-1);
    return { items, next: more && last ? { raisedAt: last.raisedAt, id: last.id } : null };
  }
}
