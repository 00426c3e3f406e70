import { createHash } from 'node:crypto';
import type { LoadedRegistry } from '../registry/load.ts';
import type { Sql } from '../store/sql.ts';

/**
 * Every registry a cluster has run under, by the hash of its content (the operator's file with
 * the devices registered through the API). A partition's rules change registry at a marker in its
 * log naming the new hash, so a worker that replays the log, or takes the partition over, applies
 * each registry at exactly the place the previous owner did. The hash in force is kept beside:
 * whoever changes it (compare and set) puts the markers in the log.
 */
export class RegistryVersions {
  private readonly cache = new Map<string, LoadedRegistry>();

  private constructor(private readonly sql: Sql) {}

  static async open(sql: Sql): Promise<RegistryVersions> {
    await sql.run(`CREATE TABLE IF NOT EXISTS registry_versions (hash VARCHAR PRIMARY KEY, raw TEXT NOT NULL, at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    await sql.run(`CREATE TABLE IF NOT EXISTS cluster_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`);
    return new RegistryVersions(sql);
  }

  /** A registry as kept: validated (templates applied, defaults filled), as plain JSON. */
  static textOf(loaded: LoadedRegistry): string {
    return JSON.stringify({ file: loaded.file, rules: [...loaded.rules] });
  }

  static hashOf(loaded: LoadedRegistry): string {
    return createHash('sha256').update(RegistryVersions.textOf(loaded)).digest('hex').slice(0, 32);
  }

  /**
   * Keep this registry and make it the one in force; `changed` when it was not already, so the
   * caller marks every partition. Kept as validated, and read back as it is: every process
   * applies exactly the same rules for a hash, whatever version of the validation it runs.
   */
  async adopt(loaded: LoadedRegistry): Promise<{ hash: string; changed: boolean }> {
    const hash = RegistryVersions.hashOf(loaded);
    this.remember(hash, loaded);
    return this.sql.tx(async (t) => {
      await t.run(`INSERT INTO registry_versions (hash, raw) VALUES ($h, $r) ON CONFLICT DO NOTHING`, { h: hash, r: RegistryVersions.textOf(loaded) });
      const [row] = await t.all<{ value: string }>(`SELECT value FROM cluster_meta WHERE key = 'registry' FOR UPDATE`);
      if (row?.value === hash) return { hash, changed: false };
      await t.run(`INSERT INTO cluster_meta VALUES ('registry', $h) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, { h: hash });
      return { hash, changed: true };
    });
  }

  /**
   * Make this registry the one in force and, when it was not, put its marker in every partition's
   * log (before anything a device could send because of it: a device registered now is in the
   * registry of its partition before its first reading).
   */
  async adoptEverywhere(loaded: LoadedRegistry, partitions: number, mark: (partition: number, hash: string) => Promise<unknown>): Promise<{ hash: string; changed: boolean }> {
    const r = await this.adopt(loaded);
    if (r.changed) for (let p = 0; p < partitions; p++) await mark(p, r.hash);
    return r;
  }

  /** The hash in force, and the first one the cluster ran under (what a log before any marker ran under). */
  async current(): Promise<string | null> {
    const [row] = await this.sql.all<{ value: string }>(`SELECT value FROM cluster_meta WHERE key = 'registry'`);
    return row?.value ?? null;
  }

  async first(): Promise<string | null> {
    const [row] = await this.sql.all<{ hash: string }>(`SELECT hash FROM registry_versions ORDER BY at, hash LIMIT 1`);
    return row?.hash ?? null;
  }

  /** A few registries by hash (a replay meets the last few); every registration makes one more. */
  private remember(hash: string, loaded: LoadedRegistry) {
    this.cache.delete(hash);
    this.cache.set(hash, loaded);
    while (this.cache.size > 8) this.cache.delete(this.cache.keys().next().value!);
  }

  /** A registry by its hash. */
  async get(hash: string): Promise<LoadedRegistry> {
    const hit = this.cache.get(hash);
    if (hit) return hit;
    const [row] = await this.sql.all<{ raw: string }>(`SELECT raw FROM registry_versions WHERE hash = $h`, { h: hash });
    if (!row) throw new Error(`no registry ${hash} in the cluster's database`);
    const kept = JSON.parse(row.raw) as { file: LoadedRegistry['file']; rules: [string, LoadedRegistry['rules'] extends Map<string, infer R> ? R : never][] };
    const loaded: LoadedRegistry = { file: kept.file, rules: new Map(kept.rules) };
    this.remember(hash, loaded);
    return loaded;
  }
}
