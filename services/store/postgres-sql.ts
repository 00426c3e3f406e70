import pg from 'pg';
import { positional, type ColumnType, type Row, type Sql, type SqlParams, type SqlRunner, type SqlValue } from './sql.ts';

/**
 * The stores' SQL over PostgreSQL, which a cluster's processes share (`PG_URL`). A pool of
 * connections: statements outside a transaction take any connection; a transaction holds one
 * until it ends.
 */

/** 64-bit integers come back as numbers (milliseconds and counters, far below 2^53), not strings. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** The driver takes 64-bit integers as text; PostgreSQL reads them by the column they meet. */
const value = (v: SqlValue) => (typeof v === 'bigint' ? v.toString() : v);

/** PostgreSQL takes at most 65 535 parameters in one statement. */
const MAX_PARAMS = 30_000;

export class PgSql implements Sql {
  readonly dialect = 'postgres' as const;
  private closed = false;

  constructor(readonly pool: pg.Pool) {}

  static connect(url: string, opts: { max?: number; application?: string } = {}): PgSql {
    const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 8, application_name: opts.application ?? 'risk-monitor', types });
    // a connection lost while idle (the server restarted) is replaced at the next use; without a
    // listener the pool's error would end the process
    pool.on('error', () => {});
    return new PgSql(pool);
  }

  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return on(this.pool).all<T>(sql, params);
  }

  run(sql: string, params?: SqlParams): Promise<number> {
    return on(this.pool).run(sql, params);
  }

  insert(table: string, types: readonly ColumnType[], rows: readonly SqlValue[][]): Promise<void> {
    return on(this.pool).insert(table, types, rows);
  }

  async tx<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the database connection is closed');
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      const out = await fn(on(client));
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw e;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** Statements on a pool (any connection) or on the connection of a transaction. */
function on(q: Pick<pg.Pool, 'query'> | pg.PoolClient): SqlRunner {
  const query = (text: string, values: unknown[]) => (q as pg.Pool).query({ text, values });
  return {
    async all<T>(sql: string, params?: SqlParams) {
      const { text, values } = positional(sql, params);
      return (await query(text, values.map(value))).rows as T[];
    },
    async run(sql: string, params?: SqlParams) {
      const { text, values } = positional(sql, params);
      return (await query(text, values.map(value))).rowCount ?? 0;
    },
    async insert(table: string, types: readonly ColumnType[], rows: readonly SqlValue[][]) {
      const width = types.length;
      const per = Math.max(1, Math.floor(MAX_PARAMS / width));
      for (let k = 0; k < rows.length; k += per) {
        const part = rows.slice(k, k + per);
        const values: unknown[] = [];
        const tuples = part.map((row) => `(${types.map((_, i) => (values.push(value(row[i] ?? null)), `$${values.length}`)).join(', ')})`);
        await query(`INSERT INTO ${table} VALUES ${tuples.join(', ')}`, values);
      }
    },
  };
}
