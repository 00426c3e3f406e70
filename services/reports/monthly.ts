import { SEVERITIES } from '../../domain/types.ts';
import type { CoverageRow } from '../enterprises/coverage.ts';
import type { SummaryRow } from '../alerts/summary-row.ts';

/**
 * The monthly report of a region (月度报告): per enterprise its alerts by severity, how fast they
 * were acknowledged and closed, feedback and rectification overdue, and coverage; per industry
 * the alerts by severity. Built from the summary and coverage the API gives, so the two agree;
 * as JSON for the statistics page and as an Excel workbook for the regulator's files.
 */
export interface MonthlyReport {
  month: string;
  from: string;
  to: string;
  totals: { enterprises: number; alerts: number; bySeverity: Record<string, number>; hazardsOpen: number; hazardsOverdue: number; feedbackOverdue: number; mustConnect: number; notConnected: number };
  byIndustry: { industry: string; alerts: number; bySeverity: Record<string, number> }[];
  enterprises: (SummaryRow & { feedbackOverdue: number; mustConnect: boolean; connected: boolean; coverageRate: number | null })[];
}

/** Where a monthly report reads from: the summary and coverage the API gives, and the alerts. */
export interface MonthlySources {
  summary(q: { from: number; to: number; enterpriseIds: string[] }): Promise<SummaryRow[]>;
  coverage(q: { from: number; to: number; enterpriseIds: string[] }): Promise<CoverageRow[]>;
  alertsBetween(enterpriseId: string, from: number, to: number): Promise<{ feedbackOverdueAt: number | null }[]>;
}

export async function buildMonthly(deps: MonthlySources, month: string, enterpriseIds: string[]): Promise<MonthlyReport> {
  const period = monthCst(month);
  const [summary, coverage] = await Promise.all([deps.summary({ ...period, enterpriseIds }), deps.coverage({ ...period, enterpriseIds })]);
  const overdue = new Map<string, number>();
  for (const id of enterpriseIds) overdue.set(id, (await deps.alertsBetween(id, period.from, period.to)).filter((a) => a.feedbackOverdueAt !== null).length);
  return monthlyReport(month, period, summary, coverage, overdue);
}

/** The report as a notice for a regulator unit: the totals, and where the workbook is. */
export function renderMonthly(unitName: string, r: MonthlyReport, link: string): { title: string; text: string; markdown: string } {
  const t = r.totals;
  const title = `【月度报告】${unitName} ${r.month}：报警 ${t.alerts} 起，反馈逾期 ${t.feedbackOverdue}，隐患逾期 ${t.hazardsOverdue}，应联未联 ${t.notConnected} / [MONTHLY] ${r.month}`;
  const lines = [
    `月份：${r.month}（北京时间）/ month ${r.month} (CST)`,
    `企业 ${t.enterprises} 家；报警 ${t.alerts} 起（紧急 ${t.bySeverity.critical}，严重 ${t.bySeverity.major}，预警 ${t.bySeverity.warning}）/ ${t.alerts} alerts`,
    `处置反馈逾期 ${t.feedbackOverdue} 起；隐患未销号 ${t.hazardsOpen} 项，其中逾期 ${t.hazardsOverdue} 项 / feedback overdue ${t.feedbackOverdue}, hazards open ${t.hazardsOpen} (overdue ${t.hazardsOverdue})`,
    `应联网 ${t.mustConnect} 家，未联网 ${t.notConnected} 家 / must connect ${t.mustConnect}, not connected ${t.notConnected}`,
    `明细与 Excel 报表 / details and the workbook: ${link}`,
  ];
  return { title, text: lines.join('\n'), markdown: [`### ${title}`, ...lines.map((l) => `- ${l}`)].join('\n') };
}

/** A month as China Standard Time counts it: `2026-11` → [1 Nov 00:00 CST, 1 Dec 00:00 CST). */
export function monthCst(month: string): { from: number; to: number } {
  const [y, m] = month.split('-').map(Number);
  const offset = 8 * 3_600_000;
  return { from: Date.UTC(y, m - 1, 1) - offset, to: Date.UTC(y, m, 1) - offset };
}

