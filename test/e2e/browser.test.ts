import type { Browser, Page } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { goTo, launchBrowser, pageValue, screenshot, watchAlertRows } from '../support/browser.ts';
import { CAST, CHEM, MALL, testRegistry } from '../support/registry.ts';
import { simulate } from '../support/simulate.ts';
import { startSmtp } from '../support/receivers.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The dashboards in Debian's chromium, against the whole service: live alerts, handling,
 * scopes, charts, registration, the regulator's export, and screens from a phone to a duty desk.
 * The screenshots in docs/screenshots/ (shown in the README) are taken here.
 */
const OPERATOR = '值班员 张敏';
// people's names as a monitoring centre would have them, for the screenshots
const registry = {
  ...testRegistry(),
  users: [
    { name: OPERATOR, token: 'token-operator', role: 'operator' },
    { name: '泰兴市应急管理局', token: 'token-regulator-a', role: 'regulator', regions: ['321283'] },
    { name: '测试化工 安全科', token: 'token-chem', role: 'enterprise', enterprise: CHEM },
  ],
};

describe('dashboards in a real browser', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let browser: Browser;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let base = '';
  const pages: Page[] = [];
  const open = async (token: string, hash = '', viewport = { width: 1366, height: 768 }) => {
    const page = await browser.newPage({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    pages.push(page);
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(`${base}/#token=${token}`);
    await page.waitForSelector('#app:not([hidden])');
    if (hash) await goTo(page, hash);
    return page;
  };

  beforeAll(async () => {
    smtp = await startSmtp();
    app = await startTestApp({ registry, smtpPort: smtp.port });
    base = `http://127.0.0.1:${app.ports.http}`;
    browser = await launchBrowser();
    await seedHistory(app);
  }, 60_000);
  afterAll(async () => {
    for (const p of pages) await p.close().catch(() => {});
    await browser?.close();
    await app?.stop();
    await smtp?.close();
  });

  it('operator board: an alarm raised by a simulator scenario appears live, without a reload, with a cue for critical', async () => {
    const page = await open('token-operator');
    await page.waitForSelector('#alerts');
    // the page records when each alert row first appears; a reload would lose the marker
    await watchAlertRows(page);
    const cues = async () => Number(await pageValue<string | undefined>(page, 'document.body.dataset.cues') ?? 0);
    const cuesBefore = await cues();
    const sim = simulate(app, ['--scenario', 'gas-leak-no-shutoff', '--scenario-delay', '0', '--interval', '1', '--duration', '6']);
    const api = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?state=active&severity=critical&enterprise=${CHEM}`)).json.items.find((a: any) => a.metric === 'gas_lel'), 15_000, 'critical gas alert');
    await page.waitForSelector(`#alerts tr[data-alert="${alert.id}"].critical`, { timeout: 5000 });
    // how fast is for `npm run bench`; here: it came without a reload
    expect(await pageValue<number>(page, `window.seen[${JSON.stringify(alert.id)}]`)).toBeGreaterThan(0);
    expect(await pageValue<number>(page, 'window.marker')).toBe(42);
    expect(await cues()).toBeGreaterThan(cuesBefore);
    // critical rows come first
    const first = await page.$eval('#alerts tbody tr', (tr) => tr.className);
    expect(first).toContain('critical');
    await sim.stop();
    await screenshot(page, 'operator-board');
    // the filters narrow the list without asking the server again for open alerts
    await page.selectOption('select[aria-label="级别"]', 'critical');
    expect(await page.$$eval('#alerts tbody tr', (trs) => trs.every((tr) => tr.classList.contains('critical')))).toBe(true);
    await page.selectOption('select[aria-label="行业"]', 'fire');
    expect(await page.$$eval('#alerts tbody tr', (trs) => trs.length)).toBe(0);
    await page.selectOption('select[aria-label="行业"]', '');
    await page.selectOption('select[aria-label="级别"]', '');
    await page.selectOption('select[aria-label="状态"]', 'all');
    await page.waitForSelector('#alerts tbody tr.closed');
  }, 40_000);

  it('acknowledging and closing in the UI shows in the API; the detail has the record and the notification log', async () => {
    const page = await open('token-operator');
    const api = apiClient(app, 'token-operator');
    const target = (await api.get(`/api/alerts?state=open&enterprise=${CHEM}&severity=critical`)).json.items[0];
    const row = `#alerts tr[data-alert="${target.id}"]`;
    await page.click(`${row} button.ack`);
    await page.fill('#ack-note', '值班长赶赴现场');
    await page.click('#ack-confirm');
    const acked = await waitFor(async () => (await api.get(`/api/alerts/${target.id}`)).json, 5000, 'ack');
    await waitFor(async () => (await api.get(`/api/alerts/${target.id}`)).json.acknowledged, 5000, 'acknowledged in the API');
    expect((await api.get(`/api/alerts/${target.id}`)).json.ackBy).toBe(OPERATOR);
    expect((await api.get(`/api/alerts/${target.id}`)).json.history.find((x: any) => x.type === 'acknowledged').note).toBe('值班长赶赴现场');
    expect(acked.id).toBe(target.id);

    await page.click(`${row} td.msg`);
    await page.waitForSelector(`#drawer[data-alert="${target.id}"]:not([hidden]) .history li.acknowledged`);
    // the notification log: the e-mail to the plant's safety unit, delivered
    await waitFor(async () => (await api.get(`/api/alerts/${target.id}`)).json.notifications.some((n: any) => n.status === 'delivered'), 5000, 'a delivered notification');
    await page.click(`${row} td.msg`);
    await page.waitForSelector(`#drawer[data-alert="${target.id}"] table.compact tr.delivered`);
    await screenshot(page, 'alert-detail');

    await page.click(`${row} button.close`);
    await page.selectOption('#close-disposition', 'drill');
    await page.fill('#close-note', '联合演练，现场已复位');
    await page.click('#close-confirm');
    const closed = await waitFor(async () => {
      const a = (await api.get(`/api/alerts/${target.id}`)).json;
      return a.state === 'closed' && a;
    }, 5000, 'closed in the API');
    expect(closed).toMatchObject({ disposition: 'drill', closeNote: '联合演练，现场已复位', closedBy: OPERATOR });
    await page.waitForSelector(row, { state: 'detached' });
  });

  it('an enterprise sees only its own: devices, charts with thresholds, alerts; another enterprise is refused', async () => {
    const page = await open('token-chem');
    expect(await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('href')))).toEqual(['#devices', '#alerts', '#loop']);
    await page.waitForSelector('#enterprise .card.device');
    expect(await page.$$eval('.card.device', (cs) => cs.map((c) => c.getAttribute('data-device')).sort())).toEqual(['gas-1', 'gas-2']);
    await screenshot(page, 'enterprise-devices');

    await goTo(page, `#device/${CAST}/caster-1`);
    await page.waitForSelector('#forbidden');
    const status = await pageValue<number>(page, `fetch('/api/enterprises/${CAST}', { headers: { authorization: 'Bearer token-chem' } }).then((r) => r.status)`);
    expect(status).toBe(403);

    await goTo(page, `#device/${CHEM}/gas-1`);
    await page.waitForSelector('.chart[data-metric="gas_lel"] canvas');
    expect(Number(await page.getAttribute('.chart[data-metric="gas_lel"]', 'data-points'))).toBeGreaterThan(300);
    await page.click('.segmented button:text("1h")');
    await page.waitForSelector('.chart[data-metric="gas_lel"] canvas');
    await page.click('.segmented button:text("6h")');
    await page.waitForSelector('.chart[data-metric="gas_lel"] canvas');
    await screenshot(page, 'device-chart');

    await goTo(page, '#alerts');
    await page.waitForSelector('#alerts');
    const enterprises = await page.$$eval('#alerts tbody tr td.enterprise', (tds) => [...new Set(tds.map((t) => t.textContent))]);
    expect(enterprises.every((n) => n === '测试化工有限公司')).toBe(true);
  });

  it('an enterprise registers a device: the secret is shown once with MQTT settings that work', async () => {
    const page = await open('token-chem', '#devices');
    await page.click('#register');
    // templates by what they are for, the registry's word beside
    expect(await page.textContent('#register-dialog fieldset')).toContain('危险化学品 hazchem');
    await page.fill('#reg-id', 'gas-new-1');
    await page.fill('#reg-name', '新增可燃气体探测器');
    await page.selectOption('.point-row select[name=metric]', 'gas_lel');
    await page.click('#reg-submit');
    const secret = (await page.textContent('#reg-secret', { timeout: 5000 }))!;
    expect(secret.length).toBeGreaterThan(16);
    expect(await page.textContent('#reg-settings')).toContain(`v1/${CHEM}/gas-new-1/telemetry`);
    await screenshot(page, 'register-device');
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'gas-new-1', password: secret, reconnectPeriod: 0 });
    await device.publishAsync(`v1/${CHEM}/gas-new-1/telemetry`, JSON.stringify({ values: { gas_lel: 3 } }), { qos: 1 });
    await device.endAsync();
    const ent = (await apiClient(app, 'token-chem').get(`/api/enterprises/${CHEM}`)).json;
    expect(ent.devices.find((d: any) => d.id === 'gas-new-1').lastValues.gas_lel.value).toBe(3);
  });

  it('the regulator sees its regions only, and its CSV export is what the API gives', async () => {
    const page = await open('token-regulator-a');
    await page.waitForSelector('#per-enterprise tbody tr');
    await page.waitForSelector('#chart-industry canvas');
    await page.waitForSelector('#history tbody tr');
    const names = await page.$$eval('#per-enterprise tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
    expect(names).toContain('测试化工有限公司');
    expect(names).not.toContain('测试商城');
    expect(await page.$$eval('#history tbody tr', (trs) => trs.length)).toBeGreaterThan(0);
    await screenshot(page, 'regulator');

    const [request, download] = await Promise.all([page.waitForRequest(/export\.csv/), page.waitForEvent('download'), page.click('#export')]);
    const csv = await readFile((await download.path())!);
    const url = new URL(request.url());
    const fromApi = await apiClient(app, 'token-regulator-a').get(url.pathname + url.search);
    expect(fromApi.status).toBe(200);
    expect(csv.equals(fromApi.bytes)).toBe(true);
    expect(csv.toString('utf8')).toContain('测试化工有限公司');
    expect(csv.toString('utf8')).not.toContain(MALL);
  });

  // (every view at three screen sizes in both languages: browser-layout.test.ts)
  it('switches between Chinese and English in place', async () => {
    const page = await open('token-operator', '#board');
    await page.click('#lang');
    expect(await page.textContent('nav a[data-view="board"]')).toBe('Duty board');
    expect(await page.textContent('#alerts thead')).toContain('Severity');
    await page.click('#lang');
    expect(await page.textContent('nav a[data-view="board"]')).toBe('值班台');
    // the login page, before anyone is known
    const login = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' });
    pages.push(login);
    await login.goto(base);
    await login.waitForSelector('#login:not([hidden])');
    expect(await login.textContent('#login button[type=submit]')).toBe('登录');
    await login.click('#login-lang');
    expect(await login.textContent('#login button[type=submit]')).toBe('Log in');
    expect(await login.textContent('#login-lang')).toBe('中文');
  }, 60_000);
});

