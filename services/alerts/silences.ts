import { randomUUID } from 'node:crypto';
import type { Sql } from '../store/sql.ts';

/**
 * Maintenance windows and silences: for a while, an enterprise's (or one device's, or one rule's)
 * alerts are still raised and recorded, but nobody is notified. Every silence has a reason, an
 * author and an end; its start and its end are themselves announced and recorded.
 */
export interface Silence {
  id: string;
  enterpriseId: string;
  deviceId: string | null;
  rule: string | null;
  reason: string;
  by: string;
  from: number;
  until: number;
  createdAt: number;
  /** ended early by a person */
  endedAt: number | null;
  endedBy: string | null;
  /** from the registry's `maintenance` list rather than the API */
  source: 'api' | 'registry';
  startAnnounced: boolean;
  endAnnounced: boolean;
}

export function covers(s: Silence, a: { enterpriseId: string; deviceId: string; rule: string }, now: number): boolean {
  return (
    s.enterpriseId === a.enterpriseId &&
    (s.deviceId === null || s.deviceId === a.deviceId) &&
    (s.rule === null || s.rule === a.rule) &&
    now >= s.from &&
    now < (s.endedAt ?? s.until)
  );
}

export const endOf = (s: Silence) => s.endedAt ?? s.until;

export class Silences {
  private api: Silence[] = [];
  private fromRegistry: Silence[] = [];
  private readonly listeners: ((s?: Silence) => void)[] = [];

  private constructor(private readonly conn: Sql) {}

  static async create(conn: Sql) {
    await conn.run(`CREATE TABLE IF NOT EXISTS silences (id VARCHAR PRIMARY KEY, doc VARCHAR NOT NULL)`);
    const s = new Silences(conn);
    await s.reload();
    return s;
  }

  /** Read the silences again (cluster mode: another node added or ended one). */
  async reload() {
    this.api = (await this.conn.all<{ doc: string }>('SELECT doc FROM silences')).map((r) => JSON.parse(r.doc) as Silence);
    this.changed();
  }

  /** Heard after every change: a silence added or ended (that one), the registry's windows replaced or all read again. */
  onChange(fn: (s?: Silence) => void) {
    this.listeners.push(fn);
  }

  private changed(s?: Silence) {
    for (const fn of this.listeners) {
      try {
        fn(s);
      } catch {
        // a listener's trouble is its own; the silence stands
      }
    }
  }

  /**
   * The registry's maintenance windows; their announcements are kept across reloads by id.
   * Returns the windows that are new, for the audit trail.
   */
  useRegistry(entries: { enterprise: string; device?: string; from: string; to: string; reason: string; by: string }[]): Silence[] {
    const before = new Map(this.fromRegistry.map((s) => [s.id, s]));
    const next: Silence[] = entries.map((m) => {
      const from = Date.parse(m.from);
      const id = `registry:${m.enterprise}:${m.device ?? '*'}:${from}`;
      const old = before.get(id);
      return {
        id,
        enterpriseId: m.enterprise,
        deviceId: m.device ?? null,
        rule: null,
        reason: m.reason,
        by: m.by,
        from,
        until: Date.parse(m.to),
        createdAt: from,
        endedAt: null,
        endedBy: null,
        source: 'registry',
        startAnnounced: old?.startAnnounced ?? false,
        endAnnounced: old?.endAnnounced ?? false,
      };
    });
    this.fromRegistry = next;
    this.changed();
    return next.filter((s) => !before.has(s.id));
  }

  all(): Silence[] {
    return [...this.fromRegistry, ...this.api];
  }

  matching(a: { enterpriseId: string; deviceId: string; rule: string }, now: number): Silence | undefined {
    return this.all().find((s) => covers(s, a, now));
  }

  /**
   * Whether a device may mark its values `maintenance` at `at`: a maintenance window or a silence
   * of the whole device (or its enterprise) covers it. A silence of one rule does not.
   */
  /** The silences and windows of whole devices or enterprises, as plain spans (for the rules). */
  maintenanceSpans(): { enterpriseId: string; deviceId: string | null; from: number; until: number }[] {
    return this.all()
      .filter((s) => s.rule === null)
      .map((s) => ({ enterpriseId: s.enterpriseId, deviceId: s.deviceId, from: s.from, until: endOf(s) }));
  }

  async add(input: Omit<Silence, 'id' | 'createdAt' | 'endedAt' | 'endedBy' | 'source' | 'startAnnounced' | 'endAnnounced'>, now: number): Promise<Silence> {
    const s: Silence = { ...input, id: randomUUID(), createdAt: now, endedAt: null, endedBy: null, source: 'api', startAnnounced: false, endAnnounced: false };
    await this.save(s);
    this.api.push(s);
    this.changed(s);
    return s;
  }

  async end(id: string, by: string, now: number): Promise<Silence | undefined> {
    const s = this.api.find((x) => x.id === id);
    if (!s || endOf(s) <= now) return s;
    s.endedAt = now;
    s.endedBy = by;
    await this.save(s);
    this.changed(s);
    return s;
  }

  /** Silences whose start or end has come and has not been announced yet (marked as announced). */
  async due(now: number): Promise<{ started: Silence[]; ended: Silence[] }> {
    const started: Silence[] = [];
    const ended: Silence[] = [];
    for (const s of this.all()) {
      let changed = false;
      if (!s.startAnnounced && now >= s.from && now < endOf(s)) (s.startAnnounced = true), started.push(s), (changed = true);
      if (!s.endAnnounced && now >= endOf(s)) (s.endAnnounced = true), (s.startAnnounced = true), ended.push(s), (changed = true);
      if (changed && s.source === 'api') await this.save(s);
    }
    return { started, ended };
  }

  private save(s: Silence) {
    return this.conn.run('INSERT INTO silences VALUES ($id, $doc) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc', { id: s.id, doc: JSON.stringify(s) });
  }
}
