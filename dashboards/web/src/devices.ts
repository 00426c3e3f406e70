import { h, select } from './dom.ts';
import { cst, industryName, metricName, t, valueText } from './i18n.ts';
import { openRegistration } from './register.ts';
import { gradeColour } from './loop.ts';
import { session, type Device, type Enterprise } from './session.ts';

/**
 * An enterprise's devices: online or not, when last heard, the last value of every point, open
 * alerts; a click opens the device's charts. Operators and regulators choose the enterprise.
 */
let chosen = '';

export function mountDevices(root: HTMLElement) {
  const ents = session.enterprises;
  const own = session.me?.enterpriseId;
  if (!chosen || !ents.some((e) => e.id === chosen)) chosen = own ?? ents[0]?.id ?? '';
  const body = h('div');
  const draw = () => {
    const ent = session.enterprises.find((e) => e.id === chosen);
    body.replaceChildren(...(ent ? [enterpriseView(ent, draw)] : []));
  };
  root.replaceChildren(
    h(
      'section',
      { class: 'panel' },
      ents.length > 1
        ? h('div', { class: 'filters' }, select(ents.map((e) => ({ value: e.id, label: `${e.name}（${industryName(e.industry)}）` })), chosen, (v) => ((chosen = v), draw()), t('chooseEnterprise')))
        : '',
      body,
    ),
  );
  draw();
  const timer = setInterval(() => void session.refresh().then(draw, () => {}), 10_000);
  return () => clearInterval(timer);
}

function enterpriseView(ent: Enterprise, redraw: () => void) {
  return h(
    'div',
    { id: 'enterprise', dataset: { enterprise: ent.id } },
    h(
      'div',
      { class: 'heading' },
      h(
        'h2',
        {},
        ent.profile?.riskGrade ? h('span', { class: 'grade', style: `background:${gradeColour(ent.profile.riskGrade)}`, title: ent.profile.riskGrade }) : '',
        ' ',
        ent.name,
        h('small', {}, ` ${industryName(ent.industry)} · ${ent.region} · ${ent.id}`),
      ),
      ent.profile ? h('p', { class: 'muted profile' }, profileText(ent.profile)) : '',
      session.handles(ent.id) ? h('button', { type: 'button', class: 'primary', id: 'register', onclick: () => openRegistration(ent, () => void session.refresh().then(redraw)) }, `+ ${t('registerDevice')}`) : '',
    ),
    h('div', { class: 'cards' }, ...ent.devices.map((d) => deviceCard(ent, d))),
  );
}

function deviceCard(ent: Enterprise, d: Device) {
  const state = d.online ? 'online' : d.lastSeen ? 'offline' : 'neverSeen';
  return h(
    'a',
    { class: `card device ${d.online ? 'on' : 'off'}`, href: `#device/${encodeURIComponent(ent.id)}/${encodeURIComponent(d.id)}`, dataset: { device: d.id } },
    h('div', { class: 'card-head' }, h('span', { class: `dot ${d.online ? 'on' : 'off'}` }), h('strong', {}, d.name ?? d.id), d.name ? h('small', {}, d.id) : '', d.openAlerts ? h('span', { class: 'pill alarm' }, d.openAlerts) : ''),
    h('p', { class: 'muted' }, `${t(state)} · ${t('lastSeen')} ${cst(d.lastSeen)}`),
    // online, and yet nothing it sends is judged: the card must not look like a healthy device's
    d.heldBackUntil ? h('p', { class: 'held-back' }, `${t('heldBackUntil')} ${cst(d.heldBackUntil)}`) : '',
    h(
      'table',
      { class: 'values' },
      h(
        'tbody',
        {},
        ...d.points.map((p) => h('tr', {}, h('th', {}, p.name ?? metricName(p.metric)), h('td', {}, valueText(d.lastValues[p.id]?.value, p.metric)))),
      ),
    ),
  );
}

/** 一企一档 in one line: exposed workers, dust, major hazard level, whether it must be connected. */
function profileText(p: NonNullable<Enterprise['profile']>): string {
  return [
    p.exposedWorkers !== undefined ? `${t('exposedWorkers')} ${p.exposedWorkers}` : '',
    p.dustType ? `${t('dustType')} ${p.dustType}` : '',
    p.majorHazardLevel ? `${t('majorHazardLevel')} ${p.majorHazardLevel}` : '',
    `${t('mustConnect')} ${p.mustConnect ? t('yes') : t('no')}`,
  ]
    .filter(Boolean)
    .join(' · ');
}
