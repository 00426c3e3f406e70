import type { DuckDBAppender, DuckDBConnection, DuckDBMaterializedResult, DuckDBPreparedStatement, DuckDBValue } from '@duckdb/node-api';
import { duckdb } from './duckdb-package.ts';
import { inOrder, placeholders, type ColumnType, type Row, type Sql, type SqlParams, type SqlRunner, type SqlValue } from './sql.ts';

/**
 * The stores' SQL over one connection to the embedded DuckDB file. Statements on a connection run
 * one after another (SerialConnection); a transaction holds the connection until it ends, so
 * nothing of another caller lands inside it.
 */
/** A connection whose work runs one piece at a time (database.ts's SerialConnection). */
export interface SerialDuckConnection {
  serial<T>(fn: (c: DuckDBConnection) => Promise<T> | T): Promise<T>;
  close(): Promise<void>;
}

export class DuckSql implements Sql {
  readonly dialect = 'duckdb' as const;
  private readonly prepared = new PreparedStatements();
  private readonly appenders = new Appenders();

  constructor(private readonly conn: SerialDuckConnection) {}

  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]> {
    return this.conn.serial((c) => on(c, this.prepared, this.appenders).all<T>(sql, params));
  }

  run(sql: string, params?: SqlParams): Promise<number> {
    return this.conn.serial((c) => on(c, this.prepared, this.appenders).run(sql, params));
  }

  insert(table: string, types: readonly ColumnType[], rows: readonly SqlValue[][]): Promise<void> {
    return this.conn.serial((c) => on(c, this.prepared, this.appenders).insert(table, types, rows));
  }

  tx<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T> {
    return this.conn.serial(async (c) => {
      await c.run('BEGIN TRANSACTION');
      try {
        const out = await fn(on(c, this.prepared, this.appenders));
        await c.run('COMMIT');
        return out;
      } catch (e) {
        await c.run('ROLLBACK').catch(() => {});
        // what they held went with the transaction; new ones for the next
        this.appenders.dropAll();
        throw e;
      }
    });
  }

  async close(): Promise<void> {
    await this.conn.serial(() => this.appenders.dropAll()).catch(() => {});
    // the connection destroys what was prepared on it as it closes (node-api keeps their list)
    return this.conn.close();
  }
}

/**
 * Statements with parameters, kept prepared per connection: the stores repeat a few dozen of them
 * (an alert record's commit runs the same upserts each time), and parsing and planning one again
 * cost about as much as running it. Bounded, since a statement built for a list of ids has a text
 * of its own for each length; the one used longest ago goes first.
 *
 * Parameters are bound by number: DuckDB finds a named one by going through every name of the
 * statement, so an alert commit's upsert of 200 alerts (2 000 names) made two million string
 * comparisons, a fifth of the alert book's CPU in its tests.
 */
interface Prepared {
  statement: DuckDBPreparedStatement;
  /** the parameter names, in the order of their numbers */
  names: string[];
}

class PreparedStatements {
  private readonly kept = new Map<string, Prepared>();

  constructor(private readonly max = 200) {}

  async of(c: DuckDBConnection, sql: string): Promise<Prepared> {
    let p = this.kept.get(sql);
    if (p) {
      this.kept.delete(sql);
    } else {
      const { text, names } = placeholders(sql);
      p = { statement: await c.prepare(text), names };
      if (this.kept.size >= this.max) {
        const [oldest, { statement }] = this.kept.entries().next().value!;
        this.kept.delete(oldest);
        statement.destroySync();
      }
    }
    this.kept.set(sql, p);
    return p;
  }
}

/**
 * An appender per table, kept on the connection: opening one is a call off the thread, and the
 * caller waits a turn of the event loop for its answer (under full load, 5-40 ms, twice in each
 * commit of the alert record). Rows flushed inside a transaction are the transaction's. One that
 * failed, or whose transaction was rolled back, is dropped.
 */
class Appenders {
  private readonly kept = new Map<string, DuckDBAppender>();

  async of(c: DuckDBConnection, table: string): Promise<DuckDBAppender> {
    let a = this.kept.get(table);
    if (!a) this.kept.set(table, (a = await c.createAppender(table)));
    return a;
  }

  drop(table: string): void {
    const a = this.kept.get(table);
    this.kept.delete(table);
    try {
      a?.closeSync();
    } catch {
      // an appender that failed may refuse to close: it is let go either way
    }
  }

  dropAll(): void {
    for (const table of [...this.kept.keys()]) this.drop(table);
  }
}

/**
 * A result's rows as objects, BIGINTs as numbers. Read from its chunks where they are: the result
 * is materialized, and node-api's own reading fetches each chunk with a call off the thread (a
 * query waited three turns of the main event loop for its answer, not one).
 */
function rowsOf(result: DuckDBMaterializedResult): Record<string, unknown>[] {
  const names = result.deduplicatedColumnNames();
  const rows: Record<string, unknown>[] = [];
  for (let c = 0; c < result.chunkCount; c++)
    for (const values of result.getChunk(c).convertRows(duckdb.JSDuckDBValueConverter)) {
      const row: Record<string, unknown> = {};
      for (let i = 0; i < names.length; i++) row[names[i]] = typeof values[i] === 'bigint' ? Number(values[i]) : values[i];
      rows.push(row);
    }
  return rows;
}

/** Statements straight on the connection (the caller holds it). */
function on(c: DuckDBConnection, prepared: PreparedStatements, appenders: Appenders): SqlRunner {
  const execute = async (sql: string, params?: SqlParams) => {
    if (!params) return c.run(sql);
    const { statement, names } = await prepared.of(c, sql);
    statement.clearBindings();
    statement.bind(inOrder(names, params) as DuckDBValue[]);
    return statement.run();
  };
  return {
    async all<T>(sql: string, params?: SqlParams) {
      return rowsOf(await execute(sql, params)) as T[];
    },
    async run(sql: string, params?: SqlParams) {
      return Number((await execute(sql, params)).rowsChanged);
    },
    async insert(table: string, types: readonly ColumnType[], rows: readonly SqlValue[][]) {
      if (!rows.length) return;
      // the appender takes a batch of thousands of rows in a few milliseconds, where a parsed
      // statement per row would cost a parse and a plan each
      const a = await appenders.of(c, table);
      try {
        for (const row of rows) {
          for (let i = 0; i < types.length; i++) {
            const v = row[i];
            if (v === null || v === undefined) a.appendNull();
            else if (types[i] === 'varchar') a.appendVarchar(String(v));
            else if (types[i] === 'bigint') a.appendBigInt(BigInt(v as number | bigint));
            else if (types[i] === 'integer') a.appendInteger(Number(v));
            else if (types[i] === 'double') a.appendDouble(Number(v));
            else a.appendBoolean(Boolean(v));
          }
          a.endRow();
        }
        a.flushSync();
      } catch (e) {
        appenders.drop(table);
        throw e;
      }
    },
  };
}
