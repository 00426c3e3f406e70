import { SEVERITIES } from '../../domain/types.ts';
import type { Registry } from '../registry/registry.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import type { AlertStore } from './alert-store.ts';
import { ackAwaitedSince } from './model.ts';
import { formatCst } from '../../domain/cst.ts';
import type { SummaryRow } from './summary-row.ts';

export type { SummaryRow };

export function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Where a summary reads from. */
export interface SummarySources {
  registry: Registry;
  alerts: AlertStore;
  telemetry: TelemetryStore;
  /** an enterprise's rectification items not signed off, with their deadlines */
  openHazards(enterpriseId: string): Promise<{ dueAt: number }[]>;
}

export async function summarize(deps: SummarySources, q: { from: number; to: number; enterpriseIds: string[] }): Promise<SummaryRow[]> {
  const rows: SummaryRow[] = [];
  for (const id of q.enterpriseIds) {
    const ent = deps.registry.enterprises.get(id);
    if (!ent) continue;
    const alerts = await deps.alerts.between(id, q.from, q.to);
    const hazards = await deps.openHazards(id);
    const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
    const byRuleKind: Record<string, number> = {};
    for (const a of alerts) {
      bySeverity[a.severity]++;
      byRuleKind[a.ruleKind] = (byRuleKind[a.ruleKind] ?? 0) + 1;
    }
    // counted from when each device was first seen: time before a device existed is not offline
    let expected = 0;
    let seen = 0;
    for (const d of ent.devices) {
      const first = await deps.telemetry.firstSeen(d.id);
      if (first === null) continue;
      const bucket = d.reportIntervalS * 1000;
      const start = Math.max(q.from, first);
      if (start >= q.to) continue;
      expected += Math.max(1, Math.floor((q.to - start) / bucket));
      seen += await deps.telemetry.coverage(d.id, bucket, start, q.to);
    }
    rows.push({
      enterpriseId: id,
      name: ent.name,
      region: ent.region,
      industry: ent.industry,
      alerts: alerts.length,
      bySeverity,
      byRuleKind,
      unacknowledged: alerts.filter((a) => !a.acknowledged && a.state !== 'closed').length,
      open: alerts.filter((a) => a.state !== 'closed').length,
      medianAckS: median(alerts.filter((a) => a.ackAt !== null).map((a) => (a.ackAt! - ackAwaitedSince(a)) / 1000)),
      medianCloseS: median(alerts.filter((a) => a.closedAt !== null).map((a) => (a.closedAt! - a.raisedAt) / 1000)),
      onlineRate: expected ? Math.min(1, Math.round((seen / expected) * 1000) / 1000) : null,
      hazardsOpen: hazards.length,
      hazardsOverdue: hazards.filter((h) => h.dueAt <= q.to).length,
    });
  }
  return rows;
}

/** The daily e-mail to a regulator: yesterday's summary of its regions, China Standard Time. */
export function renderDailySummary(unitName: string, rows: SummaryRow[], from: number, to: number) {
  const period = `${formatCst(from)} — ${formatCst(to)}`;
  const title = `【安全风险监测日报】${unitName} ${formatCst(from).slice(0, 10)} / Daily risk-monitoring summary`;
  const line = (r: SummaryRow) =>
    `${r.name}（${r.enterpriseId}）：报警 ${r.alerts} 条（紧急 ${r.bySeverity.critical}，严重 ${r.bySeverity.major}），未确认 ${r.unacknowledged}，` +
    `确认中位时长 ${r.medianAckS === null ? '—' : `${Math.round(r.medianAckS / 60)} 分`}，在线率 ${r.onlineRate === null ? '—' : `${Math.round(r.onlineRate * 100)}%`}` +
    ` / alerts ${r.alerts}, unacknowledged ${r.unacknowledged}, online ${r.onlineRate === null ? '—' : `${Math.round(r.onlineRate * 100)} %`}`;
  const lines = rows.map(line);
  const text = [`统计时段（北京时间）/ Period (UTC+8): ${period}`, '', ...lines].join('\n');
  return { title, text, markdown: [`### ${title}`, `- ${period}`, ...lines.map((l) => `- ${l}`)].join('\n') };
}
