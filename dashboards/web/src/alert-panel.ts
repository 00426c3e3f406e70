import { api } from './api.ts';
import { $, h, toast } from './dom.ts';
import { DISPOSITIONS, cst, dispositionName, industryName, messageText, metricName, pointName, severityName, t, alertThresholdText, figureText, transitionName } from './i18n.ts';
import { liveAlerts } from './live-alerts.ts';
import { deviceName, regionName, session, type Alert } from './session.ts';

/** Acknowledge, close (with the disposition dialog), and the detail drawer with record and notifications. */
/** Acknowledge, with a note if the person has one (who is on the way, what was seen). */
export function acknowledge(a: Alert): Promise<void> {
  const note = h('textarea', { id: 'ack-note', rows: 2, placeholder: t('ackNote') });
  return alertDialog(a, t('ack'), [field(t('note'), note)], [h('button', { value: 'ok', class: 'primary', id: 'ack-confirm' }, t('ack'))], async () =>
    liveAlerts.put(await api.post<Alert>(`/api/alerts/${a.id}/ack`, note.value.trim() ? { note: note.value.trim() } : {})),
  );
}

/**
 * A modal form about one alert: its fields, and buttons whose value says what was chosen. `act`
 * runs with that value (not for cancel); an API error is shown, and the promise resolves either way.
 */
