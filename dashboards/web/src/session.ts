import { api } from './api.ts';

/** Who is logged in, and the enterprises they may see (with live device status). */
export interface Me {
  name: string;
  role: 'operator' | 'regulator' | 'enterprise';
  regions: string[];
  enterpriseId: string | null;
}

export interface Device {
  id: string;
  name: string | null;
  reportIntervalS: number;
  templates: string[];
  /** `id`: values are keyed by it (a point without an id of its own has its metric as id) */
  points: { id: string; metric: string; unit?: string; range?: [number, number]; name?: string }[];
  limits: { metric: string; rule: string; direction: 'above' | 'below'; severity: string; value: number }[];
  online: boolean;
  connected: boolean;
  /** its readings are held back (they ended the reading pipeline again and again) until then */
  heldBackUntil: string | null;
  lastSeen: string | null;
  lastValues: Record<string, { value: number | boolean; ts: string }>;
  openAlerts: number;
}

export interface Enterprise {
  /** 一企一档 */
  profile?: { exposedWorkers?: number; dustType?: string; majorHazardLevel?: number; riskGrade?: string; mustConnect: boolean };
  id: string;
  name: string;
  industry: string;
  region: string;
  units: { id: string; name: string; kind: string }[];
  openAlerts: number;
  devices: Device[];
}

export interface Alert {
  id: string;
  enterpriseId: string;
  deviceId: string;
  metric: string;
  pointId?: string | null;
  pointName?: string | null;
  /** alerts that need a review to close have a feedback deadline */
  feedbackDueAt?: string | null;
  feedback?: { cause: string; measures: string; disposition: string; photos: string[]; at: string; by: string } | null;
  review?: { state: 'awaiting' | 'returned'; note: string | null; at: string; by: string | null } | null;
  rule: string;
  ruleKind: string;
  severity: string;
  /** the worst it reached */
  peakSeverity?: string;
  state: 'active' | 'cleared' | 'closed';
  region: string;
  industry: string;
  acknowledged: boolean;
  flapping: boolean;
  value: number | boolean | null;
  peak: number | boolean | null;
  threshold: number | null;
  message: string;
  raisedAt: string;
  /** the raise, or the latest reactivation */
  activatedAt?: string;
  ackAt: string | null;
  ackBy?: string | null;
  clearedAt: string | null;
  closedAt: string | null;
  closedBy?: string | null;
  disposition?: string | null;
  closeNote?: string | null;
  units: string[];
}

export const session = {
  me: null as Me | null,
  enterprises: [] as Enterprise[],
  names: new Map<string, string>(),
  async refresh() {
    const { items } = await api.get<{ items: Enterprise[] }>('/api/enterprises');
    session.enterprises = items;
    for (const e of items) session.names.set(e.id, e.name);
    return items;
  },
  /** May this caller acknowledge and close alerts of the enterprise? */
  handles(enterpriseId: string) {
    const me = session.me;
    return !!me && (me.role === 'operator' || (me.role === 'enterprise' && me.enterpriseId === enterpriseId));
  },
  /** The township or regulator of the region (or an operator) reviews feedback. */
  reviews(enterpriseId: string) {
    const me = session.me;
    return !!me && (me.role === 'operator' || (me.role === 'regulator' && session.names.has(enterpriseId)));
  },
};

/** A county as people name it: by its regulator (泰兴市应急管理局 → 泰兴市), the code beside. */
export function regionName(code: string): string {
  for (const e of session.enterprises) {
    if (e.region.slice(0, 6) !== code) continue;
    const reg = e.units.find((u) => u.kind === 'regulator');
    if (reg) return `${reg.name.replace(/应急管理局$/, '')} ${code}`;
  }
  return code;
}

/** A device as people name it: its name, else its id. */
export function deviceName(enterpriseId: string, deviceId: string): string {
  return session.enterprises.find((e) => e.id === enterpriseId)?.devices.find((d) => d.id === deviceId)?.name ?? deviceId;
}
