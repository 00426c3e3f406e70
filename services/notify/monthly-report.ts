import type { Registry } from '../registry/registry.ts';
import type { UnitConfig } from '../registry/schema.ts';
import type { Notice } from './outbox.ts';
import { monthOfCst } from '../../domain/cst.ts';
import { buildMonthly, renderMonthly, type MonthlySources } from '../reports/monthly.ts';

/**
 * The 25th-of-month reporting rhythm of the seeds: each regulator unit with a channel gets the
 * month so far of its regions, with the link to the statistics page and its workbook.
 */
export interface MonthlyReportDeps extends MonthlySources {
  registry(): Registry;
  clock(): number;
  publicUrl: string;
  channelsOf(unit: UnitConfig): string[];
  enqueue(notices: Notice[]): Promise<void>;
}

export async function sendMonthlyReports(deps: MonthlyReportDeps): Promise<void> {
  const registry = deps.registry();
  const month = monthOfCst(deps.clock());
  for (const unit of registry.units.values()) {
    const channels = deps.channelsOf(unit);
    if (unit.kind !== 'regulator' || !channels.length) continue;
    const ids = [...registry.enterprises.values()].filter((e) => unit.regions.some((r) => e.region.startsWith(r))).map((e) => e.id);
    const report = await buildMonthly(deps, month, ids);
    const msg = renderMonthly(unit.name, report, `${deps.publicUrl}/#stats (Excel: ${deps.publicUrl}/api/reports/monthly.xlsx?month=${month})`);
    const body = { notice: 'summary' as const, ...msg, data: report };
    await deps.enqueue(channels.map((channel) => ({ unitId: unit.id, channel, alertId: null, body, urgent: true, enterpriseId: ids[0] ?? '' })));
  }
}