/**
 * Six hours of a gas detector's readings, one a minute, with an excursion above the first level
 * two hours ago; a casting machine's run; a few alerts handled, so that the regulator's figures
 * have something to show.
 */
async function seedHistory(app: Awaited<ReturnType<typeof startTestApp>>) {
  const now = Date.now();
  const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
  const readings = [];
  for (let i = 360; i > 0; i--) {
    const ts = now - i * 60_000;
    const bump = i > 110 && i < 125 ? 22 : 0;
    readings.push({ ts, values: { gas_lel: Math.round((4 + 2 * Math.sin(i / 20) + Math.random() + bump) * 10) / 10, toxic_gas_ppm: Math.round((1 + Math.random()) * 10) / 10, gas_shutoff_valve_closed: false } });
  }
  for (let i = 0; i < readings.length; i += 100) await gas.telemetry(readings.slice(i, i + 100));
  await gas.end();
  const cast = await connectDevice(app, CAST, 'caster-1', 'secret-caster-1');
  const run = [];
  for (let i = 240; i > 0; i--) {
    const casting = i < 200 && i > 80;
    run.push({ ts: now - i * 60_000, values: { casting_active: casting, cooling_water_flow: casting ? (i > 150 && i < 154 ? 32 : 110 + Math.random() * 5) : 0, cooling_water_pressure: casting ? 0.42 : 0, melt_level: casting ? 600 + Math.random() * 20 : 0 } });
  }
  for (let i = 0; i < run.length; i += 100) await cast.telemetry(run.slice(i, i + 100));
  await cast.end();
  const op = apiClient(app, 'token-operator');
  await waitFor(async () => (await op.get('/api/alerts?state=all')).json.items.length >= 2, 5000, 'seeded alerts');
  for (const a of (await op.get('/api/alerts?state=cleared')).json.items) {
    await op.post(`/api/alerts/${a.id}/ack`, { note: '已通知现场' });
    await op.post(`/api/alerts/${a.id}/close`, { disposition: 'hazard_rectified', note: '通风后浓度恢复正常' });
  }
}