export function monthlyReport(month: string, period: { from: number; to: number }, summary: SummaryRow[], coverage: CoverageRow[], feedbackOverdue: ReadonlyMap<string, number>): MonthlyReport {
  const cov = new Map(coverage.map((c) => [c.enterpriseId, c]));
  const zero = () => Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<string, number>;
  const industries = new Map<string, { industry: string; alerts: number; bySeverity: Record<string, number> }>();
  const totals = { enterprises: summary.length, alerts: 0, bySeverity: zero(), hazardsOpen: 0, hazardsOverdue: 0, feedbackOverdue: 0, mustConnect: 0, notConnected: 0 };
  const enterprises = summary.map((r) => {
    const c = cov.get(r.enterpriseId);
    const ind = industries.get(r.industry) ?? { industry: r.industry, alerts: 0, bySeverity: zero() };
    industries.set(r.industry, ind);
    ind.alerts += r.alerts;
    totals.alerts += r.alerts;
    for (const s of SEVERITIES) {
      ind.bySeverity[s] += r.bySeverity[s] ?? 0;
      totals.bySeverity[s] += r.bySeverity[s] ?? 0;
    }
    const overdue = feedbackOverdue.get(r.enterpriseId) ?? 0;
    totals.hazardsOpen += r.hazardsOpen;
    totals.hazardsOverdue += r.hazardsOverdue;
    totals.feedbackOverdue += overdue;
    if (c?.mustConnect) totals.mustConnect++;
    if (c?.mustConnect && !c.connected) totals.notConnected++;
    return { ...r, feedbackOverdue: overdue, mustConnect: c?.mustConnect ?? false, connected: c?.connected ?? false, coverageRate: c?.onlineRate ?? null };
  });
  return { month, from: new Date(period.from).toISOString(), to: new Date(period.to).toISOString(), totals, byIndustry: [...industries.values()], enterprises };
}

/** The same report as an .xlsx workbook: the enterprises, the industries, and the totals. */
export async function monthlyWorkbook(r: MonthlyReport, names: { industry(i: string): string }): Promise<Buffer> {
  // loaded when a workbook is asked for: it is a third of the service's start-up (≈0.4 s of CPU),
  // and a restart after a crash is time the alarm path is down
  const { default: ExcelJS } = await import('exceljs');
  const wb = new ExcelJS.Workbook();
  wb.creator = 'risk-monitor-gateway';
  const sev = ['提示 info', '预警 warning', '严重 major', '紧急 critical'];
  const ents = wb.addWorksheet('企业 Enterprises');
  ents.columns = [
    { header: '企业 enterprise', key: 'name', width: 30 },
    { header: '统一社会信用代码 id', key: 'id', width: 22 },
    { header: '行业 industry', key: 'industry', width: 16 },
    { header: '报警 alerts', key: 'alerts', width: 10 },
    ...SEVERITIES.map((s, i) => ({ header: sev[i], key: s, width: 12 })),
    { header: '确认中位时长(秒) median ack s', key: 'ack', width: 16 },
    { header: '关闭中位时长(秒) median close s', key: 'close', width: 16 },
    { header: '反馈逾期 feedback overdue', key: 'feedbackOverdue', width: 14 },
    { header: '隐患未销号 hazards open', key: 'hazardsOpen', width: 14 },
    { header: '隐患逾期 hazards overdue', key: 'hazardsOverdue', width: 14 },
    { header: '应联网 must connect', key: 'mustConnect', width: 12 },
    { header: '已联网 connected', key: 'connected', width: 12 },
    { header: '在线率 online rate', key: 'rate', width: 12 },
  ];
  for (const e of r.enterprises)
    ents.addRow({
      name: e.name,
      id: e.enterpriseId,
      industry: names.industry(e.industry),
      alerts: e.alerts,
      ...Object.fromEntries(SEVERITIES.map((s) => [s, e.bySeverity[s] ?? 0])),
      ack: e.medianAckS,
      close: e.medianCloseS,
      feedbackOverdue: e.feedbackOverdue,
      hazardsOpen: e.hazardsOpen,
      hazardsOverdue: e.hazardsOverdue,
      mustConnect: e.mustConnect ? '是 yes' : '否 no',
      connected: e.connected ? '是 yes' : '否 no',
      rate: e.coverageRate,
    });
  ents.getRow(1).font = { bold: true };
  const inds = wb.addWorksheet('行业 Industries');
  inds.columns = [{ header: '行业 industry', key: 'industry', width: 20 }, { header: '报警 alerts', key: 'alerts', width: 10 }, ...SEVERITIES.map((s, i) => ({ header: sev[i], key: s, width: 12 }))];
  for (const i of r.byIndustry) inds.addRow({ industry: names.industry(i.industry), alerts: i.alerts, ...i.bySeverity });
  inds.getRow(1).font = { bold: true };
  const sum = wb.addWorksheet('合计 Totals');
  sum.columns = [{ header: '项目 item', key: 'k', width: 32 }, { header: '数值 value', key: 'v', width: 16 }];
  const t = r.totals;
  for (const [k, v] of [
    ['月份 month', r.month],
    ['企业 enterprises', t.enterprises],
    ['报警 alerts', t.alerts],
    ...SEVERITIES.map((s, i) => [sev[i], t.bySeverity[s]] as const),
    ['反馈逾期 feedback overdue', t.feedbackOverdue],
    ['隐患未销号 hazards open', t.hazardsOpen],
    ['隐患逾期 hazards overdue', t.hazardsOverdue],
    ['应联网 must connect', t.mustConnect],
    ['应联未联 not connected', t.notConnected],
  ] as const)
    sum.addRow({ k, v });
  sum.getRow(1).font = { bold: true };
  return Buffer.from(await wb.xlsx.writeBuffer());
}
