import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { goTo, launchBrowser, screenshot } from '../support/browser.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The handling loop in Debian's chromium: the enterprise reports its feedback with a photo from a
 * phone, the monitoring centre reviews it on the duty desk and the alert closes.
 */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64');

describe('feedback and review in the browser', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let browser: Browser;
  let base = '';
  const pages: Page[] = [];
  const open = async (token: string, hash: string, viewport: { width: number; height: number }) => {
    const page = await browser.newPage({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    pages.push(page);
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.goto(`${base}/#token=${token}`);
    await page.waitForSelector('#app:not([hidden])');
    await goTo(page, hash);
    return page;
  };

  beforeAll(async () => {
    const reg = testRegistry();
    delete (reg.routing as Record<string, unknown>).reviewFrom;
    Object.assign(reg.enterprises[0], { profile: { riskGrade: 'orange', majorHazardLevel: 3 } });
    app = await startTestApp({ registry: reg });
    base = `http://127.0.0.1:${app.ports.http}`;
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    for (const p of pages) await p.close().catch(() => {});
    await browser?.close();
    await app?.stop();
  });

  it('the enterprise reports with a photo on a phone; the duty desk accepts it and the alert closes', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ seq: 1, values: { gas_lel: 30 } });
    await dev.end();
    const api = apiClient(app, 'token-operator');
    const alert = (await api.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items[0];
    expect(alert.severity).toBe('major');

    const phone = await open('token-chem', '#alerts', { width: 390, height: 844 });
    const row = `tr[data-alert="${alert.id}"]`;
    await phone.waitForSelector(`${row} button.feedback`);
    // no plain close for an alert that closes through a review
    expect(await phone.$(`${row} button.close`)).toBeNull();
    await phone.click(`${row} button.feedback`);
    await phone.fill('#feedback-cause', '储罐区阀门填料泄漏');
    await phone.fill('#feedback-measures', '关闭阀门，更换填料，复测合格');
    await phone.setInputFiles('#feedback-photos', { name: 'valve.png', mimeType: 'image/png', buffer: PNG });
    await screenshot(phone, 'feedback-phone');
    await phone.click('#feedback-confirm');
    const reported = await waitFor(async () => {
      const a = (await api.get(`/api/alerts/${alert.id}`)).json;
      return a.review?.state === 'awaiting' && a;
    }, 10_000, 'the feedback in the API');
    expect(reported.feedback).toMatchObject({ cause: '储罐区阀门填料泄漏', by: 'chem-user' });
    expect(reported.feedback.photos).toHaveLength(1);

    const desk = await open('token-operator', '', { width: 1366, height: 768 });
    await desk.waitForSelector(`#alerts ${row} button.review`);
    await desk.click(`#alerts ${row} td.msg`);
    await desk.waitForSelector(`#drawer[data-alert="${alert.id}"] .photos img.photo[src^="blob:"]`);
    await desk.click(`#alerts ${row} button.review`);
    await desk.fill('#review-note', '现场复核合格');
    await desk.click('#review-accept');
    const closed = await waitFor(async () => {
      const a = (await api.get(`/api/alerts/${alert.id}`)).json;
      return a.state === 'closed' && a;
    }, 10_000, 'closed through the review');
    expect(closed).toMatchObject({ closeNote: '储罐区阀门填料泄漏；关闭阀门，更换填料，复测合格', disposition: 'hazard_rectified' });
  });

  it('the region signs off a rectification item in the closed-loop view, and reads coverage and the monthly report', async () => {
    const regulator = apiClient(app, 'token-regulator-a');
    const item = (await regulator.post('/api/hazards', { enterpriseId: CHEM, description: '可燃气体报警器未定期标定', dueAt: new Date(Date.now() + 86_400_000).toISOString() })).json;
    await apiClient(app, 'token-chem').post(`/api/hazards/${item.id}/rectified`, { measures: '已委托计量机构标定' });

    const page = await open('token-regulator-a', '#loop', { width: 1366, height: 768 });
    page.on('dialog', (d) => void d.accept('资料齐全，现场复核合格'));
    await page.waitForSelector(`tr[data-hazard="${item.id}"] button.signoff`);
    await page.click(`tr[data-hazard="${item.id}"] button.signoff`);
    await waitFor(async () => (await regulator.get(`/api/hazards/${item.id}`)).json.state === 'closed', 10_000, 'signed off in the API');

    await goTo(page, '#coverage');
    await page.waitForSelector('#coverage tr[data-enterprise]');
    // the casting plant in the region has never reported here: must connect, not connected, listed first
    expect(await page.$eval('#coverage tr', (tr) => [tr.getAttribute('data-enterprise'), tr.className])).toEqual(['91321283MA1CAST0002', 'not-connected']);
    await page.waitForSelector('#monthly-totals:not(:empty)');
    const download = page.waitForEvent('download');
    await page.click('#monthly-xlsx');
    expect((await download).suggestedFilename()).toMatch(/^monthly-\d{4}-\d{2}\.xlsx$/);
    await screenshot(page, 'coverage');

    // the enterprise's profile (一企一档) with its grade's colour
    await goTo(page, '#devices');
    await page.waitForSelector('p.profile');
    expect(await page.$eval('p.profile', (p) => p.textContent)).toContain('重大危险源等级 3');
    expect(await page.$eval('h2 span.grade', (s) => s.getAttribute('title'))).toBe('orange');

    // both views fit a phone
    const phone = await open('token-regulator-a', '#loop', { width: 390, height: 844 });
    await phone.waitForSelector('#hazards');
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
    await goTo(phone, '#coverage');
    await phone.waitForSelector('#coverage tr[data-enterprise]');
    expect(await phone.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')).toBeLessThanOrEqual(0);
  });
});
