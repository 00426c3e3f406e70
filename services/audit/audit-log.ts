import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import type { Sql, SqlRunner } from '../store/sql.ts';

/**
 * A tamper-evident audit trail: every entry carries the SHA-256 of the one before it, so altering,
 * removing or inserting an entry breaks the chain from that point on. Alert transitions,
 * acknowledgements and closes, silences, registry reloads and logins are appended here.
 *
 * Deleting the newest entries leaves a chain that is whole, only shorter: so the head (the last
 * entry's number and hash) is published outside the database, to a file beside it after every
 * commit and at `GET /api/audit/head` for whoever keeps a copy. A trail behind a published head
 * has lost entries.
 */
export interface AuditHead {
  n: number;
  hash: string;
}
export interface AuditEntry {
  n: number;
  at: number;
  actor: string;
  action: string;
  subject: string;
  detail: unknown;
  prevHash: string;
  hash: string;
}

export type AuditInput = Pick<AuditEntry, 'at' | 'actor' | 'action' | 'subject' | 'detail'>;

const GENESIS = '0'.repeat(64);
const ENTRY_TYPES = ['bigint', 'bigint', 'varchar', 'varchar', 'varchar', 'varchar', 'varchar', 'varchar'] as const;

/** The newest entry of a trail (the genesis of an empty one). */
export async function lastEntry(conn: Pick<SqlRunner, 'all'>): Promise<AuditHead> {
  const [row] = await conn.all<{ n: number; hash: string }>('SELECT n, hash FROM audit ORDER BY n DESC LIMIT 1');
  return row ? { n: Number(row.n), hash: row.hash } : { n: 0, hash: GENESIS };
}

export function entryHash(prevHash: string, e: Pick<AuditEntry, 'n' | 'at' | 'actor' | 'action' | 'subject' | 'detail'>): string {
  return createHash('sha256')
    .update(prevHash)
    .update(JSON.stringify([e.n, e.at, e.actor, e.action, e.subject, e.detail ?? null]))
    .digest('hex');
}

/**
 * An entry written without waiting for it, as the composition roots hand it to the parts that
 * audit (logins, hazards, silences): a trail that cannot be written is logged, never thrown.
 */
export function auditedBy(audit: Pick<AuditLog, 'append'>, clock: () => number, log: { error(o: object, msg: string): void }) {
  return (actor: string, action: string, subject: string, detail: unknown) =>
    void audit.append({ at: clock(), actor, action, subject, detail }).catch((err: Error) => log.error({ err: err.message }, 'audit entry not written'));
}

export class AuditLog {
  private last: AuditHead = { n: 0, hash: GENESIS };
  private queue: AuditInput[] = [];
  private writing: Promise<void> | null = null;
  /** the head published before this start: the trail must still contain it */
  private published: AuditHead | null = null;

  private constructor(
    private readonly conn: Sql,
    private readonly headFile: string | null,
  ) {}

  /** `headFile`: where the head is published outside the database (null: nowhere, for tests of the chain alone). */
  static async create(conn: Sql, headFile: string | null = null): Promise<AuditLog> {
    await conn.run(`CREATE TABLE IF NOT EXISTS audit (n BIGINT PRIMARY KEY, at_ms BIGINT NOT NULL, actor VARCHAR NOT NULL, action VARCHAR NOT NULL,
      subject VARCHAR NOT NULL, detail VARCHAR, prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL)`);
    const log = new AuditLog(conn, headFile);
    log.last = await lastEntry(conn);
    if (headFile) log.published = await readHead(headFile);
    return log;
  }

  /** The last entry written: its number and hash (with several writers, as the database has it). */
  async head(): Promise<AuditHead> {
    await this.writing;
    return this.chain ? lastEntry(this.conn) : { ...this.last };
  }

  /**
   * Who logged in over MQTT from where since `since`, newest first (at most `limit`): the login
   * guard's trust in a plant's NAT outlives a restart (gateway/login-guard.ts).
   */
  async recentLogins(since: number, limit: number): Promise<{ username: string; address: string; at: number }[]> {
    const rows = await this.conn.all<{ actor: string; detail: string | null; at_ms: bigint | number | string }>(
      `SELECT actor, detail, at_ms FROM audit WHERE action = 'login.mqtt' AND at_ms >= $since ORDER BY at_ms DESC LIMIT $limit`,
      { since, limit },
    );
    const logins = [];
    for (const r of rows) {
      let address: unknown;
      try {
        address = (JSON.parse(r.detail ?? 'null') as { address?: unknown } | null)?.address;
      } catch {
        continue;
      }
      if (typeof address === 'string' && address) logins.push({ username: r.actor, address, at: Number(r.at_ms) });
    }
    return logins;
  }

  /** Queue an entry; entries are chained in the order they are appended and written in batches. */
  append(e: AuditInput): Promise<void> {
    this.queue.push(e);
    return this.write();
  }

  private retry?: NodeJS.Timeout;
  private closed = false;
  /** why the last write failed, while its entries wait to be written again */
  failing: string | null = null;
  private headRetry?: NodeJS.Timeout;
  /** why the head could not be published beside the database (the entries themselves are stored) */
  headFailing: string | null = null;

  /** What is wrong with the trail, for health: its writes failing, or its head not published. */
  get problem(): string | null {
    return this.failing ?? (this.headFailing === null ? null : `the audit head could not be published beside the database: ${this.headFailing}`);
  }

  /** No more tries: the service is stopping and its database closes. */
  close() {
    this.closed = true;
    clearTimeout(this.retry);
    clearTimeout(this.headRetry);
  }

