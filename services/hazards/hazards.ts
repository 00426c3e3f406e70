import { randomUUID } from 'node:crypto';
import type { Outcome } from '../../domain/types.ts';
import { openHazard, overdue, rectify, signOff, type Hazard, type HazardStep } from './hazard.ts';
import type { HazardStore } from './hazard-store.ts';

/**
 * Rectification items as the service runs them: each step saved with its record line, audited,
 * and an item past its deadline raised as an alert of its enterprise (`hazard-overdue`, routed to
 * the township and the regulator too), cleared when the item is signed off.
 */
export interface HazardDeps {
  store: HazardStore;
  clock(): number;
  audit(actor: string, action: string, subject: string, detail: unknown): void;
  /** alert outcomes for the book */
  raise(o: Outcome): void;
  newId?(): string;
}

export class HazardNotFound extends Error {}

export class Hazards {
  constructor(private readonly deps: HazardDeps) {}

  async open(input: Pick<Hazard, 'enterpriseId' | 'region' | 'industry' | 'alertId' | 'description' | 'dueAt'>, by: string): Promise<Hazard> {
    return this.apply(openHazard({ ...input, id: (this.deps.newId ?? randomUUID)() }, by, this.deps.clock()));
  }

  async get(id: string) {
    const found = await this.deps.store.get(id);
    if (!found) throw new HazardNotFound(id);
    return found;
  }

  async rectify(id: string, by: string, measures: string, photos: string[]): Promise<Hazard> {
    return this.apply(rectify((await this.get(id)).hazard, by, this.deps.clock(), measures, photos));
  }

  async signOff(id: string, by: string, accepted: boolean, note: string): Promise<Hazard> {
    const step = signOff((await this.get(id)).hazard, by, this.deps.clock(), accepted, note);
    const h = await this.apply(step);
    if (h.state === 'closed' && h.overdueAt !== null) this.deps.raise(overdueOutcome(h, 'clear', this.deps.clock()));
    return h;
  }

  /** Items past their deadline: each found overdue once, and raised for the regulator. */
  async sweep(): Promise<void> {
    const now = this.deps.clock();
    for (const h of await this.deps.store.due(now)) {
      const step = overdue(h, now);
      if (!step) continue;
      await this.apply(step);
      this.deps.raise(overdueOutcome(step.hazard, 'raise', now));
    }
  }

  private async apply(step: HazardStep): Promise<Hazard> {
    await this.deps.store.save(step);
    this.deps.audit(step.event.actor, `hazard.${step.event.type}`, step.hazard.id, { enterpriseId: step.hazard.enterpriseId, ...step.event.detail });
    return step.hazard;
  }
}

function overdueOutcome(h: Hazard, change: 'raise' | 'clear', at: number): Outcome {
  return {
    key: `_hazard/hazard-overdue/${h.id}`,
    change,
    ruleId: 'hazard-overdue',
    ruleKind: 'hazard',
    enterpriseId: h.enterpriseId,
    deviceId: '_hazard',
    metric: '_hazard',
    pointId: null,
    pointName: null,
    severity: change === 'raise' ? 'major' : null,
    value: null,
    peak: null,
    threshold: null,
    at,
    message:
      change === 'raise'
        ? `隐患整改逾期未销号：${h.description}（期限 ${new Date(h.dueAt).toISOString()}）/ rectification item past its deadline and not signed off: ${h.description}`
        : `隐患已验收销号 / rectification item signed off: ${h.description}`,
  };
}
