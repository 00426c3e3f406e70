/**
 * The one door the service's own stores (alerts and their record, outbox, silences, baselines,
 * audit trail, hazards, photos, acknowledge links, statuses) go through to a SQL database: the
 * embedded DuckDB file of a single process (duckdb-sql.ts), or the PostgreSQL a cluster shares
 * (postgres-sql.ts). Stores write the SQL both understand; where the two differ, they ask
 * `dialect` (a handful of places, each said where it is).
 *
 * Parameters are named (`$id`), values come back as JavaScript values with integers as numbers
 * (every integer the stores keep, milliseconds and counters, is far below 2^53).
 */
export type SqlValue = string | number | bigint | boolean | null;
export type SqlParams = Record<string, SqlValue>;
export type Row = Record<string, unknown>;

/** How a column is written in bulk (DuckDB's appender needs to be told). */
export type ColumnType = 'varchar' | 'bigint' | 'integer' | 'double' | 'boolean';

export interface SqlRunner {
  /** the rows a query gives */
  all<T = Row>(sql: string, params?: SqlParams): Promise<T[]>;
  /** a statement; the number of rows it changed */
  run(sql: string, params?: SqlParams): Promise<number>;
  /** many rows into a table at once, in the table's column order */
  insert(table: string, types: readonly ColumnType[], rows: readonly SqlValue[][]): Promise<void>;
}

export interface Sql extends SqlRunner {
  readonly dialect: 'duckdb' | 'postgres';
  /** `fn` in one transaction: committed when it resolves, rolled back when it throws */
  tx<T>(fn: (t: SqlRunner) => Promise<T>): Promise<T>;
  /** let what is under way finish, refuse anything new, and close */
  close(): Promise<void>;
}

/**
 * Integer division rounding down, as each dialect writes it (DuckDB's `/` divides as floating
 * point, PostgreSQL's truncates integers).
 */
export const intDiv = (sql: Pick<Sql, 'dialect'>, a: string, b: string) => (sql.dialect === 'postgres' ? `floor((${a})::float8 / (${b}))::bigint` : `((${a}) // (${b}))`);

/** `$name` → `$1`…: the text with numbered parameters, and the name of each number in order. */
export function placeholders(sql: string): { text: string; names: string[] } {
  const order = new Map<string, number>();
  const names: string[] = [];
  const text = sql.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    let n = order.get(name);
    if (n === undefined) order.set(name, (n = names.push(name)));
    return `$${n}`;
  });
  return { text, names };
}

/** The values of `names` in order, each one given (a missing value is a mistake in the caller). */
export function inOrder(names: readonly string[], params: SqlParams): SqlValue[] {
  return names.map((name) => {
    if (!Object.hasOwn(params, name)) throw new Error(`no value for the parameter $${name}`);
    return params[name];
  });
}

/** `$name` → `$1`… for drivers that take positional parameters; the values in that order. */
export function positional(sql: string, params: SqlParams = {}): { text: string; values: SqlValue[] } {
  const { text, names } = placeholders(sql);
  return { text, values: inOrder(names, params) };
}
