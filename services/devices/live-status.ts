import { bareRecord, type Reading, type Value } from '../../domain/types.ts';

/** What the enterprise list shows per device: is it there, when was it last heard, what did it say. */
export interface DeviceStatus {
  /** an MQTT session is open */
  connected: boolean;
  /** what the device last said on its status topic (its last will says offline) */
  reported: 'online' | 'offline' | null;
  lastSeen: number | null;
  lastValues: Record<string, { value: Value; ts: number }>;
  /** the connection it is connected over (cluster mode) */
  via?: string;
}

export class LiveStatus {
  private readonly devices = new Map<string, DeviceStatus>();

  private of(deviceId: string): DeviceStatus {
    let s = this.devices.get(deviceId);
    if (!s) this.devices.set(deviceId, (s = { connected: false, reported: null, lastSeen: null, lastValues: bareRecord<{ value: Value; ts: number }>() }));
    return s;
  }

  onReadings(readings: Reading[], now: number) {
    for (const r of readings) {
      const s = this.of(r.deviceId);
      s.lastSeen = Math.max(s.lastSeen ?? 0, now);
      for (const [m, v] of Object.entries(r.values)) {
        const prev = s.lastValues[m];
        if (!prev || prev.ts <= r.ts) s.lastValues[m] = { value: v, ts: r.ts };
      }
    }
  }

  /**
   * `via`: the connection it came over (cluster mode: an edge and its client). A device that moved
   * to another edge is connected there: the first edge noticing late that it went (its
   * disconnection, its last will) is not news. True when the news counts.
   */
  onLink(deviceId: string, link: 'online' | 'offline' | 'connected' | 'disconnected', at: number, via?: string): boolean {
    const s = this.of(deviceId);
    if (link === 'connected') (s.connected = true), (s.reported = null), (s.via = via);
    else {
      if ((link === 'disconnected' || link === 'offline') && via !== undefined && s.via !== undefined && via !== s.via) return false;
      if (link === 'disconnected') s.connected = false;
      else s.reported = link;
    }
    s.lastSeen = at;
    return true;
  }

  /** After a restart: the last values stored, so the list is not empty until devices report. */
  seed(deviceId: string, metric: string, value: Value, ts: number) {
    const s = this.of(deviceId);
    if (!s.lastValues[metric] || s.lastValues[metric].ts < ts) s.lastValues[metric] = { value, ts };
    s.lastSeen = Math.max(s.lastSeen ?? 0, ts);
  }

  /** Every device's status as data (a cluster's partition snapshot), and taken back. */
  export(): [string, DeviceStatus][] {
    return [...this.devices];
  }

  import(devices: [string, DeviceStatus][]) {
    this.devices.clear();
    for (const [id, s] of devices) this.devices.set(id, { ...s, lastValues: Object.assign(bareRecord<{ value: Value; ts: number }>(), s.lastValues) });
  }

  /** Has the point ever had a value (since the store's last values were taken back at the start)? */
  hasValue(deviceId: string, point: string): boolean {
    const s = this.devices.get(deviceId);
    return s !== undefined && Object.hasOwn(s.lastValues, point);
  }

  get(deviceId: string) {
    const s = this.of(deviceId);
    return { online: s.connected && s.reported !== 'offline', ...s };
  }

  onlineCount(): number {
    let n = 0;
    for (const s of this.devices.values()) if (s.connected && s.reported !== 'offline') n++;
    return n;
  }
}
