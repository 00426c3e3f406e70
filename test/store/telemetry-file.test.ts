import { DuckDBInstance } from '@duckdb/node-api';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiClient, startTestApp, tempDir } from '../support/app.ts';
import { CHEM } from '../support/registry.ts';

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
});
