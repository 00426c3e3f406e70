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
    // a checkpoint runs inside whichever commit crosses the threshold and holds every writer up;
    // readings fill the log quickly, so checkpoints are made rarer (the log is replayed at start)
    return new Database(await DuckDBInstance.create(path, { checkpoint_threshold: process.env.DUCKDB_CHECKPOINT ?? '256MB' }), path);
  }

  async connect(): Promise<SerialConnection> {
    return new SerialConnection(await this.instance.connect());
  }

  close() {
    this.instance.closeSync();
  }
}

export type Row = Record<string, unknown>;

export class ConnectionClosed extends Error {}

export class SerialConnection {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** closed to new work, finishing what was queued */
  private closing = false;

  constructor(readonly raw: DuckDBConnection) {}

  /**
   * Run `fn` after everything queued before it on this connection. Once the connection is closing,
   * work is refused: touching a closed native connection would take the whole process down.
   */
  serial<T>(fn: (c: DuckDBConnection) => Promise<T> | T): Promise<T> {
    if (this.closed) return Promise.reject(new ConnectionClosed('the database connection is closed'));
    const next = this.tail.then(() => {
      if (this.closed && !this.closing) throw new ConnectionClosed('the database connection is closed');
      return fn(this.raw);
    });
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

  /** Refuse new work, let queued work finish, then close. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    this.closed = true;
    await this.tail;
    this.closing = false;
    this.raw.closeSync();
  }
}
