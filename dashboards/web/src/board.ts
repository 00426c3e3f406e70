import { api, query } from './api.ts';
import { alertActions, bulkHandle, showDetail } from './alert-panel.ts';
import { h, select, toast } from './dom.ts';
import { SEVERITIES, cst, durationText, industryName, messageText, metricName, pointName, severityName, t, alertThresholdText, figureText } from './i18n.ts';
import { liveAlerts } from './live-alerts.ts';
import { deviceName, regionName, session, type Alert } from './session.ts';

/**
 * The duty board: alerts of the caller's scope, live, worst and newest first, with filters; above
 * them one card per region with devices online and offline and the open alerts. The operator
 * handles alerts here; a regulator watches; an enterprise sees its own.
 */
const RANK: Record<string, number> = { critical: 3, major: 2, warning: 1, info: 0 };

/**
 * What needs a person now comes first: active and unacknowledged, then active and acknowledged,
 * then cleared and waiting to be closed, then closed; within each the worst, then the newest
 * activation (a fire alarm that came back is at the top, not below the ones that cleared).
 */
export const urgency = (a: Alert) => (a.state === 'active' ? (a.acknowledged ? 1 : 0) : a.state === 'cleared' ? 2 : 3);
export const activated = (a: Alert) => a.activatedAt ?? a.raisedAt;
export const byUrgency = (a: Alert, b: Alert) => urgency(a) - urgency(b) || RANK[b.severity] - RANK[a.severity] || activated(b).localeCompare(activated(a));
const filters = { region: '', industry: '', severity: '', state: 'open' };

const county = (region: string) => region.slice(0, 6);