  /**
   * Several writers (a cluster's workers and API nodes) share one trail: `chain` is where a writer
   * takes its turn and reads the head as it is now. Set by whoever opens the store; a single
   * process is the only writer, and the head it keeps is the head.
   */
  chain?: (t: SqlRunner) => Promise<AuditHead>;

  private write(): Promise<void> {
    if (this.writing) return this.writing;
    const w = this.tail.then(() => this.flush());
    this.writing = w;
    this.tail = w.catch(() => {});
    return w;
  }

  private tail: Promise<unknown> = Promise.resolve();

  /** The batch waiting, written when its turn comes (whatever is appended meanwhile goes with it). */
  private async flush() {
    this.writing = null;
    const batch = this.queue;
    this.queue = [];
    let head = this.last;
    try {
      await this.conn.tx(async (t) => {
        let { n, hash } = this.chain ? await this.chain(t) : this.last;
        const rows = batch.map((input) => {
          const entry = { n: n + 1, ...input };
          const h = entryHash(hash, entry);
          const row = [entry.n, entry.at, entry.actor, entry.action, entry.subject, JSON.stringify(entry.detail ?? null), hash, h];
          n = entry.n;
          hash = h;
          return row;
        });
        // one bulk insert for the batch (an alarm storm is thousands of entries), in the transaction
        await t.insert('audit', ENTRY_TYPES, rows);
        head = { n, hash };
      });
    } catch (e) {
      // the trail must not lose what happened (a full disk, a failing commit): the batch goes
      // back in front, in its order, and is tried again with whatever came meanwhile
      this.queue = [...batch, ...this.queue];
      this.failing = (e as Error).message;
      if (!this.closed) this.retry ??= setTimeout(() => ((this.retry = undefined), void this.write().catch(() => {})), 1000).unref();
      throw e;
    }
    this.last = head;
    this.failing = null;
    // the entries are stored: an append resolves whether or not the head can be published now
    // (a full disk beside the database); a head that lags is still in the chain, and is written
    // again until it is out
    if (this.headFile) await this.publish(this.headFile);
  }

  private async publish(file: string): Promise<void> {
    try {
      await writeHead(file, this.last);
      this.headFailing = null;
    } catch (e) {
      this.headFailing = (e as Error).message;
      if (this.closed) return;
      // in the trail's turn, so it never writes the file beside a batch's own publication
      this.headRetry ??= setTimeout(() => {
        this.headRetry = undefined;
        this.tail = this.tail.then(() => this.publish(file));
      }, 1000).unref();
    }
  }

  /**
   * Walk the chain from the start; the first entry whose link or content does not match is named.
   * The chain must also still hold the head published outside the database and, when given, a head
   * someone kept (`head`: `n:hash` from `GET /api/audit/head`).
   */
  async verify(head?: AuditHead): Promise<{ ok: boolean; entries: number; firstBroken: { n: number; at: string; action: string; reason: string } | null; missingHead: (AuditHead & { source: string }) | null }> {
    await this.writing;
    const result = await this.walk();
    const heads = [
      ...(this.published ? [{ ...this.published, source: 'the head published beside the database before this start' }] : []),
      { ...this.last, source: 'the head this service wrote last' },
      ...(head ? [{ ...head, source: 'the head given' }] : []),
    ];
    for (const h of heads) if (!(await this.holds(h))) return { ...result, ok: false, missingHead: h };
    return { ...result, missingHead: null };
  }

  /** Whether the trail still holds the head published before this start (checked once at start). */
  keptPublishedHead(): Promise<boolean> {
    return this.published ? this.holds(this.published) : Promise.resolve(true);
  }

  private async holds(h: AuditHead): Promise<boolean> {
    if (h.n === 0) return true;
    const [row] = await this.conn.all<{ hash: string }>('SELECT hash FROM audit WHERE n = $n', { n: BigInt(h.n) });
    return row?.hash === h.hash;
  }

  private async walk(): Promise<{ ok: boolean; entries: number; firstBroken: { n: number; at: string; action: string; reason: string } | null }> {
    const rows = await this.conn.all<{ n: number; at_ms: number; actor: string; action: string; subject: string; detail: string; prev_hash: string; hash: string }>('SELECT * FROM audit ORDER BY n');
    let prev = GENESIS;
    let expectN = 1;
    for (const r of rows) {
      const n = Number(r.n);
      const broken = (reason: string) => ({ ok: false, entries: rows.length, firstBroken: { n, at: new Date(Number(r.at_ms)).toISOString(), action: r.action, reason } });
      if (n !== expectN) return broken(`entry ${expectN} is missing`);
      if (r.prev_hash !== prev) return broken('its link to the entry before does not match');
      const h = entryHash(prev, { n, at: Number(r.at_ms), actor: r.actor, action: r.action, subject: r.subject, detail: JSON.parse(r.detail) });
      if (h !== r.hash) return broken('its content was altered');
      prev = r.hash;
      expectN++;
    }
    return { ok: true, entries: rows.length, firstBroken: null };
  }
}

/** Written whole or not at all (a temporary file renamed over the old one), and synced. */
async function writeHead(file: string, head: AuditHead) {
  const tmp = `${file}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(head));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    // a full disk: no half-written file is left beside the head (the next write makes it whole)
    await rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
}

async function readHead(file: string): Promise<AuditHead | null> {
  try {
    const h = JSON.parse(await readFile(file, 'utf8')) as Partial<AuditHead>;
    return Number.isSafeInteger(h.n) && typeof h.hash === 'string' && /^[0-9a-f]{64}$/.test(h.hash) ? { n: h.n!, hash: h.hash } : null;
  } catch {
    return null;
  }
}
