import { api } from './api.ts';
import { h, toast } from './dom.ts';
import { metricName, metricUnit, t, templateName } from './i18n.ts';
import type { Enterprise } from './session.ts';
import { METRICS } from '../../../domain/indicators.ts';
import { TEMPLATE_NAMES } from '../../../rules/templates/index.ts';

/**
 * Register a device: id, name, templates and points; the answer carries the secret, shown once
 * with the MQTT settings to paste into the device.
 */
export function openRegistration(ent: Enterprise, registered: () => void) {
  const pointRows = h('div', { class: 'point-rows' });
  const addPoint = (metric = '') => {
    const m = h('select', { name: 'metric', required: true }, h('option', { value: '' }, '—'), ...METRICS.map((x) => h('option', { value: x }, `${metricName(x)} (${x})`)));
    m.value = metric;
    const unit = h('input', { name: 'unit', placeholder: t('unit'), size: 6 });
    m.addEventListener('change', () => (unit.placeholder = metricUnit(m.value) || t('unit')));
    const lo = h('input', { name: 'lo', type: 'number', step: 'any', placeholder: t('rangeLow') });
    const hi = h('input', { name: 'hi', type: 'number', step: 'any', placeholder: t('rangeHigh') });
    const row = h('div', { class: 'point-row' }, m, unit, lo, hi, h('button', { type: 'button', 'aria-label': 'remove', onclick: () => row.remove() }, '×'));
    pointRows.append(row);
  };
  addPoint();
  const id = h('input', { name: 'id', id: 'reg-id', required: true, pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]{0,63}' });
  const name = h('input', { name: 'name', id: 'reg-name' });
  const interval = h('input', { name: 'interval', type: 'number', min: 1, value: '60' });
  const templates = TEMPLATE_NAMES.map((n) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: n, checked: ent.industry === n || (ent.industry === 'hazchem' && n === 'hazchem') }), templateName(n), ' ', h('small', { class: 'muted' }, n)));
  const result = h('div', { class: 'result' });
  const form: HTMLFormElement = h(
    'form',
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const points = [...pointRows.querySelectorAll<HTMLElement>('.point-row')].map((r) => {
          const v = (n: string) => (r.querySelector(`[name=${n}]`) as HTMLInputElement).value;
          return { metric: v('metric'), ...(v('unit') ? { unit: v('unit') } : {}), ...(v('lo') !== '' && v('hi') !== '' ? { range: [Number(v('lo')), Number(v('hi'))] } : {}) };
        });
        try {
          const res = await api.post<{ secret: string; mqtt: Record<string, string | null>; device: { id: string } }>(`/api/enterprises/${encodeURIComponent(ent.id)}/devices`, {
            id: id.value.trim(),
            ...(name.value.trim() ? { name: name.value.trim() } : {}),
            reportIntervalS: Number(interval.value) || 60,
            templates: templates.map((l) => l.querySelector('input')!).filter((i) => i.checked).map((i) => i.value),
            points,
          });
          form.hidden = true;
          const settings = Object.entries(res.mqtt)
            .filter(([, v]) => v)
            .map(([k, v]) => `${k}: ${v}`)
            .join('\n');
          const pre = h('pre', { id: 'reg-settings' }, settings);
          result.replaceChildren(
            h('p', { class: 'warning' }, t('secretOnce')),
            h('p', {}, h('code', { id: 'reg-secret' }, res.secret)),
            h('h4', {}, t('mqttSettings')),
            pre,
            h('menu', {}, h('button', { type: 'button', onclick: () => void navigator.clipboard?.writeText(settings).then(() => toast(t('copied'), 'ok')) }, t('copy')), h('button', { type: 'button', class: 'primary', onclick: () => dlg.close() }, t('done'))),
          );
          registered();
        } catch (err) {
          toast((err as Error).message);
        }
      },
    },
    h('h3', {}, `${t('registerDevice')} · ${ent.name}`),
    h('label', {}, h('span', {}, t('deviceId')), id),
    h('label', {}, h('span', {}, t('deviceName')), name),
    h('label', {}, h('span', {}, t('reportInterval')), interval),
    h('fieldset', {}, h('legend', {}, t('templates')), ...templates),
    h('fieldset', {}, h('legend', {}, t('points')), pointRows, h('button', { type: 'button', onclick: () => addPoint() }, `+ ${t('addPoint')}`)),
    h('menu', {}, h('button', { type: 'button', onclick: () => dlg.close() }, t('cancel')), h('button', { type: 'submit', class: 'primary', id: 'reg-submit' }, t('register'))),
  );
  const dlg = h('dialog', { class: 'register-dialog', id: 'register-dialog' }, form, result);
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}
