import type { Outcome } from '../../domain/types.ts';
import { panelUnmapped, panelUnmappedMore } from './system-alerts.ts';

/**
 * Fire and fault reports from panel components that no registry point stands for, as system
 * alerts: one per component while there are few, so each is seen with its addresses; past
 * `perPanel` at once, the rest of that panel's are counted in one alert. A panel reporting
 * thousands of unregistered detectors (a fault storm, or someone posing as the panel) then costs
 * a few dozen alerts, not thousands, and the book is not flooded while real fires wait.
 */
export interface UnmappedReport {
  /** which component (its addresses) */
  from: string;
  /** where, in words */
  where: string;
  fire: boolean;
  fault: boolean;
}

interface PanelState {
  /** components with an alert of their own, alarming now */
  own: Set<string>;
  /** alarming components counted in the panel's summary alert (bounded: beyond it, only counted) */
  more: Set<string>;
  moreFire: boolean;
}

export class UnmappedAlarms {
  private readonly panels = new Map<string, PanelState>();

  constructor(
    private readonly perPanel = 32,
    private readonly trackedMore = 4096,
  ) {}

  /** What these reports change, as outcomes for the alert book (nothing when nothing changes). */
  report(device: { enterpriseId: string; deviceId: string }, reports: readonly UnmappedReport[], at: number): Outcome[] {
    let p = this.panels.get(device.deviceId);
    if (!p) this.panels.set(device.deviceId, (p = { own: new Set(), more: new Set(), moreFire: false }));
    const out: Outcome[] = [];
    const moreBefore = p.more.size;
    const moreFireBefore = p.moreFire;
    for (const r of reports) {
      const alarming = r.fire || r.fault;
      if (p.own.has(r.from) || (alarming && p.own.size < this.perPanel && !p.more.has(r.from))) {
        if (alarming) p.own.add(r.from);
        else p.own.delete(r.from);
        out.push(panelUnmapped(device, r.from, r.where, r.fire, r.fault, at));
        continue;
      }
      if (alarming) {
        if (p.more.size < this.trackedMore) p.more.add(r.from);
        p.moreFire ||= r.fire;
      } else p.more.delete(r.from);
    }
    if (p.more.size === 0) p.moreFire = false;
    // said when it starts or ends, turns to fire, or the count doubles or halves: not at every report
    const n = p.more.size;
    const said = (x: number) => (x === 0 ? -1 : Math.floor(Math.log2(x)));
    if (p.moreFire !== moreFireBefore || said(n) !== said(moreBefore)) out.push(panelUnmappedMore(device, n, this.perPanel, p.moreFire, at));
    return out;
  }
}
