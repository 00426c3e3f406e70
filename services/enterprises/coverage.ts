import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { mustConnect } from './profile.ts';

/**
 * Coverage, for the regulator (联网覆盖): which enterprises must be connected, which are (have a
 * device that has ever reported), which are online now, when each was last heard, and the online
 * rate since each device was first seen: time before a device existed is not counted as offline.
 */
export interface CoverageRow {
  enterpriseId: string;
  name: string;
  region: string;
  industry: string;
  riskGrade: string | null;
  mustConnect: boolean;
  mustConnectWhy: string;
  devices: number;
  connected: boolean;
  online: number;
  lastReading: string | null;
  /** readings' windows seen / expected since first seen within the period; null: never heard */
  onlineRate: number | null;
}

export interface CoverageDeps {
  registry: Registry;
  telemetry: Pick<TelemetryStore, 'coverage' | 'firstSeen'>;
  /** each device's status now: connected, and when it was last heard */
  status(deviceIds: string[]): Promise<Map<string, { online: boolean; lastSeen: number | null }>>;
}

export async function coverage(deps: CoverageDeps, q: { from: number; to: number; enterpriseIds: string[] }): Promise<CoverageRow[]> {
  const rows: CoverageRow[] = [];
  const statuses = await deps.status(q.enterpriseIds.flatMap((id) => deps.registry.enterprises.get(id)?.devices.map((d) => d.id) ?? []));
  for (const id of q.enterpriseIds) {
    const ent = deps.registry.enterprises.get(id);
    if (!ent) continue;
    let expected = 0;
    let seen = 0;
    let heard = false;
    let online = 0;
    let last: number | null = null;
    for (const d of ent.devices) {
      const s = statuses.get(d.id) ?? { online: false, lastSeen: null };
      if (s.online) online++;
      if (s.lastSeen !== null && (last === null || s.lastSeen > last)) last = s.lastSeen;
      const first = await deps.telemetry.firstSeen(d.id);
      if (first === null) continue;
      heard = true;
      const bucket = d.reportIntervalS * 1000;
      const start = Math.max(q.from, first);
      if (start >= q.to) continue;
      expected += Math.max(1, Math.floor((q.to - start) / bucket));
      seen += await deps.telemetry.coverage(d.id, bucket, start, q.to);
    }
    const must = mustConnect(ent);
    rows.push({
      enterpriseId: id,
      name: ent.name,
      region: ent.region,
      industry: ent.industry,
      riskGrade: ent.profile?.riskGrade ?? null,
      mustConnect: must.must,
      mustConnectWhy: must.why,
      devices: ent.devices.length,
      connected: heard,
      online,
      lastReading: last === null ? null : new Date(last).toISOString(),
      onlineRate: expected ? Math.min(1, Math.round((seen / expected) * 1000) / 1000) : null,
    });
  }
  return rows;
}
