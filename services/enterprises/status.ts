import type { Sql } from '../store/sql.ts';

/**
 * An enterprise's operating status as its regulator sets it: `suspended` under a suspension or
 * rectification order (停产整顿), when it must not produce, else `operating`. Every change is kept
 * with who made it and why; the latest is in force (and in memory, for the rules).
 */
export type EnterpriseStatus = 'operating' | 'suspended';

export interface StatusChange {
  enterpriseId: string;
  status: EnterpriseStatus;
  reason: string;
  by: string;
  at: number;
}

export class EnterpriseStatuses {
  private readonly current = new Map<string, StatusChange>();

  private readonly listeners: ((change?: StatusChange) => void)[] = [];

  private constructor(private readonly conn: Sql) {}

  static async create(conn: Sql): Promise<EnterpriseStatuses> {
    await conn.run(`CREATE TABLE IF NOT EXISTS enterprise_status (enterprise VARCHAR NOT NULL, status VARCHAR NOT NULL,
      reason VARCHAR NOT NULL, by_whom VARCHAR NOT NULL, at_ms BIGINT NOT NULL)`);
    const s = new EnterpriseStatuses(conn);
    await s.reload();
    return s;
  }

  /** Read the statuses again (cluster mode: another node changed one). */
  async reload() {
    this.current.clear();
    for (const r of await this.conn.all<{ enterprise: string; status: EnterpriseStatus; reason: string; by_whom: string; at_ms: number }>('SELECT * FROM enterprise_status ORDER BY at_ms'))
      this.current.set(r.enterprise, { enterpriseId: r.enterprise, status: r.status, reason: r.reason, by: r.by_whom, at: Number(r.at_ms) });
    for (const fn of this.listeners) {
      try {
        fn();
      } catch {
        // the statuses stand whatever a listener does with them
      }
    }
  }

  /** The status in force (operating until a regulator says otherwise). */
  of(enterpriseId: string): StatusChange | { enterpriseId: string; status: 'operating'; reason: null; by: null; at: null } {
    return this.current.get(enterpriseId) ?? { enterpriseId, status: 'operating', reason: null, by: null, at: null };
  }

  suspended(enterpriseId: string): boolean {
    return this.current.get(enterpriseId)?.status === 'suspended';
  }

  async set(change: StatusChange): Promise<void> {
    await this.conn.run('INSERT INTO enterprise_status VALUES ($e, $s, $r, $b, $at)', { e: change.enterpriseId, s: change.status, r: change.reason, b: change.by, at: BigInt(change.at) });
    this.current.set(change.enterpriseId, change);
    for (const fn of this.listeners) {
      try {
        fn(change);
      } catch {
        // the change stands whatever a listener does with it
      }
    }
  }

  /** Heard after every change of status. */
  /** Heard after every change (that one), or after all were read again. */
  onChange(fn: (change?: StatusChange) => void) {
    this.listeners.push(fn);
  }

  /** The enterprises under a suspension order now. */
  suspendedIds(): string[] {
    return [...this.current.values()].filter((c) => c.status === 'suspended').map((c) => c.enterpriseId);
  }

  async history(enterpriseId: string): Promise<StatusChange[]> {
    const rows = await this.conn.all<{ status: EnterpriseStatus; reason: string; by_whom: string; at_ms: number }>('SELECT * FROM enterprise_status WHERE enterprise = $e ORDER BY at_ms', { e: enterpriseId });
    return rows.map((r) => ({ enterpriseId, status: r.status, reason: r.reason, by: r.by_whom, at: Number(r.at_ms) }));
  }
}
