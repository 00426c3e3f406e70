import { api, query } from './api.ts';
import { reviewDialog, showDetail } from './alert-panel.ts';
import { h, toast } from './dom.ts';
import { cst, industryName, pointName, t } from './i18n.ts';
import { liveAlerts } from './live-alerts.ts';
import { deviceName, session } from './session.ts';

/**
 * The closed loop (闭环): feedback waiting for a review, and rectification items (隐患整改) with
 * their deadlines. Regulators review and sign off; enterprises report; operators do both.
 */
interface Hazard {
  id: string;
  enterpriseId: string;
  description: string;
  dueAt: string;
  state: 'open' | 'rectified' | 'closed';
  overdue: boolean;
  rectification: { measures: string; by: string; at: string } | null;
  signoff: { accepted: boolean; note: string } | null;
}

export function mountLoop(root: HTMLElement) {
  const queue = h('tbody', { id: 'review-queue' });
  const items = h('tbody', { id: 'hazards' });
  const me = session.me!;

  const renderQueue = () => {
    const waiting = liveAlerts.all().filter((a) => a.review?.state === 'awaiting');
    queue.replaceChildren(
      ...(waiting.length
        ? waiting.map((a) =>
            h(
              'tr',
              { dataset: { alert: a.id } },
              h('td', {}, session.names.get(a.enterpriseId) ?? a.enterpriseId),
              h('td', { class: 'msg', onclick: () => void showDetail(a.id) }, `${deviceName(a.enterpriseId, a.deviceId)} · ${pointName(a)}`),
              h('td', {}, a.feedback ? `${a.feedback.cause}；${a.feedback.measures}` : ''),
              h('td', {}, session.reviews(a.enterpriseId) ? h('button', { type: 'button', class: 'review', onclick: () => void reviewDialog(a) }, t('review')) : t('awaiting')),
            ),
          )
        : [h('tr', {}, h('td', { colspan: 4, class: 'muted' }, '—'))]),
    );
  };

  async function loadItems() {
    try {
      const { items: list } = await api.get<{ items: Hazard[] }>(`/api/hazards${query({ state: 'open' })}`);
      items.replaceChildren(
        ...(list.length
          ? list.map((x) =>
              h(
                'tr',
                { dataset: { hazard: x.id }, class: x.overdue ? 'overdue' : '' },
                h('td', {}, session.names.get(x.enterpriseId) ?? x.enterpriseId),
                h('td', {}, x.description),
                h('td', {}, cst(x.dueAt), x.overdue ? h('span', { class: 'pill alarm' }, t('overdue')) : ''),
                h('td', {}, x.state === 'rectified' ? `${t('rectifiedState')} · ${x.rectification?.measures ?? ''}` : x.signoff && !x.signoff.accepted ? `${t('returned')} · ${x.signoff.note}` : t('openState')),
                h('td', {}, ...itemActions(x)),
              ),
            )
          : [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, '—'))]),
      );
    } catch (e) {
      toast((e as Error).message);
    }
  }

  const itemActions = (x: Hazard) => {
    const out: HTMLElement[] = [];
    if (me.role === 'enterprise' && x.state === 'open') out.push(h('button', { type: 'button', class: 'rectified', onclick: () => void ask(t('measures')).then((m) => (m ? send(`/api/hazards/${x.id}/rectified`, { measures: m }) : undefined)) }, t('reportRectified')));
    if (me.role === 'regulator' && x.state === 'rectified') {
      out.push(h('button', { type: 'button', class: 'signoff primary', onclick: () => void ask(t('note')).then((n) => (n ? send(`/api/hazards/${x.id}/signoff`, { accepted: true, note: n }) : undefined)) }, t('signOff')));
      out.push(h('button', { type: 'button', class: 'return', onclick: () => void ask(t('note')).then((n) => (n ? send(`/api/hazards/${x.id}/signoff`, { accepted: false, note: n }) : undefined)) }, t('returnIt')));
    }
    return out;
  };

  async function send(path: string, body: unknown) {
    try {
      await api.post(path, body);
      toast(t('done'), 'ok');
    } catch (e) {
      toast((e as Error).message);
    }
    await loadItems();
  }

  root.replaceChildren(
    h('section', { class: 'card' }, h('h3', {}, t('reviewQueue')), h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('enterprise')), h('th', {}, t('point')), h('th', {}, t('feedback')), h('th', {}, ''))), queue))),
    h(
      'section',
      { class: 'card' },
      h('h3', {}, t('hazards')),
      h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('enterprise')), h('th', {}, t('hazard')), h('th', {}, t('dueAt')), h('th', {}, t('status')), h('th', {}, ''))), items)),
    ),
  );
  renderQueue();
  void loadItems();
  return liveAlerts.subscribe(renderQueue);
}

/** A short text from the person: the browser's own prompt is enough for a note or the measures. */
const ask = async (label: string) => {
  const v = window.prompt(label);
  return v && v.trim() ? v.trim() : null;
};

export const gradeColour = (g: string | null) => ({ red: '#c62828', orange: '#ef6c00', yellow: '#f9a825', blue: '#1565c0' })[g ?? ''] ?? 'transparent';
export { industryName };
