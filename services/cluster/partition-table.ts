import type { Sql, SqlRunner } from '../store/sql.ts';

/**
 * Who owns which partition, and how far each has got, in PostgreSQL. A partition row holds its
 * owner's epoch (raised at every takeover), its progress (the last log sequence whose effects are
 * committed) and its latest snapshot (the judge's state at `snapshot_seq`, never ahead of
 * progress). Every write a worker makes for a partition goes in a transaction that first checks
 * the epoch is still its own (`fence`): a worker that froze, lost its lease and woke up again has
 * its writes refused.
 */
export class Fenced extends Error {
  constructor(readonly partition: number) {
    super(`partition ${partition} has another owner now`);
  }
}

export interface Takeover {
  partition: number;
  epoch: number;
  progress: number;
  snapshot: { seq: number; data: Buffer; registry: string } | null;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS cluster_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS partitions (id INTEGER PRIMARY KEY, epoch BIGINT NOT NULL DEFAULT 0, owner VARCHAR, progress BIGINT NOT NULL DEFAULT 0,
     snapshot TEXT, snapshot_seq BIGINT NOT NULL DEFAULT 0, snapshot_registry VARCHAR, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`,
  `CREATE TABLE IF NOT EXISTS partition_owners (partition INTEGER NOT NULL, epoch BIGINT NOT NULL, owner VARCHAR NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (partition, epoch))`,
  `CREATE TABLE IF NOT EXISTS cluster_workers (id VARCHAR PRIMARY KEY, seen TIMESTAMPTZ NOT NULL, started TIMESTAMPTZ NOT NULL)`,
];

export class ClusterSetupError extends Error {}

export class PartitionTable {
  private constructor(
    private readonly sql: Sql,
    readonly partitions: number,
  ) {}

  /**
   * The tables, made where missing, and the partition count checked: it is fixed when the
   * cluster's data is first made (the NATS mapping hashes enterprises into exactly that many).
   */
  static async open(sql: Sql, partitions: number): Promise<PartitionTable> {
    // two processes starting at once must not both make the tables
    await sql.tx(async (t) => {
      await t.run('SELECT pg_advisory_xact_lock(7, 0)');
      for (const s of SCHEMA) await t.run(s);
      const [row] = await t.all<{ value: string }>(`SELECT value FROM cluster_meta WHERE key = 'partitions'`);
      if (row && Number(row.value) !== partitions)
        throw new ClusterSetupError(`CLUSTER_PARTITIONS is ${partitions}, but this cluster's data was made with ${row.value} partitions (the NATS mapping must say the same): set CLUSTER_PARTITIONS=${row.value}`);
      if (!row) await t.run(`INSERT INTO cluster_meta VALUES ('partitions', $n)`, { n: String(partitions) });
      await t.run(`INSERT INTO partitions (id) SELECT g FROM generate_series(0, $last) AS g ON CONFLICT DO NOTHING`, { last: partitions - 1 });
    });
    return new PartitionTable(sql, partitions);
  }

  /** A new epoch for a partition whose lease this worker just took, and where it stood. */
  async takeOver(partition: number, owner: string): Promise<Takeover> {
    return this.sql.tx(async (t) => {
      const [row] = await t.all<{ epoch: number; progress: number; snapshot: string | null; snapshot_seq: number; snapshot_registry: string | null }>(
        `UPDATE partitions SET epoch = epoch + 1, owner = $owner, updated_at = now() WHERE id = $p RETURNING epoch, progress, snapshot, snapshot_seq, snapshot_registry`,
        { p: partition, owner },
      );
      await t.run('INSERT INTO partition_owners (partition, epoch, owner) VALUES ($p, $e, $owner)', { p: partition, e: row.epoch, owner });
      return {
        partition,
        epoch: Number(row.epoch),
        progress: Number(row.progress),
        snapshot: row.snapshot && row.snapshot_registry ? { seq: Number(row.snapshot_seq), data: Buffer.from(row.snapshot, 'base64'), registry: row.snapshot_registry } : null,
      };
    });
  }

  /**
   * In a transaction: refuse it unless the partition's epoch is still `epoch`; with `progress`,
   * record that everything up to that log sequence is committed with it.
   */
  async fence(t: SqlRunner, partition: number, epoch: number, progress?: number): Promise<void> {
    const n =
      progress === undefined
        ? (await t.all('SELECT 1 AS ok FROM partitions WHERE id = $p AND epoch = $e FOR SHARE', { p: partition, e: epoch })).length
        : await t.run('UPDATE partitions SET progress = $s, updated_at = now() WHERE id = $p AND epoch = $e', { p: partition, e: epoch, s: progress });
    if (n !== 1) throw new Fenced(partition);
  }

  /** The judge's state at `seq` (at most the committed progress), for the next owner to start from. */
  async snapshot(partition: number, epoch: number, seq: number, data: Buffer, registry: string): Promise<void> {
    await this.sql.tx(async (t) => {
      const n = await t.run(`UPDATE partitions SET snapshot = $d, snapshot_seq = $s, snapshot_registry = $r, updated_at = now() WHERE id = $p AND epoch = $e AND progress >= $s`, {
        p: partition,
        e: epoch,
        s: seq,
        d: data.toString('base64'),
        r: registry,
      });
      if (n !== 1) throw new Fenced(partition);
    });
  }

  /** Say this worker is alive; the workers seen within `withinS`, oldest first (their shares follow from it). */
  async heartbeat(worker: string, withinS: number): Promise<string[]> {
    await this.sql.run(`INSERT INTO cluster_workers VALUES ($w, now(), now()) ON CONFLICT (id) DO UPDATE SET seen = now()`, { w: worker });
    const rows = await this.sql.all<{ id: string }>(`SELECT id FROM cluster_workers WHERE seen > now() - make_interval(secs => $s) ORDER BY started, id`, { s: withinS });
    return rows.map((r) => r.id);
  }

  /** A worker leaving: the others take its share at once instead of after its lease. */
  async leave(worker: string): Promise<void> {
    await this.sql.run('DELETE FROM cluster_workers WHERE id = $w', { w: worker });
  }

  /** Partitions no live worker owns (none has started, or its owner went silent): nobody reads their readings now. */
  async unowned(withinS: number): Promise<number> {
    const [r] = await this.sql.all<{ n: number }>(`SELECT count(*) AS n FROM partitions WHERE owner IS NULL OR owner NOT IN (SELECT id FROM cluster_workers WHERE seen > now() - make_interval(secs => $s))`, { s: withinS });
    return Number(r?.n ?? 0);
  }

  async owners(): Promise<{ partition: number; epoch: number; owner: string }[]> {
    return (await this.sql.all<{ partition: number; epoch: number; owner: string }>('SELECT partition, epoch, owner FROM partition_owners ORDER BY partition, epoch')).map((r) => ({ ...r, epoch: Number(r.epoch) }));
  }

  async progress(): Promise<Map<number, { epoch: number; owner: string | null; progress: number; snapshotSeq: number }>> {
    const rows = await this.sql.all<{ id: number; epoch: number; owner: string | null; progress: number; snapshot_seq: number }>('SELECT id, epoch, owner, progress, snapshot_seq FROM partitions ORDER BY id');
    return new Map(rows.map((r) => [r.id, { epoch: Number(r.epoch), owner: r.owner, progress: Number(r.progress), snapshotSeq: Number(r.snapshot_seq) }]));
  }
}
