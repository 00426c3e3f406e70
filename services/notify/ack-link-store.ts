import type { Sql } from '../store/sql.ts';

/**
 * Acknowledge links handed out in notifications: which alerts a link acknowledges, to whom it was
 * sent, until when it holds and whether it was used. A link is used once: the first use wins.
 */
export interface AckLinkRow {
  id: string;
  alertIds: string[];
  unitId: string;
  /** the person or address it went to, as the record may show it (a masked phone number) */
  recipient: string;
  channel: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

export class AckLinkStore {
  private constructor(private readonly conn: Sql) {}

  static async create(conn: Sql) {
    await conn.run(`CREATE TABLE IF NOT EXISTS ack_links (
      id VARCHAR PRIMARY KEY, alert_ids VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, recipient VARCHAR NOT NULL,
      channel VARCHAR NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT)`);
    return new AckLinkStore(conn);
  }

  /** A link is made once per notification and recipient: a resend keeps the first one (and its expiry). */
  add(r: Omit<AckLinkRow, 'usedAt'>): Promise<void> {
    return this.conn
      .run('INSERT INTO ack_links VALUES ($id, $a, $u, $r, $ch, $c, $e, NULL) ON CONFLICT DO NOTHING', {
        id: r.id,
        a: JSON.stringify(r.alertIds),
        u: r.unitId,
        r: r.recipient,
        ch: r.channel,
        c: BigInt(r.createdAt),
        e: BigInt(r.expiresAt),
      })
      .then(() => {});
  }

  get(id: string): Promise<AckLinkRow | undefined> {
    return this.conn.all('SELECT * FROM ack_links WHERE id = $id', { id }).then((rows) => (rows.length ? rowOf(rows[0]) : undefined));
  }

  /**
   * Marks the link used; false when it was used already (two taps at once: one wins). Counted by
   * rows changed, not `RETURNING`: DuckDB 1.5 aborts the whole process when an `UPDATE … RETURNING`
   * on a table with a key fails to commit (a full disk), and takes the gateway with it.
   */
  markUsed(id: string, at: number): Promise<boolean> {
    return this.conn.run('UPDATE ack_links SET used_at = $at WHERE id = $id AND used_at IS NULL', { id, at: BigInt(at) }).then((n) => n === 1);
  }

  /** Links long expired leave with the outbox's retention. */
  prune(before: number): Promise<void> {
    return this.conn.run('DELETE FROM ack_links WHERE expires_at < $b', { b: BigInt(before) }).then(() => {});
  }
}

function rowOf(r: Record<string, unknown>): AckLinkRow {
  return {
    id: String(r.id),
    alertIds: JSON.parse(String(r.alert_ids)) as string[],
    unitId: String(r.unit_id),
    recipient: String(r.recipient),
    channel: String(r.channel),
    createdAt: Number(r.created_at),
    expiresAt: Number(r.expires_at),
    usedAt: r.used_at === null ? null : Number(r.used_at),
  };
}
