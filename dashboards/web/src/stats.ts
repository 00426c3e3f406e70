import { api, query } from './api.ts';
import { showDetail } from './alert-panel.ts';
import { SEVERITY_COLOURS, stackedBars } from './chart.ts';
import { h, select, toast } from './dom.ts';
import { SEVERITIES, cst, durationText, industryName, metricName, pointName, severityName, t } from './i18n.ts';
import { deviceName, regionName, session, type Alert } from './session.ts';
import { monthlyCard } from './coverage.ts';
import type { SummaryRow } from '../../../services/alerts/summary-row.ts';

/**
 * For regulators: alert history across their regions with filters and CSV export; alerts over
 * time by industry and by severity; per enterprise the median times to acknowledge and close and
 * the online rate; the enterprises with the most unhandled alerts.
 */
// the API's own row type: the server's summary is what this page shows
type Row = SummaryRow;
interface Bucket {
  start: string;
  total: number;
  byIndustry: Record<string, number>;
  bySeverity: Record<string, number>;
}

const INDUSTRY_COLOURS: Record<string, string> = { dust: '#8d6e63', aluminum_casting: '#78909c', steel: '#455a64', hazchem: '#7b1fa2', gas_user: '#00897b', fire: '#d84315', system: '#9e9e9e' };
const f = { days: '7', from: '', to: '', region: '', industry: '', severity: '' };

