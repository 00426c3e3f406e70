import { api, ApiFailure, query } from './api.ts';
import { alertActions, showDetail } from './alert-panel.ts';
import { pointChart } from './chart.ts';
import { h, toast } from './dom.ts';
import { cst, messageText, metricName, metricUnit, severityName, t, valueText } from './i18n.ts';
import { liveAlerts } from './live-alerts.ts';
import type { Enterprise } from './session.ts';
import { INDICATORS, isMetric } from '../../../domain/indicators.ts';

/** One device: a chart per point over the chosen range with its setpoints, and its open alerts. */
const RANGES = [
  { key: '1h', ms: 3_600_000 },
  { key: '6h', ms: 6 * 3_600_000 },
  { key: '24h', ms: 86_400_000 },
  // longer ranges come as min/mean/max per window from the store: a few thousand windows at most
  { key: '7d', ms: 7 * 86_400_000, every: '5m' },
  { key: '30d', ms: 30 * 86_400_000, every: '30m' },
] as const;
let range: (typeof RANGES)[number]['key'] = '6h';

type Columns = { ts: number[]; value?: (number | boolean | null)[]; min?: (number | null)[]; mean?: (number | null)[]; max?: (number | null)[] };

export function mountDevice(root: HTMLElement, enterpriseId: string, deviceId: string) {
  let disposers: (() => void)[] = [];
  const clear = () => (disposers.forEach((d) => d()), (disposers = []));
  const charts = h('div', { class: 'charts' });
  const alertsBox = h('div');
  const rangeBar = h('div', { class: 'segmented', role: 'group', 'aria-label': t('range') });
  const head = h('div', { class: 'heading' });
  root.replaceChildren(h('section', { class: 'panel' }, head, rangeBar, charts, alertsBox));

  const load = async () => {
    let ent: Enterprise;
    try {
      ent = await api.get<Enterprise>(`/api/enterprises/${encodeURIComponent(enterpriseId)}`);
    } catch (e) {
      const forbidden = e instanceof ApiFailure && e.status === 403;
      root.replaceChildren(h('section', { class: 'panel' }, h('p', { class: 'forbidden', id: 'forbidden' }, forbidden ? t('forbidden') : (e as Error).message)));
      return;
    }
    const dev = ent.devices.find((d) => d.id === deviceId);
    if (!dev) return void root.replaceChildren(h('p', { class: 'forbidden' }, `no device ${deviceId}`));
    head.replaceChildren(
      h('a', { href: '#devices', class: 'back' }, '←'),
      h('h2', {}, dev.name ?? dev.id, h('small', {}, ` ${ent.name} · ${dev.id} · `, h('span', { class: `dot ${dev.online ? 'on' : 'off'}` }), ` ${t(dev.online ? 'online' : 'offline')} · ${t('lastSeen')} ${cst(dev.lastSeen)}`)),
    );
    rangeBar.replaceChildren(
      ...RANGES.map((r) => h('button', { type: 'button', class: r.key === range ? 'chosen' : '', 'aria-pressed': String(r.key === range), onclick: () => ((range = r.key), void load()) }, r.key)),
    );
    clear();
    const r = RANGES.find((x) => x.key === range)!;
    const to = Date.now();
    const from = to - r.ms;
    const every = 'every' in r ? r.every : undefined;
    charts.replaceChildren();
    await Promise.all(
      dev.points.map(async (p) => {
        const box = h('div', { class: 'chart', dataset: { metric: p.metric, point: p.id } });
        const boolean = isMetric(p.metric) && INDICATORS[p.metric].type === 'boolean';
        const unit = p.unit ?? metricUnit(p.metric);
        charts.append(
          h(
            'figure',
            { class: 'chart-card' },
            h('figcaption', {}, `${p.name ?? metricName(p.metric)}${unit ? `（${unit}）` : ''}`, h('span', { class: 'muted' }, ` ${t('value')}: ${valueText(dev.lastValues[p.id]?.value, p.metric)}`)),
            box,
          ),
        );
        try {
          const res = await api.get<{ columns: Columns }>(`/api/telemetry${query({ device: dev.id, point: p.id, from: new Date(from).toISOString(), to: new Date(to).toISOString(), shape: 'columns', limit: 100_000, every })}`);
          const c = res.columns;
          if (!c.ts.length) return void box.replaceChildren(h('p', { class: 'muted nodata' }, t('noData')));
          const num = (v: number | boolean | null | undefined) => (v === null || v === undefined ? null : typeof v === 'boolean' ? Number(v) : v);
          const limits = dev.limits.filter((l) => l.metric === p.metric);
          disposers.push(
            pointChart(box, {
              ts: c.ts,
              values: (every ? c.mean! : c.value!).map(num),
              band: every ? { min: c.min!, max: c.max! } : undefined,
              limits,
              unit,
              label: p.name ?? metricName(p.metric),
              boolean,
            }),
          );
        } catch (e) {
          toast((e as Error).message);
        }
      }),
    );
    const open = liveAlerts.all().filter((a) => a.deviceId === dev.id && a.state !== 'closed');
    alertsBox.replaceChildren(
      h('h3', {}, t('openAlerts')),
      open.length
        ? h(
            'ul',
            { class: 'alert-list' },
            ...open.map((a) => h('li', { class: a.severity, onclick: () => void showDetail(a.id) }, h('span', { class: `sev ${a.severity}` }, severityName(a.severity)), ` ${cst(a.raisedAt)} ${messageText(a.message)} `, ...alertActions(a, () => void load()))),
          )
        : h('p', { class: 'muted' }, t('noAlerts')),
    );
  };
  void load();
  return clear;
}