function alertDialog(a: Alert | string, title: string, fields: HTMLElement[], buttons: HTMLButtonElement[], act: (choice: string) => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const dlg = h(
      'dialog',
      { class: 'close-dialog' },
      h(
        'form',
        { method: 'dialog' },
        h('h3', {}, title),
        h('p', { class: 'muted' }, typeof a === 'string' ? a : `${session.names.get(a.enterpriseId) ?? a.enterpriseId} · ${deviceName(a.enterpriseId, a.deviceId)} · ${pointName(a)}`),
        ...fields,
        h('menu', {}, h('button', { value: 'cancel', formnovalidate: true }, t('cancel')), ...buttons),
      ),
    );
    dlg.addEventListener('close', async () => {
      dlg.remove();
      if (dlg.returnValue && dlg.returnValue !== 'cancel') await act(dlg.returnValue).catch((e: Error) => toast(e.message));
      resolve();
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

const field = (label: string, input: HTMLElement) => h('label', {}, h('span', {}, label), input);
const dispositions = (id: string) => h('select', { id }, ...DISPOSITIONS.map((d) => h('option', { value: d }, dispositionName(d))));

export function closeDialog(a: Alert): Promise<void> {
  const note = h('textarea', { id: 'close-note', required: true, rows: 3, placeholder: t('notePlaceholder') });
  const disposition = dispositions('close-disposition');
  return alertDialog(a, t('closeTitle'), [field(t('disposition'), disposition), field(t('note'), note)], [h('button', { value: 'ok', class: 'primary', id: 'close-confirm' }, t('confirmClose'))], async () =>
    liveAlerts.put(await api.post<Alert>(`/api/alerts/${a.id}/close`, { disposition: disposition.value, note: note.value })),
  );
}

interface BulkAnswer {
  done: number;
  failed: number;
  results: { id: string; ok: boolean; error?: { code: string; message: string } }[];
}

/**
 * Acknowledge or close several alerts at once; each is handled as if alone. Resolves with the ids
 * not done, so they stay ticked; the toast says how many were done and, by reason, why not.
 */
export async function bulkHandle(ids: string[], action: 'ack' | 'close'): Promise<string[]> {
  const report = (r: BulkAnswer) => {
    const failed = r.results.filter((x) => !x.ok);
    const reasons = [...new Set(failed.map((x) => bulkReason(x.error?.code ?? '', x.error?.message ?? '')))];
    toast(`${t(action === 'ack' ? 'bulkAck' : 'bulkClose')}：${t('bulkDone')} ${r.done}${failed.length ? `，${t('bulkFailed')} ${failed.length}（${reasons.join('；')}）` : ''}`, failed.length ? 'error' : 'ok');
    return failed.map((x) => x.id);
  };
  if (action === 'ack') return report(await api.post<BulkAnswer>('/api/alerts/bulk', { ids, action }));
  const note = h('textarea', { id: 'bulk-close-note', required: true, rows: 3, placeholder: t('notePlaceholder') });
  const disposition = dispositions('bulk-close-disposition');
  let left = ids;
  await alertDialog(`${t('selectedN')} ${ids.length}`, t('bulkCloseTitle'), [field(t('disposition'), disposition), field(t('note'), note)], [h('button', { value: 'ok', class: 'primary', id: 'bulk-close-confirm' }, t('confirmClose'))], async () => {
    left = report(await api.post<BulkAnswer>('/api/alerts/bulk', { ids, action, disposition: disposition.value, note: note.value }));
  });
  return left;
}

/** Why an alert of a bulk action was not done, in the page's language. */
function bulkReason(code: string, message: string): string {
  if (code === 'REVIEW_REQUIRED') return t('bulkNeedsReview');
  if (code === 'CONFLICT' && /acknowledged before/.test(message)) return t('criticalNeedsAck');
  if (code === 'CONFLICT' && /acknowledged already/.test(message)) return t('bulkAlreadyAcked');
  if (code === 'FORBIDDEN') return t('forbidden');
  return message;
}

/** The enterprise (or an operator) reports what it found and did, with photos from a phone's camera. */
export function feedbackDialog(a: Alert): Promise<void> {
  const cause = h('textarea', { id: 'feedback-cause', required: true, rows: 2 });
  const measures = h('textarea', { id: 'feedback-measures', required: true, rows: 3 });
  const disposition = dispositions('feedback-disposition');
  const photos = h('input', { id: 'feedback-photos', type: 'file', accept: 'image/*', capture: 'environment', multiple: true });
  return alertDialog(
    a,
    t('feedbackTitle'),
    [field(t('cause'), cause), field(t('measures'), measures), field(t('disposition'), disposition), field(t('photos'), photos)],
    [h('button', { value: 'ok', class: 'primary', id: 'feedback-confirm' }, t('sendFeedback'))],
    async () => {
      const urls: string[] = [];
      for (const f of [...(photos.files ?? [])]) urls.push((await api.upload<{ url: string }>(`/api/photos?alert=${encodeURIComponent(a.id)}`, f, f.name)).url);
      liveAlerts.put(await api.post<Alert>(`/api/alerts/${a.id}/feedback`, { cause: cause.value, measures: measures.value, disposition: disposition.value, photos: urls }));
    },
  );
}

/** The township or regulator accepts the feedback (closing the alert) or returns it, with a note. */
export function reviewDialog(a: Alert): Promise<void> {
  const note = h('textarea', { id: 'review-note', required: true, rows: 3 });
  return alertDialog(
    a,
    t('reviewTitle'),
    [h('p', {}, a.feedback ? `${t('cause')}：${a.feedback.cause}；${t('measures')}：${a.feedback.measures}` : ''), field(t('note'), note)],
    [h('button', { value: 'return', id: 'review-return' }, t('returnIt')), h('button', { value: 'accept', class: 'primary', id: 'review-accept' }, t('accept'))],
    async (choice) => liveAlerts.put(await api.post<Alert>(`/api/alerts/${a.id}/review`, { accepted: choice === 'accept', note: note.value })),
  );
}

/** The buttons a caller may use on an alert. */
export function alertActions(a: Alert, after: () => void = () => {}) {
  if (a.state === 'closed') return [];
  const out: HTMLButtonElement[] = [];
  const run = (fn: () => Promise<void>) => (e: Event) => (e.stopPropagation(), void fn().then(after));
  // alerts that close through a review: the enterprise reports, the region reviews
  const reviewed = a.feedbackDueAt != null || a.review != null;
  if (session.handles(a.enterpriseId)) {
    if (!a.acknowledged) out.push(h('button', { type: 'button', class: 'ack', onclick: run(() => acknowledge(a)) }, t('ack')));
    if (reviewed) {
      if (a.review?.state !== 'awaiting') out.push(h('button', { type: 'button', class: 'feedback', onclick: run(() => feedbackDialog(a)) }, t('feedback')));
    } else {
      const canClose = a.acknowledged || a.severity !== 'critical';
      out.push(h('button', { type: 'button', class: 'close', disabled: !canClose, title: canClose ? '' : t('criticalNeedsAck'), onclick: run(() => closeDialog(a)) }, t('close')));
    }
  }
  if (reviewed && a.review?.state === 'awaiting' && session.reviews(a.enterpriseId)) out.push(h('button', { type: 'button', class: 'review', onclick: run(() => reviewDialog(a)) }, t('review')));
  return out;
}


interface Detail {
  history: { at: string; type: string; actor: string; note?: string; message?: string; severity?: string; value?: unknown; detail?: Record<string, unknown> }[];
  notifications: { unit: string; channel: string; status: string; attempts: number; lastError: string | null; event: string; deliveredAt: string | null }[];
}

/** The drawer on the right (below on a phone): everything about one alert. */
export async function showDetail(id: string) {
  const drawer = $('#drawer');
  let d: Alert & Detail;
  try {
    d = await api.get<Alert & Detail>(`/api/alerts/${id}`);
  } catch (e) {
    toast((e as Error).message);
    return;
  }
  const rows: [string, string][] = [
    [t('enterprise'), `${session.names.get(d.enterpriseId) ?? d.enterpriseId}（${industryName(d.industry)} · ${regionName(d.region.slice(0, 6))}）`],
    [t('point'), `${deviceName(d.enterpriseId, d.deviceId)} · ${pointName(d)}`],
    [t('value'), figureText(d.value, d)],
    [t('peak'), figureText(d.peak, d)],
    [t('threshold'), alertThresholdText(d) ?? '—'],
    [t('raisedAt'), cst(d.raisedAt)],
    [t('ackAt'), d.ackAt ? `${cst(d.ackAt)} · ${d.ackBy ?? ''}` : '—'],
    [t('clearedAt'), cst(d.clearedAt)],
    [t('closedAt'), d.closedAt ? `${cst(d.closedAt)} · ${d.closedBy ?? ''} · ${dispositionName(d.disposition ?? '')}` : '—'],
    ...(d.feedbackDueAt || d.feedback || d.review
      ? ([
          [t('feedbackDue'), d.state === 'closed' ? '—' : `${cst(d.feedbackDueAt)}（${t('needsReview')}）`],
          [t('feedback'), d.feedback ? `${d.feedback.cause}；${d.feedback.measures} · ${d.feedback.by} ${cst(d.feedback.at)}` : '—'],
          [t('reviewState'), d.review ? `${t(d.review.state === 'awaiting' ? 'awaiting' : 'returned')}${d.review.note ? ` · ${d.review.note}` : ''}` : '—'],
        ] as [string, string][])
      : []),
  ];
  const photos = d.feedback?.photos ?? [];
  const refresh = () => void showDetail(id);
  drawer.replaceChildren(
    h('button', { type: 'button', class: 'drawer-close', 'aria-label': 'close', onclick: () => ((drawer.hidden = true), drawer.replaceChildren()) }, '×'),
    h('h3', {}, h('span', { class: `sev ${d.severity}` }, severityName(d.severity)), ' ', messageText(d.message)),
    h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    photos.length ? h('div', { class: 'photos' }, ...photos.map((url) => photoThumb(url))) : '',
    h('div', { class: 'actions' }, ...alertActions(d, refresh)),
    h('h4', {}, t('history')),
    h(
      'ol',
      { class: 'history' },
      ...d.history.map((x) =>
        h('li', { class: x.type }, h('time', {}, cst(x.at)), ' ', h('b', {}, transitionName(x.type)), ` · ${x.actor}`, x.message ? ` · ${messageText(x.message)}` : '', x.note ? ` · ${x.note}` : '', x.detail?.unit ? ` · ${String(x.detail.unit)}` : ''),
      ),
    ),
    h('h4', {}, t('notifications')),
    d.notifications.length
      ? h(
          'table',
          { class: 'compact' },
          h('thead', {}, h('tr', {}, h('th', {}, t('time')), h('th', {}, t('unit')), h('th', {}, t('channel')), h('th', {}, t('status')), h('th', {}, t('attempts')), h('th', {}, t('lastError')))),
          h('tbody', {}, ...d.notifications.map((n) => h('tr', { class: n.status }, h('td', {}, `${transitionName(n.event)} ${cst(n.deliveredAt)}`), h('td', {}, n.unit), h('td', {}, n.channel), h('td', {}, n.status), h('td', {}, n.attempts), h('td', {}, n.lastError ?? '')))),
        )
      : h('p', { class: 'muted' }, '—'),
  );
  drawer.hidden = false;
  drawer.dataset.alert = id;
  placeSheet(drawer);
}

/**
 * On a narrow screen the detail is a sheet over the page: it starts below the banner of
 * unacknowledged critical alarms (or the header), so neither covers the other.
 */
function placeSheet(drawer: HTMLElement) {
  if (!matchMedia('(max-width: 1100px)').matches) return void (drawer.style.top = '');
  const banner = document.querySelector<HTMLElement>('#critical-banner');
  const above = banner && !banner.hidden ? banner : document.querySelector('header');
  drawer.style.top = `${Math.max(0, Math.round(above?.getBoundingClientRect().bottom ?? 48))}px`;
}

/** A photo fetched with the token (an <img src> cannot send it), shown small, opened full size. */
function photoThumb(url: string): HTMLElement {
  const img = h('img', { class: 'photo', alt: t('photos') });
  void api
    .blob(url)
    .then((b) => (img.src = URL.createObjectURL(b)))
    .catch(() => {});
  return h('a', { href: '#', onclick: (e: Event) => (e.preventDefault(), window.open(img.src, '_blank')) }, img);
}
