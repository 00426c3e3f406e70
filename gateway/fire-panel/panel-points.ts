import { bareRecord, type Quality, type Reading, type Value } from '../../domain/types.ts';
import { BIT, DEVICE_BIT, type ComponentStatus, type Item, type SystemStatus } from './application.ts';
import { timeOf } from './frame.ts';

/**
 * A panel's reports as readings of its registry device: each system or component finds the point
 * that stands for it (the most specific `panel` match). A fire-panel-fault point takes the fault
 * bits; any other point takes the fire bit as its value, and a fault as its quality. A report
 * with neither is the recovery: the value false, the quality good.
 */
export interface PanelMatch {
  systemType?: number;
  systemAddress?: number;
  componentType?: number;
  componentAddress?: number;
}

export interface PanelPoint {
  id: string;
  metric: string;
  panel?: PanelMatch;
}

export interface PanelDevice {
  enterpriseId: string;
  deviceId: string;
  points: readonly PanelPoint[];
}

/** A report no point stands for: kept aside so a fire from it still reaches someone. */
export interface Unmapped {
  item: SystemStatus | ComponentStatus;
  fire: boolean;
  fault: boolean;
  /** the transmission device's own state (type 21) */
  device?: boolean;
}

/** An unmapped report as people read it: which component (its addresses), where, in words. */
export function describeUnmapped(u: Unmapped): { from: string; where: string; fire: boolean; fault: boolean } {
  const it = u.item;
  const where = u.device
    ? '用户信息传输装置 / the transmission device'
    : it.type === 2
      ? `系统 ${it.systemType}/${it.systemAddress} 部件 ${it.componentType}/${it.componentAddress}${it.description ? ` ${it.description}` : ''}`
      : `系统 ${it.systemType}/${it.systemAddress}`;
  return { from: u.device ? 'device' : componentKey(it), where, fire: u.fire, fault: u.fault };
}

const FAULT_METRIC = 'fire_panel_fault';

function specificity(m: PanelMatch): number {
  return (m.systemType !== undefined ? 1 : 0) + (m.systemAddress !== undefined ? 1 : 0) + (m.componentType !== undefined ? 2 : 0) + (m.componentAddress !== undefined ? 4 : 0);
}

function matches(m: PanelMatch, it: SystemStatus | ComponentStatus): boolean {
  if (m.systemType !== undefined && m.systemType !== it.systemType) return false;
  if (m.systemAddress !== undefined && m.systemAddress !== it.systemAddress) return false;
  if (it.type === 1) return m.componentType === undefined && m.componentAddress === undefined;
  if (m.componentType !== undefined && m.componentType !== it.componentType) return false;
  return m.componentAddress === undefined || m.componentAddress === it.componentAddress;
}

/**
 * The point a report goes to: for a fault point (`faults`) or any other. A component's report
 * never goes to a fault point: a fire there would be read as "no fault" and lost.
 */
export function pointFor(points: readonly PanelPoint[], it: SystemStatus | ComponentStatus, faults = false): PanelPoint | undefined {
  if (faults && it.type === 2) return undefined;
  let best: PanelPoint | undefined;
  for (const p of points)
    if (p.panel && (p.metric === FAULT_METRIC) === faults && matches(p.panel, it) && (!best || specificity(p.panel) > specificity(best.panel!))) best = p;
  return best;
}

function one<T>(id: string, v: T): Record<string, T> {
  const r = bareRecord<T>();
  r[id] = v;
  return r;
}

const bits = (it: SystemStatus | ComponentStatus) => ({
  fire: (it.status & BIT.fire) !== 0,
  fault: (it.status & BIT.fault) !== 0 || (it.type === 1 ? (it.status & (BIT.mainPower | BIT.backupPower | BIT.bus)) !== 0 : (it.status & BIT.componentPower) !== 0),
});

/** A panel's clock further behind than this is not believed either (a reset clock says 2000-01-01). */
export const MAX_PAST_MS = 10 * 60_000;

/**
 * What each component behind a shared point last said. A point may stand for many detectors (a
 * catch-all, "every gas detector"): it is in fire while any of them is, so one detector's normal
 * report, or a system's, never clears another's fire. Only components in fire or fault are kept,
 * at most `maxPerPoint` a point, and a report costs the same however many are (an outside probe:
 * 170 000 components in fault behind one catch-all, each report walking them all, slowed every
 * enterprise's PUBACKs 4×). Past the bound the oldest fault is let go first; a fire is never
 * cleared by being let go: once one was (thousands of fires at once behind one point), the point
 * stays in fire until the service restarts, whatever the others say
 * (an outside probe cleared a fire by 4 096 other fires that then reported normal).
 */
