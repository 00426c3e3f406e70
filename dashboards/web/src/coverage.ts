import { api, query } from './api.ts';
import { h, toast } from './dom.ts';
import { cst, industryName, t } from './i18n.ts';
import { gradeColour } from './loop.ts';

/**
 * For regulators and operators: which enterprises must be connected and are not (一企一档, risk
 * grade colour), which are online, and the month's report with its Excel workbook.
 */
interface CoverageRow {
  enterpriseId: string;
  name: string;
  industry: string;
  riskGrade: string | null;
  mustConnect: boolean;
  connected: boolean;
  devices: number;
  online: number;
  lastReading: string | null;
  onlineRate: number | null;
}

export function mountCoverage(root: HTMLElement) {
  const rows = h('tbody', { id: 'coverage' });
  const totals = h('p', { class: 'muted', id: 'coverage-totals' });

  async function load() {
    try {
      const c = await api.get<{ totals: Record<string, number>; items: CoverageRow[] }>('/api/reports/coverage');
      totals.textContent = `${t('mustConnect')} ${c.totals.mustConnect} · ${t('notConnected')} ${c.totals.notConnected} · ${t('onlineNow')} ${c.totals.onlineNow}`;
      rows.replaceChildren(
        ...c.items
          .sort((a, b) => Number(b.mustConnect && !b.connected) - Number(a.mustConnect && !a.connected))
          .map((r) =>
            h(
              'tr',
              { dataset: { enterprise: r.enterpriseId }, class: r.mustConnect && !r.connected ? 'not-connected' : '' },
              h('td', {}, h('span', { class: 'grade', style: `background:${gradeColour(r.riskGrade)}`, title: r.riskGrade ?? '' }), ' ', r.name),
              h('td', {}, industryName(r.industry)),
              h('td', {}, r.mustConnect ? t('yes') : t('no')),
              h('td', {}, r.connected ? t('yes') : h('b', {}, t('no'))),
              h('td', {}, `${r.online}/${r.devices}`),
              h('td', {}, cst(r.lastReading)),
              h('td', {}, r.onlineRate === null ? '—' : `${Math.round(r.onlineRate * 100)}%`),
            ),
          ),
      );
    } catch (e) {
      toast((e as Error).message);
    }
  }

  root.replaceChildren(
    monthlyCard(),
    h(
      'section',
      { class: 'card' },
      h('h3', {}, t('coverage')),
      totals,
      h(
        'div',
        { class: 'scroll' },
        h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('enterprise')), h('th', {}, t('industry')), h('th', {}, t('mustConnect')), h('th', {}, t('connected')), h('th', {}, t('onlineNow')), h('th', {}, t('lastSeen')), h('th', {}, t('onlineRate')))), rows),
      ),
    ),
  );
  void load();
  return () => {};
}

/** The month's report of the caller's scope, with its workbook: on this page and the statistics page. */
export function monthlyCard(): HTMLElement {
  const monthInput = h('input', { type: 'month', id: 'month', value: new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 7) });
  const monthTotals = h('p', { id: 'monthly-totals' });
  async function loadMonth() {
    try {
      const r = await api.get<{ totals: Record<string, number> }>(`/api/reports/monthly${query({ month: monthInput.value })}`);
      const x = r.totals;
      monthTotals.textContent = `${t('alerts')} ${x.alerts} · ${t('feedbackOverdue')} ${x.feedbackOverdue} · ${t('hazardsOpen')} ${x.hazardsOpen} · ${t('overdue')} ${x.hazardsOverdue}`;
    } catch (e) {
      toast((e as Error).message);
    }
  }
  monthInput.addEventListener('change', () => void loadMonth());
  void loadMonth();
  return h(
    'section',
    { class: 'card monthly' },
    h('h3', {}, t('monthly')),
    h(
      'div',
      { class: 'filters' },
      monthInput,
      h('button', { type: 'button', id: 'monthly-xlsx', class: 'primary', onclick: () => void api.download(`/api/reports/monthly.xlsx${query({ month: monthInput.value })}`, `monthly-${monthInput.value}.xlsx`).catch((e: Error) => toast(e.message)) }, t('downloadXlsx')),
    ),
    monthTotals,
  );
}
