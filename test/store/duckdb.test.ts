import { describe, expect, it } from 'vitest';
import { ConnectionClosed, Database, type SerialConnection } from '../../services/store/database.ts';
import { DuckDbTelemetryStore } from '../../services/store/duckdb-telemetry.ts';
import type { TelemetryStore } from '../../services/store/telemetry-store.ts';
import { tempDir } from '../support/app.ts';
import { waitFor } from '../support/wait.ts';
import { storeContract } from './contract.ts';

const opened = new Map<TelemetryStore, { db: Database; conns: SerialConnection[]; dir: string }>();

async function openAt(dir: string) {
  const db = await Database.open(dir);
  const conns = [await db.connect(), await db.connect()];
  const store = await DuckDbTelemetryStore.create(conns[0], conns[1]);
  opened.set(store, { db, conns, dir });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await Promise.all(conns.map((c) => c.close()));
    db.close();
  };
  return store;
}

storeContract('embedded (DuckDB)', {
  open: async () => openAt(await tempDir('rm-store-')),
  reopen: async (store) => {
    const { dir } = opened.get(store)!;
    await store.close();
    return openAt(dir);
  },
});

describe('the embedded store writing a large group', () => {
  it('lets its thread go between slices of the group, so readings arriving meanwhile are judged at once', async () => {
    const dir = await tempDir('rm-store-');
    const db = await Database.open(dir);
    const conns = [await db.connect(), await db.connect()];
    // how often the event loop comes round between the group's BEGIN and its COMMIT: with the
    // appends in one run it never did, and the pipeline thread judged no reading for 60-80 ms
    let turns = 0;
    let appending = false;
    const spin = () => void (appending && (turns++, setImmediate(spin)));
    const raw = conns[0].raw as unknown as { run: (sql: string, ...rest: unknown[]) => Promise<unknown> };
    const run = raw.run.bind(raw);
    raw.run = async (sql, ...rest) => {
      if (sql === 'COMMIT') appending = false;
      const out = await run(sql, ...rest);
      if (sql.startsWith('BEGIN')) (appending = true), setImmediate(spin);
      return out;
    };
    const store = await DuckDbTelemetryStore.create(conns[0], conns[1]);
    try {
      const readings = Array.from({ length: 20_000 }, (_, i) => ({ enterpriseId: 'E', deviceId: `d${i % 500}`, ts: Date.UTC(2026, 11, 1) + i, seq: i + 1, values: { gas_lel: i % 50, gas_shutoff_valve_closed: false } }));
      await store.append(readings);
      expect(turns).toBeGreaterThanOrEqual(19);
      const [row] = await conns[1].serial(async (c) => (await c.runAndReadAll('SELECT count(*)::INTEGER AS n FROM readings')).getRowObjectsJS());
      expect(row.n).toBe(40_000);
    } finally {
      await store.close();
      await Promise.all(conns.map((c) => c.close()));
      db.close();
    }
  });
});

describe('a connection halted before its thread ends as a crash', () => {
  it('lets the call under way return, refuses what was queued and what comes after, and resolves only then', async () => {
    const dir = await tempDir('rm-store-');
    const db = await Database.open(dir);
    const conn = await db.connect();
    try {
      let release: (() => void) | undefined;
      const under = conn.serial(async (c) => {
        await new Promise<void>((r) => (release = r));
        return (await c.runAndReadAll('SELECT 42::INTEGER AS n')).getRowObjectsJS()[0].n;
      });
      await waitFor(() => release, 1000, 'the first call under way');
      const queued = conn.all('SELECT 1');
      let halted = false;
      const halting = conn.halt().then(() => (halted = true));
      await expect(conn.all('SELECT 2')).rejects.toBeInstanceOf(ConnectionClosed);
      await new Promise((r) => setImmediate(r));
      // the call under way has not returned: a thread ended now would end inside it
      expect(halted).toBe(false);
      release!();
      await expect(under).resolves.toBe(42);
      await expect(queued).rejects.toBeInstanceOf(ConnectionClosed);
      await halting;
      expect(halted).toBe(true);
    } finally {
      conn.raw.closeSync();
      db.close();
    }
  });

  it('interrupts a query under way, so a long one does not hold the end', async () => {
    const dir = await tempDir('rm-store-');
    const db = await Database.open(dir);
    const conn = await db.connect();
    try {
      let began = false;
      // seconds of work, were it let run
      const long = conn.serial((c) => {
        const run = c.run('SELECT count(*) FROM range(30000000000)');
        began = true;
        return run;
      });
      await waitFor(() => began, 1000, 'the query under way');
      await conn.halt();
      await expect(long).rejects.toThrow(/interrupt/i);
    } finally {
      conn.raw.closeSync();
      db.close();
    }
  });
});

describe("the stores' SQL keeping an appender per table on its connection", () => {
  it('keeps rows appended in a transaction only if it commits, appends again after an insert that failed, and reads results of several chunks whole', async () => {
    const dir = await tempDir('rm-store-');
    const db = await Database.open(dir);
    const sql = await db.sql();
    try {
      await sql.run('CREATE TABLE t (id VARCHAR PRIMARY KEY, n BIGINT NOT NULL)');
      const types = ['varchar', 'bigint'] as const;
      await sql.tx(async (t) => t.insert('t', types, [['a', 1]]));
      // rolled back: its rows go with it, and the appender with them
      await expect(sql.tx(async (t) => (await t.insert('t', types, [['b', 2]]), Promise.reject(new Error('undone'))))).rejects.toThrow('undone');
      // a row the table refuses fails the insert; the next one goes in
      await expect(sql.tx(async (t) => t.insert('t', types, [['a', 3]]))).rejects.toThrow();
      await expect(sql.insert('t', types, [['c', null as unknown as number]])).rejects.toThrow();
      await sql.tx(async (t) => t.insert('t', types, [['d', 4]]));
      await sql.insert('t', types, [['e', 5]]);
      expect(await sql.all('SELECT id, n FROM t ORDER BY id')).toEqual([
        { id: 'a', n: 1 },
        { id: 'd', n: 4 },
        { id: 'e', n: 5 },
      ]);
      // a result of several chunks (2 048 rows each), read whole, its BIGINTs as numbers
      await sql.insert('t', types, Array.from({ length: 5000 }, (_, i) => [`r${i}`, 2 ** 40 + i]));
      const rows = await sql.all<{ id: string; n: number }>("SELECT id, n FROM t WHERE id LIKE 'r%' ORDER BY n");
      expect(rows).toHaveLength(5000);
      expect(rows[4999]).toEqual({ id: 'r4999', n: 2 ** 40 + 4999 });
      expect(rows.every((r, i) => r.n === 2 ** 40 + i && typeof r.n === 'number')).toBe(true);
    } finally {
      await sql.close();
      db.close();
    }
  });
});
