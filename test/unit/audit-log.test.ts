import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../../services/audit/audit-log.ts';
import { Database, type SerialConnection } from '../../services/store/database.ts';
import { DuckSql } from '../../services/store/duckdb-sql.ts';
import { tempDir } from '../support/app.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The audit trail keeps everything it was given, in order, also when a write fails (a full disk):
 * the failed batch is written again with what came meanwhile, and the chain verifies.
 */
describe('the audit trail under a failing write', () => {
  let db: Database;
  let conn: SerialConnection;
  beforeEach(async () => {
    db = await Database.open(await tempDir());
    conn = await db.connect();
  });
  afterEach(() => db.close());

  it('writes a batch again after its write failed, before what came after it', async () => {
    const log = await AuditLog.create(new DuckSql(conn));
    const serial = conn.serial.bind(conn);
    let failures = 1;
    // the next write's appender cannot be made, as on a full disk
    conn.serial = ((fn: Parameters<SerialConnection['serial']>[0]) =>
      serial((c) =>
        fn(
          failures-- > 0
            ? (new Proxy(c, { get: (t, k) => (k === 'createAppender' ? async () => Promise.reject(new Error('IO Error: No space left on device')) : (Reflect.get(t, k) as Function).bind?.(t) ?? Reflect.get(t, k)) }) as typeof c)
            : c,
        ),
      )) as SerialConnection['serial'];
    const entry = (action: string) => ({ at: 1, actor: 'op', action, subject: 'a1', detail: null });
    await expect(log.append(entry('alert.acknowledged'))).rejects.toThrow('No space');
    expect(log.failing).toContain('No space');
    const later = log.append(entry('alert.closed'));
    await later.catch(() => {});
    await waitFor(async () => (await log.head()).n === 2, 5000, 'both entries written');
    const rows = await conn.all<{ n: bigint; action: string }>('SELECT n, action FROM audit ORDER BY n');
    expect(rows.map((r) => r.action)).toEqual(['alert.acknowledged', 'alert.closed']);
    expect((await log.verify()).ok).toBe(true);
    expect(log.failing).toBeNull();
    log.close();
  });
});
