import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiClient, startTestApp, tempDir } from '../support/app.ts';
import { CHEM } from '../support/registry.ts';
import { Database } from '../../services/store/database.ts';

/** Readings live in telemetry.duckdb; a data folder of an older version has them moved there once. */
describe('the telemetry file', () => {
  it('moves readings an older version kept in gateway.duckdb, and the service serves them', async () => {
    const dataDir = await tempDir();
    const old = await DuckDBInstance.create(join(dataDir, 'gateway.duckdb'));
    const c = await old.connect();
    await c.run(`CREATE TABLE readings (ts BIGINT NOT NULL, enterprise VARCHAR NOT NULL, device VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE, seq BIGINT, quality VARCHAR)`);
    const ts = Date.now() - 60_000;
    await c.run(`INSERT INTO readings VALUES (${ts}, '${CHEM}', 'gas-1', 'gas_lel', 7.5, 3, NULL)`);
    c.closeSync();
    old.closeSync();

    const app = await startTestApp({ dataDir });
    try {
      expect(existsSync(join(dataDir, 'telemetry.duckdb'))).toBe(true);
      const r = await apiClient(app, 'token-operator').get(`/api/telemetry?device=gas-1&from=${ts - 1000}`);
      expect(r.json.points).toEqual([expect.objectContaining({ metric: 'gas_lel', value: 7.5, seq: 3 })]);
    } finally {
      await app.stop();
    }
    const again = await DuckDBInstance.create(join(dataDir, 'gateway.duckdb'));
    const c2 = await again.connect();
    const tables = (await c2.runAndReadAll(`SELECT table_name FROM duckdb_tables()`)).getRowObjects().map((r) => r.table_name);
    expect(tables).not.toContain('readings');
    expect(tables).toContain('alerts');
    c2.closeSync();
    again.closeSync();
  });

  it('is opened without touching gateway.duckdb, which the main thread has open meanwhile', async () => {
    // a fresh data folder at its first start: the main thread has gateway.duckdb open and its log
    // growing when the reading pipeline opens telemetry.duckdb, which does not exist yet
    const dataDir = await tempDir();
    const main = await Database.open(dataDir, 'gateway.duckdb');
    const c = await main.connect();
    await c.run('CREATE TABLE alerts (id VARCHAR PRIMARY KEY)');
    await c.run(`INSERT INTO alerts VALUES ('raised-at-seq-1')`);
    const log = join(dataDir, 'gateway.duckdb.wal');
    expect(existsSync(log)).toBe(true);
    (await Database.openTelemetry(dataDir)).close();
    // a second instance in this process, attaching gateway.duckdb, would checkpoint it and delete
    // the log this one goes on writing to: what it commits next would be gone after kill -9
    expect(existsSync(log), 'the log of gateway.duckdb is still there').toBe(true);
    // and moving an older folder's readings is refused while gateway.duckdb is open here
    const other = await tempDir();
    const open = await Database.open(other, 'gateway.duckdb');
    await expect(Database.moveLegacyReadings(other)).rejects.toThrow(/is open in this process/);
    expect(existsSync(join(other, 'telemetry.duckdb'))).toBe(false);
    open.close();
    await c.close();
    main.close();
  });
});
