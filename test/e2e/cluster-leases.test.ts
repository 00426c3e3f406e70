import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Leases } from '../../services/cluster/leases.ts';
import { Fenced, PartitionTable } from '../../services/cluster/partition-table.ts';
import { PgSql } from '../../services/store/postgres-sql.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Partition ownership on a real PostgreSQL: one owner per partition at a time; a worker frozen
 * with SIGSTOP loses its leases after the lease time (its session is ended by the server), another
 * takes the partition with a new epoch, and the frozen one's writes are refused once it wakes.
 */
describe('partition leases and fencing', () => {
  let pg: TestPostgres;
  let url: string;
  beforeAll(async () => {
    pg = await startPostgres();
    url = await pg.database('leases');
  }, 60_000);
  afterAll(async () => pg?.stop());

  it('refuses to start with another partition count than the data was made with', async () => {
    const sql = PgSql.connect(url);
    await PartitionTable.open(sql, 8);
    await expect(PartitionTable.open(sql, 16)).rejects.toThrow('CLUSTER_PARTITIONS is 16, but this cluster\'s data was made with 8 partitions');
    await sql.close();
  });

  it('gives a partition to one worker at a time, and to another once the first froze past its lease', async () => {
    const sql = PgSql.connect(url);
    const table = await PartitionTable.open(sql, 8);
    // worker A is a process of its own, so that it can be frozen for real
    const a = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import { Leases } from './services/cluster/leases.ts';
         const l = new Leases(${JSON.stringify(url)}, 1, () => {});
         const ok = await l.take(3);
         console.log(ok ? 'took' : 'refused');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let said = '';
    a.stdout!.on('data', (c: Buffer) => (said += c.toString()));
    await waitFor(() => said.includes('took'), 20_000, 'worker A took partition 3');
    const first = await table.takeOver(3, 'A');

    const b = new Leases(url, 1, () => {});
    expect(await b.take(3)).toBe(false);
    expect(await b.take(4)).toBe(true);
    expect([...(await b.taken())].sort()).toEqual([3, 4]);

    // A freezes: its session goes idle and the server ends it after the lease (1 s)
    a.kill('SIGSTOP');
    await waitFor(() => b.take(3), 15_000, 'B takes partition 3 once A froze past its lease');
    const second = await table.takeOver(3, 'B');
    expect(second.epoch).toBe(first.epoch + 1);

    // A wakes up and tries to commit under its old epoch: refused
    a.kill('SIGCONT');
    await expect(sql.tx((t) => table.fence(t, 3, first.epoch, 10))).rejects.toBeInstanceOf(Fenced);
    await sql.tx((t) => table.fence(t, 3, second.epoch, 10));
    expect((await table.progress()).get(3)).toMatchObject({ epoch: second.epoch, owner: 'B', progress: 10 });
    // a snapshot may not run ahead of what is committed
    await expect(table.snapshot(3, second.epoch, 11, Buffer.from('x'), 'r1')).rejects.toBeInstanceOf(Fenced);
    await table.snapshot(3, second.epoch, 10, Buffer.from('state'), 'r1');
    expect((await table.takeOver(3, 'C')).snapshot).toEqual({ seq: 10, data: Buffer.from('state'), registry: 'r1' });
    // one owner per epoch, every epoch recorded
    const owners = (await table.owners()).filter((o) => o.partition === 3);
    expect(owners.map((o) => [o.epoch, o.owner])).toEqual([
      [first.epoch, 'A'],
      [second.epoch, 'B'],
      [second.epoch + 1, 'C'],
    ]);
    a.kill('SIGKILL');
    await b.close();
    await sql.close();
  }, 60_000);

  it('says when every lease is lost at once (the session was ended under a live worker)', async () => {
    const lost: number[][] = [];
    const w = new Leases(url, 5, (parts) => lost.push(parts));
    expect(await w.take(1)).toBe(true);
    expect(await w.take(2)).toBe(true);
    const admin = PgSql.connect(url);
    await admin.run(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'risk-monitor-lease'`);
    await waitFor(() => lost.length === 1, 10_000, 'the loss reported');
    expect(lost[0]).toEqual([1, 2]);
    expect(w.partitions).toEqual([]);
    // and it can take leases again on a new session
    expect(await w.take(1)).toBe(true);
    await w.close();
    await admin.close();
  }, 30_000);
});
