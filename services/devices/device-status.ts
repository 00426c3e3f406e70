import type { Value } from '../../domain/types.ts';
import type { DeviceStatus, LiveStatus } from './live-status.ts';

/**
 * What the API shows of a device: its connection (heard here, at the MQTT edge) with its last
 * readings (kept by the reading pipeline, which sees them), asked for together.
 */
export type DeviceStatusNow = DeviceStatus & {
  online: boolean;
  /** its messages are held back until then: they ended the reading pipeline again and again */
  heldBackUntil?: number;
};

export interface ReadingsSeen {
  deviceId: string;
  lastSeen: number | null;
  lastValues: Record<string, { value: Value; ts: number }>;
}

export class DeviceStatuses {
  constructor(
    private readonly links: LiveStatus,
    private readonly seen: (deviceIds: string[]) => Promise<ReadingsSeen[]>,
    private readonly heldBack: (deviceId: string) => number | null = () => null,
  ) {}

  async many(deviceIds: string[]): Promise<Map<string, DeviceStatusNow>> {
    // a pipeline that cannot answer (restarting) leaves the connection part, not an error
    const got = await this.seen(deviceIds).catch(() => [] as ReadingsSeen[]);
    const byId = new Map(got.map((s) => [s.deviceId, s]));
    const out = new Map<string, DeviceStatusNow>();
    for (const id of deviceIds) {
      const link = this.links.get(id);
      const r = byId.get(id);
      const lastValues = Object.assign(Object.create(null) as DeviceStatus['lastValues'], r?.lastValues);
      const lastSeen = Math.max(link.lastSeen ?? -Infinity, r?.lastSeen ?? -Infinity);
      const held = this.heldBack(id);
      out.set(id, { ...link, lastValues, lastSeen: Number.isFinite(lastSeen) ? lastSeen : null, ...(held === null ? {} : { heldBackUntil: held }) });
    }
    return out;
  }

  async get(deviceId: string): Promise<DeviceStatusNow> {
    return (await this.many([deviceId])).get(deviceId)!;
  }

  onlineCount(): number {
    return this.links.onlineCount();
  }
}
