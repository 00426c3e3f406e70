import type { DeviceStatusNow } from '../devices/device-status.ts';
import type { DeviceStatus } from '../devices/live-status.ts';
import type { Sql, SqlRunner } from '../store/sql.ts';

/**
 * What the API shows of each device in cluster mode (connected, last heard, last values): the
 * owner of its partition keeps it in PostgreSQL, written a few times a second at most, and API
 * nodes read it. The owner's epoch is checked with every write, so a worker that lost the
 * partition cannot write an old picture over the new owner's.
 */
export class DeviceStatusTable {
  private online = 0;

  private constructor(private readonly sql: Sql) {}

  static async open(sql: Sql): Promise<DeviceStatusTable> {
    await sql.run(`CREATE TABLE IF NOT EXISTS device_status (device VARCHAR PRIMARY KEY, connected BOOLEAN NOT NULL, reported VARCHAR,
      last_seen BIGINT, last_values TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    return new DeviceStatusTable(sql);
  }

  async write(t: SqlRunner, rows: [string, DeviceStatus][]): Promise<void> {
    for (let k = 0; k < rows.length; k += 200) {
      const part = rows.slice(k, k + 200);
      const params: Record<string, string | number | boolean | null> = {};
      const tuples = part.map(([id, s], j) => {
        Object.assign(params, { [`d${j}`]: id, [`c${j}`]: s.connected, [`r${j}`]: s.reported, [`l${j}`]: s.lastSeen, [`v${j}`]: JSON.stringify(s.lastValues) });
        return `($d${j}, $c${j}, $r${j}, $l${j}, $v${j})`;
      });
      await t.run(
        `INSERT INTO device_status (device, connected, reported, last_seen, last_values) VALUES ${tuples.join(', ')}
         ON CONFLICT (device) DO UPDATE SET connected = excluded.connected, reported = excluded.reported, last_seen = excluded.last_seen, last_values = excluded.last_values, updated_at = now()`,
        params,
      );
    }
  }

  async many(deviceIds: string[]): Promise<Map<string, DeviceStatusNow>> {
    const out = new Map<string, DeviceStatusNow>();
    for (let i = 0; i < deviceIds.length; i += 500) {
      const slice = deviceIds.slice(i, i + 500);
      const rows = await this.sql.all<{ device: string; connected: boolean; reported: 'online' | 'offline' | null; last_seen: number | null; last_values: string }>(
        `SELECT device, connected, reported, last_seen, last_values FROM device_status WHERE device IN (${slice.map((_, j) => `$d${j}`).join(', ')})`,
        Object.fromEntries(slice.map((id, j) => [`d${j}`, id])),
      );
      for (const r of rows) {
        const lastValues = Object.assign(Object.create(null) as DeviceStatus['lastValues'], JSON.parse(r.last_values) as DeviceStatus['lastValues']);
        out.set(r.device, { connected: r.connected, reported: r.reported, lastSeen: r.last_seen === null ? null : Number(r.last_seen), lastValues, online: r.connected && r.reported !== 'offline' });
      }
    }
    for (const id of deviceIds) if (!out.has(id)) out.set(id, { connected: false, reported: null, lastSeen: null, lastValues: Object.create(null) as DeviceStatus['lastValues'], online: false });
    return out;
  }

  async get(deviceId: string): Promise<DeviceStatusNow> {
    return (await this.many([deviceId])).get(deviceId)!;
  }

  /** Devices online, as last counted (refreshed by `count`). */
  onlineCount(): number {
    return this.online;
  }

  async count(): Promise<number> {
    const [r] = await this.sql.all<{ n: number }>(`SELECT count(*) AS n FROM device_status WHERE connected AND (reported IS NULL OR reported <> 'offline')`);
    return (this.online = Number(r?.n ?? 0));
  }
}
