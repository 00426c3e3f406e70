/**
 * Rectification items (隐患整改), as plain functions over data. An item is opened from an alert or
 * an inspection with a deadline; the enterprise reports what it rectified; the regulator signs it
 * off (验收销号) or returns it. Past its deadline and not signed off it is overdue, once.
 *
 *   open ──rectified (enterprise)──▶ rectified ──signoff accepted (regulator)──▶ closed
 *    ▲                                   │
 *    └────────signoff returned───────────┘
 */
export type HazardState = 'open' | 'rectified' | 'closed';

export interface Hazard {
  id: string;
  enterpriseId: string;
  region: string;
  industry: string;
  /** the alert it was opened from, or null (an inspection) */
  alertId: string | null;
  description: string;
  dueAt: number;
  state: HazardState;
  openedAt: number;
  openedBy: string;
  rectification: { measures: string; photos: string[]; at: number; by: string } | null;
  signoff: { accepted: boolean; note: string; at: number; by: string } | null;
  /** when it was found past its deadline (escalated once) */
  overdueAt: number | null;
  closedAt: number | null;
}

export interface HazardEvent {
  hazardId: string;
  at: number;
  type: 'opened' | 'rectified' | 'returned' | 'signed_off' | 'overdue';
  actor: string;
  detail?: Record<string, unknown>;
}

export interface HazardStep {
  hazard: Hazard;
  event: HazardEvent;
}

export class HazardError extends Error {
  constructor(
    readonly code: 'HAZARD_CLOSED' | 'NOT_RECTIFIED' | 'ALREADY_RECTIFIED',
    message: string,
  ) {
    super(message);
  }
}

export function openHazard(input: Pick<Hazard, 'id' | 'enterpriseId' | 'region' | 'industry' | 'alertId' | 'description' | 'dueAt'>, by: string, at: number): HazardStep {
  const hazard: Hazard = { ...input, state: 'open', openedAt: at, openedBy: by, rectification: null, signoff: null, overdueAt: null, closedAt: null };
  return { hazard, event: { hazardId: hazard.id, at, type: 'opened', actor: by, detail: { description: input.description, dueAt: new Date(input.dueAt).toISOString(), alertId: input.alertId } } };
}

export function rectify(h: Hazard, by: string, at: number, measures: string, photos: string[]): HazardStep {
  if (h.state === 'closed') throw new HazardError('HAZARD_CLOSED', 'the item is signed off already');
  if (h.state === 'rectified') throw new HazardError('ALREADY_RECTIFIED', 'the rectification waits for the regulator');
  return { hazard: { ...h, state: 'rectified', rectification: { measures, photos, at, by } }, event: { hazardId: h.id, at, type: 'rectified', actor: by, detail: { measures, photos } } };
}

export function signOff(h: Hazard, by: string, at: number, accepted: boolean, note: string): HazardStep {
  if (h.state === 'closed') throw new HazardError('HAZARD_CLOSED', 'the item is signed off already');
  if (h.state !== 'rectified') throw new HazardError('NOT_RECTIFIED', 'the enterprise has not reported its rectification yet');
  const signoff = { accepted, note, at, by };
  return accepted
    ? { hazard: { ...h, state: 'closed', signoff, closedAt: at }, event: { hazardId: h.id, at, type: 'signed_off', actor: by, detail: { note } } }
    : { hazard: { ...h, state: 'open', signoff }, event: { hazardId: h.id, at, type: 'returned', actor: by, detail: { note } } };
}

/** Past its deadline and not signed off: overdue, once. */
export function overdue(h: Hazard, now: number): HazardStep | null {
  if (h.state === 'closed' || h.overdueAt !== null || now < h.dueAt) return null;
  return { hazard: { ...h, overdueAt: now }, event: { hazardId: h.id, at: now, type: 'overdue', actor: 'system', detail: { dueAt: new Date(h.dueAt).toISOString() } } };
}
