import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The embedded database under DATA_DIR: one DuckDB file. DuckDB is a columnar engine, so the
 * regulators' range scans and windowed aggregates over months of readings stay fast, and its
 * appender takes batches of tens of thousands of rows in a few milliseconds. Each connection
 * runs its statements one after another; separate connections let a long report not hold up
 * the writers.
 */
export const TELEMETRY_FILE = 'telemetry.duckdb';

export class Database {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly path: string,
  ) {}

  /**
   * `memoryMb` bounds DuckDB's cache and working memory (by default it may take 80 % of the
   * machine, and its cache of a growing readings table is what made the service's memory grow
   * under load); past it, large queries spill to a temporary folder beside the file.
   */
  static async open(dataDir: string, file = 'gateway.duckdb', memoryMb = 512): Promise<Database> {
    await mkdir(dataDir, { recursive: true });
    const path = join(dataDir, file);
    return new Database(await DuckDBInstance.create(path, { memory_limit: `${memoryMb}MB`, temp_directory: `${path}.tmp` }), path);
  }

  /**
   * The readings live in a file of their own (`telemetry.duckdb`): a commit waits for the other
   * commits of its file, and for the checkpoint one of them may run, so alert records, the outbox
   * and the audit trail must not share a file with tens of thousands of readings a second.
   * Readings that an older version kept in `gateway.duckdb` are moved over once, at the first start.
   */
  static async openTelemetry(dataDir: string, memoryMb = 512): Promise<Database> {
    const move = Database.readingsToMove(dataDir);
    const db = await Database.open(dataDir, TELEMETRY_FILE, memoryMb);
    const legacy = join(dataDir, 'gateway.duckdb');
    if (move) {
      const c = await db.instance.connect();
      try {
        await c.run(`ATTACH '${legacy.replaceAll("'", "''")}' AS legacy`);
        const has = await c.runAndReadAll(`SELECT count(*) AS n FROM duckdb_tables() WHERE database_name = 'legacy' AND table_name = 'readings'`);
        if (Number(has.getRowObjects()[0].n) > 0) {
          await c.run('CREATE TABLE readings AS SELECT * FROM legacy.readings');
          await c.run('DROP TABLE legacy.readings');
        }
        await c.run('DETACH legacy');
      } finally {
        c.closeSync();
      }
    }
    return db;
  }

  /** A data folder from before readings had a file of their own: they may be in gateway.duckdb. */
  static readingsToMove(dataDir: string): boolean {
    return !existsSync(join(dataDir, TELEMETRY_FILE)) && existsSync(join(dataDir, 'gateway.duckdb'));
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
