import { $ } from './dom.ts';
import { cst, pointName, t } from './i18n.ts';
import { audioBlocked, liveAlerts, cueFor } from './live-alerts.ts';
import { deviceName, session, type Alert } from './session.ts';

/**
 * While a critical alarm is active and nobody has acknowledged it, the whole page says so: a
 * banner under the header on every view, the banner, the alarm's row and the tab's title flashing
 * once a second (unless the reader asked for less motion: the title alone), and the tones again
 * every 15 s.
 * All of it stops when the last one is acknowledged.
 */
const BASE_TITLE = document.title;
let flash: ReturnType<typeof setInterval> | undefined;
let repeat: ReturnType<typeof setInterval> | undefined;
let on = false;

/**
 * Critical alarms nobody has acknowledged, active ones first: one that came and went (a smoke
 * alarm of twenty seconds) is still unacknowledged, and the page keeps saying so until someone does.
 */
const waiting = (): Alert[] =>
  liveAlerts
    .all()
    .filter((a) => (a.severity === 'critical' || a.peakSeverity === 'critical') && a.state !== 'closed' && !a.acknowledged)
    .sort((a, b) => Number(b.state === 'active') - Number(a.state === 'active') || (b.activatedAt ?? b.raisedAt).localeCompare(a.activatedAt ?? a.raisedAt));

function update() {
  const list = waiting();
  const banner = $<HTMLAnchorElement>('#critical-banner');
  document.body.dataset.unacknowledgedCritical = String(list.length);
  if (!list.length) {
    banner.hidden = true;
    clearInterval(flash);
    clearInterval(repeat);
    flash = repeat = undefined;
    document.title = BASE_TITLE;
    delete document.body.dataset.flash;
    return;
  }
  const a = list[0];
  banner.hidden = false;
  const cleared = list.filter((x) => x.state !== 'active').length;
  banner.textContent = `${t('criticalBanner').replace('{n}', String(list.length))}${cleared ? ` ${t('criticalCleared').replace('{n}', String(cleared))}` : ''} ${session.names.get(a.enterpriseId) ?? a.enterpriseId} · ${deviceName(a.enterpriseId, a.deviceId)} · ${pointName(a)} · ${cst(a.activatedAt ?? a.raisedAt)}${a.state !== 'active' ? ` (${t('cleared')})` : ''}${audioBlocked() ? ` · ${t('soundBlocked')}` : ''}`;
  flash ??= setInterval(() => {
    on = !on;
    // the banner and the alarm rows flash with the title (app.css)
    document.body.dataset.flash = on ? 'on' : 'off';
    document.title = on ? `⚠ ${t('criticalTitle').replace('{n}', String(waiting().length))}` : BASE_TITLE;
  }, 1000);
  repeat ??= setInterval(() => waiting().length && cueFor('critical'), 15_000);
}

/**
 * Losing the server is a state of the whole page, not a small red word: after a few seconds
 * without the live stream, a banner says the data may be stale, the counts grey out, and one tone
 * sounds. It all goes when the stream is back.
 */
const STALE_AFTER_MS = 3000;
let lostSince: number | null = null;
let staleTimer: ReturnType<typeof setTimeout> | undefined;

function link() {
  const banner = $('#link-banner');
  if (liveAlerts.connected()) {
    lostSince = null;
    clearTimeout(staleTimer);
    staleTimer = undefined;
    banner.hidden = true;
    delete document.body.dataset.stale;
    return;
  }
  if (lostSince !== null) return;
  lostSince = Date.now();
  staleTimer = setTimeout(() => {
    if (liveAlerts.connected()) return;
    document.body.dataset.stale = 'true';
    banner.textContent = `${t('linkLost')} ${cst(lostSince!)}`;
    banner.hidden = false;
    cueFor('major');
  }, STALE_AFTER_MS);
}

export function watchAlarms() {
  liveAlerts.subscribe(update);
  liveAlerts.subscribe(link);
  update();
}

/** Said again in the page's language (after the language is switched). */
export function retellAlarms() {
  update();
}
