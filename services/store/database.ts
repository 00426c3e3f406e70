import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The embedded database under DATA_DIR: one DuckDB file. DuckDB is a columnar engine, so the
 * regulators' range scans and windowed aggregates over months of readings stay fast, and its
 * appender takes batches of tens of thousands of rows in a few milliseconds. Each connection
 * runs its statements one after another; separate connections let a long report not hold up
 * the writers.
 */
export class Database {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly path: string,
  ) {}

  static async open(dataDir: string, file = 'gateway.duckdb'): Promise<Database> {
    await mkdir(dataDir, { recursive: true });
    const path = join(dataDir, file);
    return new Database(await DuckDBInstance.create(path), path);
  }

  async connect(): Promise<SerialConnection> {
    return new SerialConnection(await this.instance.connect());
  }

  close() {
    this.instance.closeSync();
  }
}

export type Row = Record<string, unknown>;

export class SerialConnection {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(readonly raw: DuckDBConnection) {}

  /** Run `fn` after everything queued before it on this connection. */
  serial<T>(fn: (c: DuckDBConnection) => Promise<T> | T): Promise<T> {
    const next = this.tail.then(() => fn(this.raw));
    this.tail = next.catch(() => {});
    return next;
  }

  run(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<void> {
    return this.serial(async (c) => {
      await c.run(sql, params);
    });
  }

  async all<T = Row>(sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<T[]> {
    return this.serial(async (c) => (await c.runAndReadAll(sql, params)).getRowObjectsJS() as T[]);
  }

  close() {
    this.raw.closeSync();
  }
}