export class PanelMemory {
  private readonly byPoint = new Map<string, { fires: Set<string>; faults: Set<string>; lostFire: boolean }>();

  constructor(private readonly maxPerPoint = 4096) {}

  /** Notes what one component says and answers what the point says now. */
  note(deviceId: string, pointId: string, component: string, state: { fire: boolean; fault: boolean }): { fire: boolean; fault: boolean } {
    const key = `${deviceId}\n${pointId}`;
    let parts = this.byPoint.get(key);
    if (!parts) this.byPoint.set(key, (parts = { fires: new Set(), faults: new Set(), lostFire: false }));
    const { fires, faults } = parts;
    if (state.fire) fires.add(component);
    else fires.delete(component);
    if (state.fault) faults.add(component);
    else faults.delete(component);
    while (fires.size + faults.size > this.maxPerPoint) {
      if (!faults.size) parts.lostFire = true;
      const oldest = faults.size ? faults : fires;
      oldest.delete(oldest.values().next().value!);
    }
    if (!fires.size && !faults.size && !parts.lostFire) this.byPoint.delete(key);
    return { fire: fires.size > 0 || parts.lostFire, fault: faults.size > 0 };
  }

  /** Components kept for a point (for tests). */
  kept(deviceId: string, pointId: string): number {
    const parts = this.byPoint.get(`${deviceId}\n${pointId}`);
    return parts ? parts.fires.size + parts.faults.size : 0;
  }
}

/** Which system or component a report is from (its addresses, never its description). */
export const componentKey = (it: SystemStatus | ComponentStatus) =>
  it.type === 2 ? `component ${it.systemType}/${it.systemAddress}/${it.componentType}/${it.componentAddress}` : `system ${it.systemType}/${it.systemAddress}`;

/**
 * `after`: the time of the device's last report. A panel reports events as they happen, in order,
 * so each gets a time after the last one: a fire stamped a little earlier than a normal report
 * (two clocks in the panel) must not be taken for an old reading and dropped.
 */
export function readingsOf(device: PanelDevice, items: readonly Item[], now: number, maxSkewMs: number, after = -Infinity, memory = new PanelMemory()): { readings: Reading[]; unmapped: Unmapped[]; badTimes: number } {
  const readings: Reading[] = [];
  const unmapped: Unmapped[] = [];
  let badTimes = 0;
  let last = after;
  for (const it of items) {
    if (it.type === 21) {
      // the transmission device's own state: never a point's (its "normal" would clear a
      // component's fire), but a fire or fault it reports reaches the operators
      const fire = (it.status & DEVICE_BIT.fire) !== 0;
      const fault = (it.status & (DEVICE_BIT.fault | DEVICE_BIT.mainPower | DEVICE_BIT.backupPower | DEVICE_BIT.link)) !== 0;
      unmapped.push({ item: { type: 1, systemType: 0, systemAddress: 0, status: it.status, time: it.time }, fire, fault, device: true });
      continue;
    }
    const { fire, fault } = bits(it);
    const stamped = it.time ? timeOf(it.time) : null;
    const believable = stamped !== null && stamped <= now + maxSkewMs && stamped >= now - MAX_PAST_MS;
    if (it.time && !believable) badTimes++;
    const ts = Math.max(believable ? stamped : now, last + 1);
    last = ts;
    const reading = (values: Record<string, Value>, quality?: Record<string, Quality>): Reading => ({ enterpriseId: device.enterpriseId, deviceId: device.deviceId, ts, values, ...(quality ? { quality } : {}) });
    const faultPoint = pointFor(device.points, it, true);
    const point = pointFor(device.points, it);
    const from = componentKey(it);
    if (faultPoint) readings.push(reading(one(faultPoint.id, memory.note(device.deviceId, faultPoint.id, from, { fire: false, fault }).fault)));
    if (point) {
      // a component's fault is the quality of its point, a system's goes to its fault point; a
      // fire reported with a fault (a detector burning out in the fire it reports) is a fire
      const now = memory.note(device.deviceId, point.id, from, { fire, fault: fault && !fire && !faultPoint });
      readings.push(reading(one(point.id, now.fire), now.fault && !now.fire ? one<Quality>(point.id, 'fault') : undefined));
    }
    if (!point && (fire || !faultPoint)) unmapped.push({ item: it, fire, fault });
  }
  return { readings, unmapped, badTimes };
}
