import type { Sql, SqlParams } from '../store/sql.ts';
import type { Hazard, HazardEvent, HazardStep } from './hazard.ts';

/** Rectification items and their record, beside the alerts in the service's own database. */
export class HazardStore {
  private constructor(private readonly conn: Sql) {}

  static async create(conn: Sql): Promise<HazardStore> {
    await conn.run(`CREATE TABLE IF NOT EXISTS hazards (id VARCHAR PRIMARY KEY, enterprise VARCHAR NOT NULL, region VARCHAR NOT NULL,
      state VARCHAR NOT NULL, due_at BIGINT NOT NULL, opened_at BIGINT NOT NULL, doc VARCHAR NOT NULL)`);
    await conn.run('CREATE TABLE IF NOT EXISTS hazard_events (hazard_id VARCHAR NOT NULL, at_ms BIGINT NOT NULL, doc VARCHAR NOT NULL)');
    return new HazardStore(conn);
  }

  /** The item's new state and its record line, in one transaction. */
  save({ hazard: h, event }: HazardStep): Promise<void> {
    return this.conn.tx(async (t) => {
      await t.run(
        'INSERT INTO hazards VALUES ($id, $e, $r, $s, $due, $opened, $doc) ON CONFLICT (id) DO UPDATE SET enterprise = excluded.enterprise, region = excluded.region, state = excluded.state, due_at = excluded.due_at, opened_at = excluded.opened_at, doc = excluded.doc',
        { id: h.id, e: h.enterpriseId, r: h.region, s: h.state, due: BigInt(h.dueAt), opened: BigInt(h.openedAt), doc: JSON.stringify(h) },
      );
      await t.run('INSERT INTO hazard_events VALUES ($id, $at, $doc)', { id: h.id, at: BigInt(event.at), doc: JSON.stringify(event) });
    });
  }

  async get(id: string): Promise<{ hazard: Hazard; events: HazardEvent[] } | undefined> {
    const [row] = await this.conn.all<{ doc: string }>('SELECT doc FROM hazards WHERE id = $id', { id });
    if (!row) return undefined;
    const events = await this.conn.all<{ doc: string }>('SELECT doc FROM hazard_events WHERE hazard_id = $id ORDER BY at_ms', { id });
    return { hazard: JSON.parse(row.doc) as Hazard, events: events.map((e) => JSON.parse(e.doc) as HazardEvent) };
  }

  /** Items of these enterprises, newest first; `state` open (not closed), overdue, closed or all. */
  async list(q: { enterpriseIds: string[]; state: 'open' | 'overdue' | 'closed' | 'all'; now: number; limit: number }): Promise<Hazard[]> {
    if (!q.enterpriseIds.length) return [];
    const params: SqlParams = Object.fromEntries(q.enterpriseIds.map((id, i) => [`e${i}`, id]));
    const where = [`enterprise IN (${q.enterpriseIds.map((_, i) => `$e${i}`).join(', ')})`];
    if (q.state === 'open') where.push(`state <> 'closed'`);
    if (q.state === 'closed') where.push(`state = 'closed'`);
    if (q.state === 'overdue') (where.push(`state <> 'closed' AND due_at <= $now`), (params.now = BigInt(q.now)));
    params.limit = q.limit;
    const rows = await this.conn.all<{ doc: string }>(`SELECT doc FROM hazards WHERE ${where.join(' AND ')} ORDER BY opened_at DESC LIMIT $limit`, params);
    return rows.map((r) => JSON.parse(r.doc) as Hazard);
  }

  /** Items not signed off whose deadline has passed and that were not found overdue yet. */
  async due(now: number): Promise<Hazard[]> {
    const rows = await this.conn.all<{ doc: string }>(`SELECT doc FROM hazards WHERE state <> 'closed' AND due_at <= $now`, { now: BigInt(now) });
    return rows.map((r) => JSON.parse(r.doc) as Hazard).filter((h) => h.overdueAt === null);
  }
}
