import { bareRecord, type Quality, type Reading, type Value } from '../../domain/types.ts';
import { BIT, type ComponentStatus, type Item, type SystemStatus } from './application.ts';
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

/**
 * Readings for the items of one frame. `now` stands in for a time label that is not a real date
 * or lies beyond `maxSkewMs` in the future (a panel's clock must not hide a fire in the future).
 */
export function readingsOf(device: PanelDevice, items: readonly Item[], now: number, maxSkewMs: number): { readings: Reading[]; unmapped: Unmapped[]; badTimes: number } {
  const readings: Reading[] = [];
  const unmapped: Unmapped[] = [];
  let badTimes = 0;
  for (const it of items) {
    if (it.type === 21) continue;
    const { fire, fault } = bits(it);
    const stamped = it.time ? timeOf(it.time) : null;
    const ts = stamped !== null && stamped <= now + maxSkewMs ? stamped : now;
    if (it.time && ts === now && stamped !== now) badTimes++;
    const reading = (values: Record<string, Value>, quality?: Record<string, Quality>): Reading => ({ enterpriseId: device.enterpriseId, deviceId: device.deviceId, ts, values, ...(quality ? { quality } : {}) });
    const faultPoint = pointFor(device.points, it, true);
    const point = pointFor(device.points, it);
    if (faultPoint) readings.push(reading(one(faultPoint.id, fault)));
    // a component's fault is the quality of its point; a system's goes to its fault point
    if (point) readings.push(reading(one(point.id, fire), fault && !faultPoint ? one<Quality>(point.id, 'fault') : undefined));
    if (!point && (fire || !faultPoint)) unmapped.push({ item: it, fire, fault });
  }
  return { readings, unmapped, badTimes };
}
