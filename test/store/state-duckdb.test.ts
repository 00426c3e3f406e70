import { describe, expect, it } from 'vitest';
import { Database } from '../../services/store/database.ts';
import { tempDir } from '../support/app.ts';
import { stateStoreContract } from './state-contract.ts';

stateStoreContract('the embedded database (DuckDB)', {
  open: async () => {
    const db = await Database.open(await tempDir('rm-state-'));
    const sql = await db.sql();
    const close = sql.close.bind(sql);
    sql.close = async () => (await close(), db.close());
    return sql;
  },
});

describe('statements with parameters, kept prepared (DuckDB)', () => {
  it('answer as if prepared afresh: after many other statements, a changed table, a failed run, and at close', async () => {
    const db = await Database.open(await tempDir('rm-state-'));
    const sql = await db.sql();
    await sql.run('CREATE TABLE t (id INTEGER, name VARCHAR)');
    await sql.run('INSERT INTO t VALUES ($id, $name)', { id: 1, name: 'a' });
    // more statements than are kept: the first ones are let go and prepared again when asked
    for (let i = 0; i < 250; i++) expect(await sql.all<{ n: number }>(`SELECT $x + ${i} AS n`, { x: 1 })).toEqual([{ n: 1 + i }]);
    expect(await sql.all('SELECT name FROM t WHERE id = $id', { id: 1 })).toEqual([{ name: 'a' }]);
    // the table changes under a kept statement
    expect(await sql.all('SELECT * FROM t WHERE id = $id', { id: 1 })).toEqual([{ id: 1, name: 'a' }]);
    await sql.run('ALTER TABLE t ADD COLUMN extra INTEGER');
    await sql.run('INSERT INTO t VALUES ($id, $name, 7)', { id: 2, name: 'b' });
    expect(await sql.all('SELECT * FROM t WHERE id = $id', { id: 1 })).toEqual([{ id: 1, name: 'a', extra: null }]);
    expect(await sql.all('SELECT * FROM t WHERE id = $id', { id: 2 })).toEqual([{ id: 2, name: 'b', extra: 7 }]);
    // a run that fails leaves the statement usable, with nothing of its values kept
    await expect(sql.run('INSERT INTO t VALUES ($id, $name, $extra)', { id: 3, name: 'c', extra: 'not a number' })).rejects.toThrow();
    await sql.run('INSERT INTO t VALUES ($id, $name, $extra)', { id: 3, name: 'c', extra: 8 });
    expect(await sql.all('SELECT count(*) AS n FROM t')).toEqual([{ n: 3 }]);
    await sql.close();
    db.close();
  });
});
