// The duty board: open alerts live over SSE, acknowledge and close, enterprises and devices.
// Plain ES modules, no build step; everything it shows comes from the service's own API.
const $ = (s) => document.querySelector(s);
const T = {
  zh: { title: '安全风险监测预警 · 值班台', logout: '退出', token: '访问令牌', login: '登录', hint: '演示令牌：demo-operator、demo-regulator、demo-longxin', alerts: '未闭环报警', live: '实时', severity: '级别', time: '时间', enterprise: '企业', point: '设备/点位', message: '说明', state: '状态', devices: '企业与设备', closeTitle: '关闭报警', disposition: '处置结论', note: '处置说明', cancel: '取消', confirm: '确认关闭', ack: '确认', close: '关闭', active: '报警中', cleared: '已消除', acked: '已确认', online: '在线', offline: '离线', lang: 'English' },
  en: { title: 'Risk monitoring · duty board', logout: 'Log out', token: 'Access token', login: 'Log in', hint: 'Demo tokens: demo-operator, demo-regulator, demo-longxin', alerts: 'Open alerts', live: 'live', severity: 'Severity', time: 'Time', enterprise: 'Enterprise', point: 'Device / point', message: 'Message', state: 'State', devices: 'Enterprises and devices', closeTitle: 'Close alert', disposition: 'Disposition', note: 'What was done', cancel: 'Cancel', confirm: 'Close it', ack: 'Acknowledge', close: 'Close', active: 'active', cleared: 'cleared', acked: 'acknowledged', online: 'online', offline: 'offline', lang: '中文' },
};
const RANK = { critical: 3, major: 2, warning: 1, info: 0 };
let lang = localStorage.getItem('lang') || 'zh';
// a wall screen can be opened with #token=… once; the token is then kept and the address cleaned
const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
if (fromHash) {
  localStorage.setItem('token', fromHash);
  history.replaceState(null, '', location.pathname);
}
let token = localStorage.getItem('token') || '';
const alerts = new Map();
const names = new Map();
let stream;

const t = (k) => T[lang][k] ?? k;
const cst = (iso) => new Date(iso).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: 'Asia/Shanghai', hour12: false });

function translate() {
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  $('#lang').textContent = t('lang');
  document.title = t('title');
}

async function api(path, body) {
  const res = await fetch(path, { method: body ? 'POST' : 'GET', headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(json.message || res.statusText);
  return json;
}

function render() {
  const list = [...alerts.values()].filter((a) => a.state !== 'closed').sort((a, b) => RANK[b.severity] - RANK[a.severity] || b.raisedAt.localeCompare(a.raisedAt));
  $('#count').textContent = list.length;
  const body = $('#alerts tbody');
  body.replaceChildren(
    ...list.map((a) => {
      const tr = document.createElement('tr');
      tr.className = `${a.severity}${a.fresh ? ' fresh' : ''}`;
      a.fresh = false;
      const cells = [a.severity.toUpperCase(), cst(a.raisedAt), names.get(a.enterpriseId) || a.enterpriseId, `${a.deviceId} / ${a.metric}`, a.message, `${t(a.state)}${a.acknowledged ? ` · ${t('acked')}` : ''}${a.flapping ? ' · flapping' : ''}`];
      for (const c of cells) tr.append(Object.assign(document.createElement('td'), { textContent: c }));
      const act = document.createElement('td');
      if (!a.acknowledged) act.append(button(t('ack'), () => api(`/api/alerts/${a.id}/ack`, {}).then(update, alert)));
      if (a.acknowledged || a.severity !== 'critical') act.append(button(t('close'), () => closeDialog(a)));
      tr.append(act);
      return tr;
    }),
  );
}

const button = (text, onclick) => Object.assign(document.createElement('button'), { type: 'button', textContent: text, onclick });

function update(a) {
  alerts.set(a.id, { ...alerts.get(a.id), ...a });
  render();
}

function closeDialog(a) {
  const dlg = $('#close');
  $('#note').value = '';
  dlg.onclose = () => {
    if (dlg.returnValue !== 'ok') return;
    api(`/api/alerts/${a.id}/close`, { disposition: $('#disposition').value, note: $('#note').value }).then(update, alert);
  };
  dlg.showModal();
}

function cue() {
  // an audible cue for a new critical alarm; browsers allow it after the first click on the page
  try {
    const ctx = new AudioContext();
    const o = ctx.createOscillator();
    o.frequency.value = 880;
    o.connect(ctx.destination);
    o.start();
    o.stop(ctx.currentTime + 0.4);
  } catch {}
}

function follow() {
  stream?.close();
  stream = new EventSource(`/api/alerts/stream?token=${encodeURIComponent(token)}`);
  stream.onopen = () => $('#live').classList.remove('off');
  stream.onerror = () => $('#live').classList.add('off');
  stream.addEventListener('alert', (e) => {
    const a = JSON.parse(e.data);
    const isNew = !alerts.has(a.id);
    update({ ...a, fresh: isNew && a.severity === 'critical' });
    if (isNew && a.severity === 'critical') cue();
  });
}

async function loadEnterprises() {
  const { items } = await api('/api/enterprises');
  const box = $('#enterprises');
  box.replaceChildren(
    ...items.map((e) => {
      names.set(e.id, e.name);
      const div = Object.assign(document.createElement('div'), { className: 'ent' });
      div.append(Object.assign(document.createElement('h3'), { textContent: `${e.name} · ${e.industry} · ${e.region}` }));
      for (const d of e.devices) div.append(Object.assign(document.createElement('span'), { className: `dev${d.online ? '' : ' off'}`, textContent: `${d.name || d.id} · ${t(d.online ? 'online' : 'offline')}` }));
      return div;
    }),
  );
}

async function start() {
  try {
    await loadEnterprises();
    const { items } = await api('/api/alerts?state=open&limit=500');
    alerts.clear();
    for (const a of items) alerts.set(a.id, a);
    $('#login').hidden = true;
    $('#board').hidden = false;
    $('#who').textContent = '';
    render();
    follow();
    setInterval(() => loadEnterprises().catch(() => {}), 15000);
  } catch (err) {
    localStorage.removeItem('token');
    $('#login').hidden = false;
    $('#board').hidden = true;
    if (token) alert(err.message);
  }
}

$('#login').onsubmit = (e) => {
  e.preventDefault();
  token = $('#token').value.trim();
  localStorage.setItem('token', token);
  start();
};
$('#logout').onclick = () => {
  localStorage.removeItem('token');
  location.reload();
};
$('#lang').onclick = () => {
  lang = lang === 'zh' ? 'en' : 'zh';
  localStorage.setItem('lang', lang);
  translate();
  render();
};
translate();
if (token) start();
else $('#login').hidden = false;
