import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { duckdb } from './duckdb-package.ts';
import { DuckSql } from './duckdb-sql.ts';

/**
 * The embedded database under DATA_DIR: one DuckDB file. DuckDB is a columnar engine, so the
 * regulators' range scans and windowed aggregates over months of readings stay fast, and its
 * appender takes batches of tens of thousands of rows in a few milliseconds. Each connection
 * runs its statements one after another; separate connections let a long report not hold up
 * the writers.
 */
export const TELEMETRY_FILE = 'telemetry.duckdb';

export class Database {
  /** the files this thread has open (a file must not be attached by a second instance while open) */
  private static readonly openHere = new Set<string>();

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
    const db = new Database(await duckdb.DuckDBInstance.create(path, { memory_limit: `${memoryMb}MB`, temp_directory: `${path}.tmp` }), path);
    Database.openHere.add(path);
    return db;
  }

  /**
   * The readings live in a file of their own (`telemetry.duckdb`): a commit waits for the other
   * commits of its file, and for the checkpoint one of them may run, so alert records, the outbox
   * and the audit trail must not share a file with tens of thousands of readings a second.
   * Opening it touches no other file: the reading pipeline opens it on its own thread while the
   * main thread has `gateway.duckdb` open (readings of an older version: `moveLegacyReadings`).
   */
  static openTelemetry(dataDir: string, memoryMb = 512): Promise<Database> {
    return Database.open(dataDir, TELEMETRY_FILE, memoryMb);
  }

  /**
   * Readings that an older version kept in `gateway.duckdb` are moved to `telemetry.duckdb` once,
   * at the first start, before this process opens `gateway.duckdb` itself (services/open-stores.ts,
   * on the main thread). Never while it is open: DuckDB's lock on a file is held by the process,
   * so a second instance in the same process (another thread) is not stopped by it, and that
   * instance's checkpoint at DETACH rewrites the file and deletes the log the first instance goes
   * on writing to: everything the first commits after that is gone after a crash.
   */
  static async moveLegacyReadings(dataDir: string, memoryMb = 512): Promise<void> {
    if (!Database.readingsToMove(dataDir)) return;
    const legacy = join(dataDir, 'gateway.duckdb');
    if (Database.openHere.has(legacy)) throw new Error(`${legacy} is open in this process: readings are moved out of it only before it is opened`);
    const db = await Database.open(dataDir, TELEMETRY_FILE, memoryMb);
    try {
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
    } finally {
      db.close();
    }
  }

  /** A data folder from before readings had a file of their own: they may be in gateway.duckdb. */
  static readingsToMove(dataDir: string): boolean {
    return !existsSync(join(dataDir, TELEMETRY_FILE)) && existsSync(join(dataDir, 'gateway.duckdb'));
  }

  async connect(): Promise<SerialConnection> {
    return new SerialConnection(await this.instance.connect());
  }

  /** A connection as the stores use it (store/sql.ts). */
  async sql(): Promise<DuckSql> {
    return new DuckSql(await this.connect());
  }

  close() {
    this.instance.closeSync();
    Database.openHere.delete(this.path);
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

  /**
   * Refuse new work and drop what is queued, interrupt the query under way; resolves once the
   * native call under way (if any) has returned. A thread may then end at once: ending one while
   * DuckDB is in a call aborts the whole process (node-addon-api cannot throw into a terminating
   * environment; cf. better-sqlite3#1507).
   */
  async halt(): Promise<void> {
    this.closed = true;
    // a query under way is cut short: a long one held the thread's end (and every message to it)
    // for its whole length. Asked again until it returns: one asked before the query began to
    // run is not heard by it
    const interrupt = () => {
      try {
        this.raw.interrupt();
      } catch {
        // nothing under way to interrupt
      }
    };
    interrupt();
    const again = setInterval(interrupt, 100);
    try {
      await this.tail;
    } finally {
      clearInterval(again);
    }
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
