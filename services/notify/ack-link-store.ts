import type { SerialConnection } from '../store/database.ts';

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
  private constructor(private readonly conn: SerialConnection) {}

  static async create(conn: SerialConnection) {
    await conn.run(`CREATE TABLE IF NOT EXISTS ack_links (
      id VARCHAR PRIMARY KEY, alert_ids VARCHAR NOT NULL, unit_id VARCHAR NOT NULL, recipient VARCHAR NOT NULL,
      channel VARCHAR NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL, used_at BIGINT)`);
    return new AckLinkStore(conn);
  }

  /** A link is made once per notification and recipient: a resend keeps the first one (and its expiry). */
  add(r: Omit<AckLinkRow, 'usedAt'>): Promise<void> {
    return this.conn.serial(async (c) => {
      await c.run('INSERT OR IGNORE INTO ack_links VALUES ($id, $a, $u, $r, $ch, $c, $e, NULL)', {
        id: r.id,
        a: JSON.stringify(r.alertIds),
        u: r.unitId,
        r: r.recipient,
        ch: r.channel,
        c: r.createdAt,
        e: r.expiresAt,
      });
    });
  }

  get(id: string): Promise<AckLinkRow | undefined> {
    return this.conn.serial(async (c) => {
      const rows = (await c.runAndReadAll('SELECT * FROM ack_links WHERE id = $id', { id })).getRowObjects();
      return rows.length ? rowOf(rows[0]) : undefined;
    });
  }

  /** Marks the link used; false when it was used already (two taps at once: one wins). */
  markUsed(id: string, at: number): Promise<boolean> {
    return this.conn.serial(async (c) => {
      const rows = (await c.runAndReadAll('UPDATE ack_links SET used_at = $at WHERE id = $id AND used_at IS NULL RETURNING id', { id, at })).getRowObjects();
      return rows.length === 1;
    });
  }

  /** Links long expired leave with the outbox's retention. */
  prune(before: number): Promise<void> {
    return this.conn.serial(async (c) => void (await c.run('DELETE FROM ack_links WHERE expires_at < $b', { b: before })));
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
