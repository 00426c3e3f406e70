import type { OutboxStore } from './outbox-store.ts';

/**
 * Who has been told of each alert, read from the outbox: a unit counts as told once a notice of
 * the alert is queued for it there (the queued row is what promises delivery). Open alerts are
 * held in memory so that a raise and its clear committed together see each other's units; closed
 * ones are asked of the outbox.
 */
export class ToldUnits {
  private readonly open = new Map<string, Set<string>>();

  constructor(private readonly store: Pick<OutboxStore, 'told'>) {}

  /** After a start: the units told of the alerts still open. */
  async load(alertIds: string[]): Promise<void> {
    for (const [id, units] of await this.store.told(alertIds)) this.open.set(id, new Set(units));
  }

  /** Called by the outbox as it queues notices, before it awaits anything. */
  note(alertId: string, unitIds: Iterable<string>) {
    let told = this.open.get(alertId);
    if (!told) this.open.set(alertId, (told = new Set()));
    for (const u of unitIds) told.add(u);
  }

  /** The units told of an open alert so far. */
  of(alertId: string): string[] {
    return [...(this.open.get(alertId) ?? [])];
  }

  anyone(alertId: string): boolean {
    return (this.open.get(alertId)?.size ?? 0) > 0;
  }

  /** A closed alert's told units stay in the outbox only. */
  forget(alertId: string) {
    this.open.delete(alertId);
  }

  /** For any alerts, open or closed (the API). */
  async ofMany(alertIds: string[]): Promise<Map<string, string[]>> {
    const stored = await this.store.told(alertIds);
    return new Map(alertIds.map((id) => [id, [...new Set([...(stored.get(id) ?? []), ...this.of(id)])].sort()]));
  }
}
