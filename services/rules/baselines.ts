import type { Sql, SqlParams } from '../store/sql.ts';

/**
 * Baselines for deviation rules (the filter pressure difference after a bag change), set through
 * the API. Every setting is kept, with who set it and why, so the record shows what the
 * deviation was measured against at any time.
 */
export interface Baseline {
  enterpriseId: string;
  deviceId: string;
  metric: string;
  value: number;
  at: number;
  by: string;
  note: string | null;
}

export class BaselineStore {
  private constructor(private readonly conn: Sql) {}

  static async create(conn: Sql) {
    await conn.run(`CREATE TABLE IF NOT EXISTS baselines (enterprise VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL,
      value FLOAT8 NOT NULL, at_ms BIGINT NOT NULL, by_whom VARCHAR NOT NULL, note VARCHAR)`);
    return new BaselineStore(conn);
  }

  async add(b: Baseline): Promise<void> {
    await this.conn.run('INSERT INTO baselines VALUES ($e, $d, $m, $v, $at, $by, $note)', {
      e: b.enterpriseId,
      d: b.deviceId,
      m: b.metric,
      v: b.value,
      at: BigInt(b.at),
      by: b.by,
      note: b.note,
    });
  }

  /** The baseline in force per device and metric. */
  async current(): Promise<Baseline[]> {
    return this.rows(`SELECT DISTINCT ON (device, metric) * FROM baselines ORDER BY device, metric, at_ms DESC`);
  }

  async history(deviceId: string): Promise<Baseline[]> {
    return this.rows('SELECT * FROM baselines WHERE device = $d ORDER BY at_ms DESC', { d: deviceId });
  }

  private async rows(sql: string, params?: SqlParams): Promise<Baseline[]> {
    const rows = await this.conn.all<{ enterprise: string; device: string; metric: string; value: number; at_ms: number; by_whom: string; note: string | null }>(sql, params);
    return rows.map((r) => ({ enterpriseId: r.enterprise, deviceId: r.device, metric: r.metric, value: r.value, at: Number(r.at_ms), by: r.by_whom, note: r.note }));
  }
}
