import './app.css';
import { api, ApiFailure, useToken } from './api.ts';
import { mountBoard } from './board.ts';
import { mountDevice } from './device.ts';
import { mountDevices } from './devices.ts';
import { $, h } from './dom.ts';
import { lang, setLang, t, translatePage } from './i18n.ts';
import { audioBlocked, liveAlerts, soundOn } from './live-alerts.ts';
import { session, type Me } from './session.ts';
import { mountStats } from './stats.ts';
import { mountLoop } from './loop.ts';
import { mountCoverage } from './coverage.ts';
import { retellAlarms, watchAlarms } from './alarm-watch.ts';

/**
 * The dashboards: one page, the role decides the views. Operators get the duty board first,
 * regulators the statistics, enterprises their devices. Views are chosen by the address (#board,
 * #devices, #device/<enterprise>/<device>, #stats, #alerts, #loop, #coverage) so that a wall screen can be pointed
 * at one, and the browser's back button works.
 */
type View = 'board' | 'alerts' | 'devices' | 'stats' | 'loop' | 'coverage';
const VIEWS: Record<Me['role'], View[]> = {
  operator: ['board', 'devices', 'stats', 'loop', 'coverage'],
  regulator: ['stats', 'board', 'devices', 'loop', 'coverage'],
  enterprise: ['devices', 'alerts', 'loop'],
};
const LABEL: Record<View, Parameters<typeof t>[0]> = { board: 'board', alerts: 'alertsMine', devices: 'devices', stats: 'stats', loop: 'loop', coverage: 'coverageNav' };

// a wall screen can be opened once with #token=…; the token is kept and the address cleaned
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) {
  localStorage.setItem('token', fromHash);
  history.replaceState(null, '', location.pathname + location.search);
}

// a wall screen (?wall): the board only, large, dark, read-only; a theme chosen here is remembered
const wall = new URLSearchParams(location.search).has('wall');
if (wall) document.body.dataset.wall = '1';
const savedTheme = localStorage.getItem('theme');
const applyTheme = (theme: string) => (document.documentElement.dataset.theme = theme);
applyTheme(wall ? 'dark' : (savedTheme ?? (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')));

let unmount: (() => void) | undefined;

function route() {
  const me = session.me;
  if (!me) return;
  const [name, ...args] = location.hash.slice(1).split('/').map(decodeURIComponent);
  const allowed = VIEWS[me.role];
  const view = (wall && allowed.includes('board') ? 'board' : name === 'device' ? 'devices' : allowed.includes(name as View) ? name : allowed[0]) as View;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('chosen', a.dataset.view === view);
  unmount?.();
  $('#drawer').hidden = true;
  const root = $('#view');
  root.dataset.view = name === 'device' ? 'device' : view;
  if (name === 'device' && args.length === 2) unmount = mountDevice(root, args[0], args[1]);
  else if (view === 'board') unmount = mountBoard(root, { regions: true });
  else if (view === 'alerts') unmount = mountBoard(root, { regions: false });
  else if (view === 'devices') unmount = mountDevices(root);
  else if (view === 'loop') unmount = mountLoop(root);
  else if (view === 'coverage') unmount = mountCoverage(root);
  else unmount = mountStats(root);
}

function chrome() {
  const me = session.me!;
  $('#nav').replaceChildren(...VIEWS[me.role].map((v) => h('a', { href: `#${v}`, dataset: { view: v } }, t(LABEL[v]))));
  $('#who').textContent = me.name;
  const sound = $<HTMLButtonElement>('#sound');
  // a browser that blocks sound until a click is told so, not shown "sound on"
  sound.textContent = !soundOn ? t('soundOff') : audioBlocked() ? `♪ ${t('soundBlocked')}` : `♪ ${t('soundOn')}`;
  sound.setAttribute('aria-pressed', String(soundOn));
  $('#lang').textContent = t('lang');
  $('#theme').textContent = document.documentElement.dataset.theme === 'dark' ? t('themeLight') : t('themeDark');
  translatePage();
}

async function start(token: string) {
  useToken(token);
  try {
    session.me = await api.get<Me>('/api/me');
  } catch (e) {
    localStorage.removeItem('token');
    showLogin(e instanceof ApiFailure && e.status === 401 ? t('badToken') : (e as Error).message);
    return;
  }
  localStorage.setItem('token', token);
  await session.refresh();
  await liveAlerts.start();
  $('#login').hidden = true;
  $('#app').hidden = false;
  document.body.dataset.role = session.me.role;
  chrome();
  route();
  watchAlarms();
}

function showLogin(error = '') {
  $('#app').hidden = true;
  $('#login').hidden = false;
  $('#login-error').textContent = error;
  $<HTMLInputElement>('#token').focus();
}

$('#login').addEventListener('submit', (e) => {
  e.preventDefault();
  void start($<HTMLInputElement>('#token').value.trim());
});
$('#logout').addEventListener('click', () => {
  localStorage.removeItem('token');
  liveAlerts.stop();
  location.hash = '';
  location.reload();
});
const switchLanguage = () => {
  setLang(lang === 'zh' ? 'en' : 'zh');
  if (session.me) chrome(), route(), retellAlarms();
  else translatePage();
};
$('#lang').addEventListener('click', switchLanguage);
// a first-time user meets the login page first: it speaks either language too
$('#login-lang').addEventListener('click', switchLanguage);
$('#theme').addEventListener('click', () => {
  const next = document.documentElement.dataset.theme === 'dark' ? 'light' : 'dark';
  localStorage.setItem('theme', next);
  applyTheme(next);
  if (session.me) chrome();
});
$('#sound').addEventListener('click', () => {
  liveAlerts.setSound(!soundOn);
  chrome();
});
window.addEventListener('hashchange', route);

setLang(lang);
translatePage();
const saved = localStorage.getItem('token');
if (saved) void start(saved);
else showLogin();