export function mountBoard(root: HTMLElement, opts: { regions: boolean }) {
  let past: Alert[] = []; // closed alerts fetched for state=closed|all; open ones come from the live copy
  const cards = h('section', { class: 'regions', 'aria-label': t('region') });
  const tbody = h('tbody');
  const count = h('span', { class: 'pill', id: 'open-count' });
  const liveDot = h('span', { class: 'live', id: 'live' }, t('live'));
  const filterBar = h('div', { class: 'filters' });
  const empty = h('p', { class: 'muted empty' }, t('noAlerts'));
  /** alerts ticked for a bulk acknowledge or close */
  const selected = new Set<string>();
  const bulkBar = h('div', { class: 'bulk', id: 'bulk' });
  const selectable = (a: Alert) => a.state !== 'closed' && session.handles(a.enterpriseId);

  const matches = (a: Alert) =>
    (!filters.region || a.region.startsWith(filters.region)) &&
    (!filters.industry || a.industry === filters.industry) &&
    (!filters.severity || a.severity === filters.severity) &&
    (filters.state === 'all' || (filters.state === 'open' ? a.state !== 'closed' : a.state === filters.state));

  const rows = () => {
    const byId = new Map<string, Alert>();
    for (const a of past) byId.set(a.id, a);
    for (const a of liveAlerts.all()) byId.set(a.id, a);
    return [...byId.values()].filter(matches).sort(byUrgency);
  };

  function renderCards() {
    if (!opts.regions) return;
    const groups = new Map<string, { label: string; online: number; offline: number; open: number; critical: number }>();
    for (const e of session.enterprises) {
      const key = county(e.region);
      let g = groups.get(key);
      if (!g) {
        groups.set(key, (g = { label: regionName(key), online: 0, offline: 0, open: 0, critical: 0 }));
      }
      for (const d of e.devices) d.online ? g.online++ : g.offline++;
    }
    for (const a of liveAlerts.all()) {
      const g = groups.get(county(a.region));
      if (!g || a.state === 'closed') continue;
      g.open++;
      if (a.severity === 'critical') g.critical++;
    }
    cards.replaceChildren(
      ...[...groups.entries()].map(([code, g]) =>
        h(
          'button',
          { type: 'button', class: `region-card${filters.region === code ? ' chosen' : ''}${g.critical ? ' has-critical' : ''}`, dataset: { region: code }, onclick: () => ((filters.region = filters.region === code ? '' : code), renderFilters(), render()) },
          h('strong', {}, g.label),
          h('span', { class: 'figure' }, h('b', { class: 'on' }, g.online), ` ${t('online')} · `, h('b', { class: 'off' }, g.offline), ` ${t('offline')}`),
          h('span', { class: 'figure' }, h('b', { class: g.open ? 'alarm' : '' }, g.open), ` ${t('openAlerts')}`, g.critical ? h('b', { class: 'sev critical' }, ` ${g.critical}`) : ''),
        ),
      ),
    );
  }

  function renderFilters() {
    const regions = [...new Set(session.enterprises.map((e) => county(e.region)))].sort();
    const industries = [...new Set(session.enterprises.map((e) => e.industry))];
    filterBar.replaceChildren(
      select([{ value: '', label: `${t('region')}：${t('all')}` }, ...regions.map((r) => ({ value: r, label: regionName(r) }))], filters.region, (v) => ((filters.region = v), render()), t('region')),
      select([{ value: '', label: `${t('industry')}：${t('all')}` }, ...industries.map((i) => ({ value: i, label: industryName(i) }))], filters.industry, (v) => ((filters.industry = v), render()), t('industry')),
      select([{ value: '', label: `${t('severity')}：${t('all')}` }, ...SEVERITIES.map((s) => ({ value: s, label: severityName(s) }))], filters.severity, (v) => ((filters.severity = v), render()), t('severity')),
      select(
        (['open', 'active', 'cleared', 'closed', 'all'] as const).map((s) => ({ value: s, label: `${t('state')}：${t(s)}` })),
        filters.state,
        (v) => {
          filters.state = v;
          void loadPast().then(render);
        },
        t('state'),
      ),
    );
  }

  async function loadPast() {
    past = [];
    if (filters.state !== 'closed' && filters.state !== 'all') return;
    try {
      past = (await api.get<{ items: Alert[] }>(`/api/alerts${query({ state: filters.state, limit: 500, region: filters.region || undefined })}`)).items;
    } catch (e) {
      toast((e as Error).message);
    }
  }

  /** what was not done stays ticked, to be handled another way (a review, an acknowledgement first) */
  const keepTicked = (left: string[]) => {
    selected.clear();
    for (const id of left) selected.add(id);
    render();
  };

  function renderBulk(list: Alert[]) {
    const shown = new Set(list.map((a) => a.id));
    for (const id of selected) if (!shown.has(id) || list.find((a) => a.id === id)?.state === 'closed') selected.delete(id);
    const cleared = list.filter((a) => a.state === 'cleared' && selectable(a));
    const ids = [...selected];
    bulkBar.replaceChildren(
      ...(cleared.length ? [h('button', { type: 'button', id: 'select-cleared', onclick: () => (cleared.forEach((a) => selected.add(a.id)), render()) }, `${t('selectCleared')} (${cleared.length})`)] : []),
      ...(ids.length
        ? [
            h('span', { class: 'pill' }, `${t('selectedN')} ${ids.length}`),
            h('button', { type: 'button', id: 'bulk-ack', onclick: () => void bulkHandle(ids, 'ack').then(keepTicked) }, t('bulkAck')),
            h('button', { type: 'button', id: 'bulk-close', onclick: () => void bulkHandle(ids, 'close').then(keepTicked) }, t('bulkClose')),
            h('button', { type: 'button', id: 'bulk-clear', onclick: () => (selected.clear(), render()) }, t('clearSelection')),
          ]
        : []),
    );
    bulkBar.hidden = !cleared.length && !ids.length;
  }

  function render() {
    const list = rows();
    renderBulk(list);
    count.textContent = String(list.filter((a) => a.state !== 'closed').length);
    liveDot.classList.toggle('off', !liveAlerts.connected());
    liveDot.textContent = liveAlerts.connected() ? t('live') : t('offlineStream');
    empty.hidden = list.length > 0;
    tbody.replaceChildren(
      ...list.map((a) => {
        const alarm = a.severity === 'critical' && a.state === 'active' && !a.acknowledged;
        return h(
          'tr',
          { class: `${a.severity} ${a.state}${alarm ? ' alarm' : ''}`, dataset: { alert: a.id }, tabindex: 0, onclick: () => void showDetail(a.id), onkeydown: (e: KeyboardEvent) => e.key === 'Enter' && void showDetail(a.id) },
          h(
            'td',
            { class: 'select', onclick: (e: Event) => e.stopPropagation() },
            selectable(a)
              ? h('input', { type: 'checkbox', 'aria-label': t('select'), checked: selected.has(a.id), onchange: (e: Event) => ((e.target as HTMLInputElement).checked ? selected.add(a.id) : selected.delete(a.id), renderBulk(rows())) })
              : '',
          ),
          h('td', {}, h('span', { class: `sev ${a.severity}` }, severityName(a.severity))),
          h('td', { class: 'time' }, cst(activated(a)), h('small', { class: 'ago' }, ` ${agoText(activated(a))}`)),
          h('td', { class: 'enterprise' }, session.names.get(a.enterpriseId) ?? a.enterpriseId),
          h('td', { class: 'point' }, `${deviceName(a.enterpriseId, a.deviceId)} · ${pointName(a)}`),
          h('td', { class: 'num' }, `${figureText(a.value, a)}${alertThresholdText(a) !== null ? ` / ${alertThresholdText(a)}` : ''}`),
          h('td', { class: 'msg' }, messageText(a.message)),
          h('td', { class: 'state' }, `${t(a.state)}${a.acknowledged ? ` · ${t('acked')}` : ''}${a.flapping ? ` · ${t('flapping')}` : ''}`),
          h('td', { class: 'actions' }, ...alertActions(a)),
        );
      }),
    );
    renderCards();
  }

  root.replaceChildren(
    cards,
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, t('openAlerts'), ' ', count, ' ', liveDot),
      filterBar,
      bulkBar,
      h(
        'div',
        { class: 'scroll' },
        h(
          'table',
          { class: 'alerts', id: 'alerts' },
          h(
            'thead',
            {},
            h('tr', {}, h('th', { class: 'select' }, ''), ...(['severity', 'time', 'enterprise', 'point', 'value', 'message', 'state', 'actions'] as const).map((k) => h('th', { class: k }, `${t(k)}${k === 'value' ? ` / ${t('threshold')}` : ''}`))),
          ),
          tbody,
        ),
      ),
      empty,
    ),
  );
  renderFilters();
  render();
  const off = liveAlerts.subscribe(render);
  // device status changes arrive by polling: a card is at most 15 s behind
  const timer = setInterval(() => void session.refresh().then(renderCards, () => {}), 15_000);
  return () => {
    off();
    clearInterval(timer);
  };
}

/** How long ago, as a duty officer reads it at a glance. */
function agoText(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return `(${durationText(s)})`;
}