export function mountStats(root: HTMLElement) {
  let disposers: (() => void)[] = [];
  let cursor: string | null = null;
  const filterBar = h('div', { class: 'filters' });
  const charts = h('div', { class: 'grid2' });
  const worst = h('div');
  const table = h('div', { class: 'scroll' });
  const history = h('tbody');
  const more = h('button', { type: 'button', id: 'more', onclick: () => void loadHistory(false) }, t('loadMore'));

  // a chosen range counts whole days of China Standard Time, the last one included
  const cstDay = (d: string) => Date.parse(`${d}T00:00:00+08:00`);
  const period = () => {
    if (f.days === 'range' && f.from && f.to && cstDay(f.from) <= cstDay(f.to)) return { from: new Date(cstDay(f.from)).toISOString(), to: new Date(cstDay(f.to) + 86_400_000).toISOString() };
    const to = Date.now();
    return { from: new Date(to - Number(f.days === 'range' ? 7 : f.days) * 86_400_000).toISOString(), to: new Date(to).toISOString() };
  };
  const spanDays = () => (Date.parse(period().to) - Date.parse(period().from)) / 86_400_000;
  const today = new Date(Date.now() + 8 * 3_600_000).toISOString().slice(0, 10);
  const fromInput = h('input', { type: 'date', id: 'range-from', value: f.from || today, 'aria-label': t('from'), onchange: () => ((f.from = fromInput.value), void load()) });
  const toInput = h('input', { type: 'date', id: 'range-to', value: f.to || today, 'aria-label': t('to'), onchange: () => ((f.to = toInput.value), void load()) });
  const showRange = () => ((fromInput.hidden = toInput.hidden = f.days !== 'range'), (f.from ||= fromInput.value), (f.to ||= toInput.value));
  const historyQuery = (extra: Record<string, string | number | undefined> = {}) =>
    query({ state: 'all', ...period(), region: f.region || undefined, industry: f.industry || undefined, severity: f.severity || undefined, ...extra });

  const regions = () => [...new Set([...(session.me?.regions ?? []), ...session.enterprises.map((e) => e.region.slice(0, 6))])].sort();
  filterBar.replaceChildren(
    select(
      [
        { value: '7', label: t('days7') },
        { value: '30', label: t('days30') },
        { value: 'range', label: t('customRange') },
      ],
      f.days,
      (v) => ((f.days = v), showRange(), void load()),
      t('period'),
    ),
    fromInput,
    toInput,
    select([{ value: '', label: `${t('region')}：${t('all')}` }, ...regions().map((r) => ({ value: r, label: regionName(r) }))], f.region, (v) => ((f.region = v), void load()), t('region')),
    select([{ value: '', label: `${t('industry')}：${t('all')}` }, ...[...new Set(session.enterprises.map((e) => e.industry))].map((i) => ({ value: i, label: industryName(i) }))], f.industry, (v) => ((f.industry = v), void loadHistory(true)), t('industry')),
    select([{ value: '', label: `${t('severity')}：${t('all')}` }, ...SEVERITIES.map((s) => ({ value: s, label: severityName(s) }))], f.severity, (v) => ((f.severity = v), void loadHistory(true)), t('severity')),
    h('button', { type: 'button', id: 'export', class: 'primary', onclick: () => void api.download(`/api/alerts/export.csv${historyQuery()}`, `alerts-${new Date().toISOString().slice(0, 10)}.csv`).catch((e: Error) => toast(e.message)) }, t('exportCsv')),
  );

  showRange();

  async function loadHistory(fresh: boolean) {
    if (fresh) (cursor = null), history.replaceChildren();
    try {
      const res = await api.get<{ items: Alert[]; nextCursor: string | null }>(`/api/alerts${historyQuery({ limit: 100, cursor: cursor ?? undefined })}`);
      cursor = res.nextCursor;
      more.hidden = !cursor;
      history.append(
        ...res.items.map((a) =>
          h(
            'tr',
            { class: `${a.severity} ${a.state}`, dataset: { alert: a.id }, onclick: () => void showDetail(a.id) },
            h('td', {}, h('span', { class: `sev ${a.severity}` }, severityName(a.severity))),
            h('td', { class: 'time' }, cst(a.raisedAt)),
            h('td', {}, session.names.get(a.enterpriseId) ?? a.enterpriseId),
            h('td', {}, industryName(a.industry)),
            h('td', {}, `${deviceName(a.enterpriseId, a.deviceId)} · ${pointName(a)}`),
            h('td', { class: 'msg' }, a.message),
            h('td', {}, `${t(a.state)}${a.acknowledged ? ` · ${t('acked')}` : ''}`),
          ),
        ),
      );
    } catch (e) {
      toast((e as Error).message);
    }
  }

  async function load() {
    disposers.forEach((d) => d());
    disposers = [];
    const p = { ...period(), region: f.region || undefined };
    const bucket = spanDays() <= 2 ? 'hour' : 'day';
    try {
      const [summary, timeline] = await Promise.all([api.get<{ items: Row[] }>(`/api/reports/summary${query(p)}`), api.get<{ items: Bucket[] }>(`/api/reports/timeline${query({ ...p, bucket })}`)]);
      // every bucket of the period, empty ones too, so that quiet days show as quiet
      const step = bucket === 'hour' ? 3_600_000 : 86_400_000;
      const first = Math.floor((Date.parse(p.from) + 8 * 3_600_000) / step) * step - 8 * 3_600_000;
      const ts: number[] = [];
      for (let x = first; x < Date.parse(p.to); x += step) ts.push(x);
      const at = new Map(timeline.items.map((b) => [Date.parse(b.start), b]));
      const industries = [...new Set(timeline.items.flatMap((b) => Object.keys(b.byIndustry)))];
      const box1 = h('div', { class: 'chart', id: 'chart-industry' });
      const box2 = h('div', { class: 'chart', id: 'chart-severity' });
      charts.replaceChildren(h('figure', { class: 'chart-card' }, h('figcaption', {}, t('byIndustry')), box1), h('figure', { class: 'chart-card' }, h('figcaption', {}, t('bySeverity')), box2));
      disposers.push(
        stackedBars(box1, { ts, series: industries.map((i) => ({ label: industryName(i), colour: INDUSTRY_COLOURS[i] ?? '#888', values: ts.map((x) => at.get(x)?.byIndustry[i] ?? 0) })) }),
        stackedBars(box2, { ts, series: [...SEVERITIES].reverse().map((s) => ({ label: severityName(s), colour: SEVERITY_COLOURS[s], values: ts.map((x) => at.get(x)?.bySeverity[s] ?? 0) })) }),
      );
      renderTable(summary.items);
    } catch (e) {
      toast((e as Error).message);
    }
    await loadHistory(true);
  }

  function renderTable(rows: Row[]) {
    const top = [...rows].filter((r) => r.unacknowledged + r.open > 0).sort((a, b) => b.unacknowledged - a.unacknowledged || b.open - a.open).slice(0, 5);
    worst.replaceChildren(
      h('h3', {}, t('mostUnhandled')),
      top.length
        ? h('ol', { class: 'worst', id: 'worst' }, ...top.map((r) => h('li', {}, h('strong', {}, r.name), ` · ${t('unacked')} ${r.unacknowledged} · ${t('open')} ${r.open}`)))
        : h('p', { class: 'muted' }, '—'),
    );
    const pct = (x: number | null) => (x === null ? '—' : `${(x * 100).toFixed(1)} %`);
    table.replaceChildren(
      h(
        'table',
        { id: 'per-enterprise' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, t('enterprise')), h('th', {}, t('industry')), h('th', {}, t('region')), h('th', {}, t('alertsCount')), h('th', {}, t('unhandled')), h('th', {}, t('medianAck')), h('th', {}, t('medianClose')), h('th', {}, t('onlineRate'))),
        ),
        h(
          'tbody',
          {},
          ...rows.map((r) =>
            h(
              'tr',
              {},
              h('td', {}, r.name),
              h('td', {}, industryName(r.industry)),
              h('td', {}, regionName(r.region.slice(0, 6))),
              h('td', { class: 'num' }, r.alerts),
              h('td', { class: `num${r.unacknowledged ? ' alarm' : ''}` }, r.unacknowledged),
              h('td', { class: 'num' }, durationText(r.medianAckS)),
              h('td', { class: 'num' }, durationText(r.medianCloseS)),
              h('td', { class: `num${r.onlineRate !== null && r.onlineRate < 0.9 ? ' alarm' : ''}` }, pct(r.onlineRate)),
            ),
          ),
        ),
      ),
    );
  }

  root.replaceChildren(
    h('section', { class: 'panel' }, h('h2', {}, t('stats')), filterBar, charts),
    h('section', { class: 'grid2' }, h('div', { class: 'panel' }, h('h3', {}, t('perEnterprise')), table), h('div', { class: 'panel' }, worst)),
    h(
      'section',
      { class: 'panel' },
      h('h3', {}, t('alertHistory')),
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'alerts', id: 'history' },
          h('thead', {}, h('tr', {}, ...(['severity', 'time', 'enterprise', 'industry', 'point', 'message', 'state'] as const).map((k) => h('th', {}, t(k))))),
          history,
        ),
      ),
      more,
    ),
    monthlyCard(),
  );
  void load();
  return () => disposers.forEach((d) => d());
}
