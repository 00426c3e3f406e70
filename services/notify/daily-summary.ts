import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import type { Notice } from './outbox.ts';
import { previousDayCst } from '../../domain/cst.ts';
import { renderDailySummary, summarize, type SummarySources } from '../alerts/reports.ts';

/** Each regulator unit with a channel gets the previous calendar day's summary (CST) of its regions. */
export interface DailySummaryDeps extends Omit<SummarySources, 'registry'> {
  registry(): Registry;
  clock(): number;
  /** the channel ids a unit can be reached on */
  channelsOf(unit: UnitConfig): string[];
  enqueue(notices: Notice[]): Promise<void>;
}

export async function sendDailySummaries(deps: DailySummaryDeps): Promise<void> {
  const registry = deps.registry();
  const { from, to } = previousDayCst(deps.clock());
  for (const unit of registry.units.values()) {
    const channels = deps.channelsOf(unit);
    if (unit.kind !== 'regulator' || !channels.length) continue;
    const ids = [...registry.enterprises.values()].filter((e) => unit.regions.some((r) => e.region.startsWith(r))).map((e) => e.id);
    const rows = await summarize({ ...deps, registry }, { from, to, enterpriseIds: ids });
    const msg = renderDailySummary(unit.name, rows, from, to);
    const body = { notice: 'summary' as const, ...msg, data: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), items: rows } };
    await deps.enqueue(channels.map((channel) => ({ unitId: unit.id, channel, alertId: null, body, urgent: true, enterpriseId: ids[0] ?? '' })));
  }
}
