import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectDevice, startTestApp } from '../support/app.ts';
import { launchBrowser, overflowX, pageValue, screenshot } from '../support/browser.ts';
import { CHEM, MALL, testRegistry } from '../support/registry.ts';

/**
 * Every view at a duty screen (1366×768), a wall screen (1920×1080) and a phone (390×844), in
 * Chinese and in English: nothing sticks out of its container or the screen, every action button
 * can be reached, and the device registration dialog's buttons are in sight and work.
 */
const SIZES = [
  { width: 1366, height: 768 },
  { width: 1920, height: 1080 },
  { width: 390, height: 844 },
];
const VIEWS = [
  ['token-operator', '#board', '#alerts tbody tr[data-alert]'],
  ['token-operator', '#coverage', 'tbody#coverage tr'],
  ['token-operator', '#loop', '#view h3'],
  ['token-operator', `#device/${CHEM}/gas-1`, '.chart canvas'],
  ['token-regulator-a', '#stats', '#per-enterprise tbody tr'],
  ['token-chem', '#devices', '.card.device'],
  ['token-chem', '#alerts', '#alerts tbody tr[data-alert]'],
] as const;

/** Elements that stick out of their parent or the screen (tables that scroll in their own box excepted). */
const OUT_OF_PLACE = `(() => {
  const out = [];
  const describe = (el) => el.tagName.toLowerCase() + (el.getAttribute('id') ? '#' + el.getAttribute('id') : '') + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : '') + ' "' + (el.textContent || '').trim().slice(0, 30) + '"';
  for (const el of document.querySelectorAll('#app *, dialog[open] *')) {
    // what scrolls in a box of its own (a wide table) is where it should be
    let scrolls = false;
    for (let a = el.parentElement; a && !scrolls; a = a.parentElement) scrolls = ['auto', 'scroll'].includes(getComputedStyle(a).overflowX);
    if (scrolls || el.closest('[hidden]')) continue;
    const s = getComputedStyle(el);
    if (s.display === 'none' || s.visibility === 'hidden' || s.position === 'fixed') continue;
    const r = el.getBoundingClientRect();
    if (!r.width || !r.height) continue;
    const p = el.parentElement;
    const ps = getComputedStyle(p);
    const pr = p.getBoundingClientRect();
    if (ps.overflowX === 'visible' && r.right > pr.right + 2) out.push(describe(el) + ' sticks out of ' + describe(p) + ' by ' + Math.round(r.right - pr.right) + 'px');
    else if (r.right > innerWidth + 1) out.push(describe(el) + ' runs off the screen by ' + Math.round(r.right - innerWidth) + 'px');
    // text cut short without an ellipsis saying so
    if (el.children.length === 0 && el.scrollWidth > el.clientWidth + 2 && s.overflowX !== 'visible' && s.textOverflow !== 'ellipsis' && !['INPUT', 'SELECT', 'TEXTAREA', 'CANVAS'].includes(el.tagName)) out.push(describe(el) + ' cuts its text');
  }
  return [...new Set(out)].slice(0, 8);
})()`;

/** Every action button can be brought into sight and is not covered. */
const BUTTONS_REACHABLE = `(() => {
  const bad = [];
  // a modal dialog covers the page: then its buttons are the ones to reach
  const scope = document.querySelector('dialog[open]') ? 'dialog[open] button' : '#app button';
  for (const b of document.querySelectorAll(scope)) {
    if (b.closest('[hidden]') || getComputedStyle(b).display === 'none') continue;
    b.scrollIntoView({ block: 'center', inline: 'center' });
    const r = b.getBoundingClientRect();
    const x = r.left + r.width / 2, y = r.top + r.height / 2;
    const top = document.elementFromPoint(x, y);
    if (r.right > innerWidth + 1 || r.left < -1 || !top || !(top === b || b.contains(top))) bad.push((b.id || b.className || b.textContent.trim()).slice(0, 30));
  }
  window.scrollTo(0, 0);
  return bad.slice(0, 8);
})()`;

/** The open detail: its top and its close button in sight and on top, its buttons reachable. */
const DETAIL_IN_SIGHT = `(() => {
  const bad = [];
  const d = document.querySelector('#drawer');
  const r = d.getBoundingClientRect();
  if (r.top < 0 || r.top > innerHeight * 0.5) bad.push('the detail starts at ' + Math.round(r.top) + 'px');
  const x = d.querySelector('.drawer-close').getBoundingClientRect();
  const hit = document.elementFromPoint(x.left + x.width / 2, x.top + x.height / 2);
  if (x.top < 0 || x.bottom > innerHeight || !hit || !hit.classList.contains('drawer-close')) bad.push('× not in sight or covered');
  // nothing (the critical banner, the header) lies over the sheet's first screenful
  for (let y = r.top + 30; y < Math.min(r.bottom, innerHeight) - 10; y += 40) {
    const at = document.elementFromPoint(r.left + 40, y);
    if (at && !d.contains(at)) { bad.push('covered at ' + Math.round(y) + 'px by ' + (at.id || at.tagName)); break; }
  }
  for (const b of d.querySelectorAll('button')) {
    b.scrollIntoView({ block: 'center' });
    const br = b.getBoundingClientRect();
    const top = document.elementFromPoint(br.left + br.width / 2, br.top + br.height / 2);
    if (br.right > innerWidth + 1 || !top || !(top === b || b.contains(top))) bad.push((b.className || b.textContent.trim()).slice(0, 30));
  }
  return bad.slice(0, 8);
})()`;

describe('every view fits every screen, in both languages', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let browser: Browser;
  beforeAll(async () => {
    app = await startTestApp({ registry: testRegistry() });
    browser = await launchBrowser();
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    await gas.telemetry({ seq: 1, values: { gas_lel: 45, toxic_gas_ppm: 2.345, gas_shutoff_valve_closed: false } });
    await gas.telemetry({ seq: 2, values: { gas_lel: 3 } });
    await gas.telemetry({ seq: 3, values: { gas_lel: 27.5 } });
    await smoke.telemetry({ seq: 1, values: { smoke_alarm: true } });
    // readings refused again and again: an alert whose figures are its own (a count), not the point's
    for (let seq = 4; seq <= 6; seq++) await gas.telemetry({ seq, values: { toxic_gas_ppm: 'high' } });
    await app.settled();
    await Promise.all([gas.end(), smoke.end()]);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const open = async (token: string, hash: string, viewport: { width: number; height: number }, lang: 'zh' | 'en'): Promise<Page> => {
    const page = await browser.newPage({ viewport, locale: lang === 'zh' ? 'zh-CN' : 'en-GB', timezoneId: 'Asia/Shanghai' });
    await page.addInitScript(`localStorage.setItem('lang', '${lang}')`);
    await page.goto(`http://127.0.0.1:${app.ports.http}/${hash}#token=${token}`.replace(/(#[^#]*)#token=/, '#token=').replace(/\/#token=/, `/#token=`));
    await page.waitForSelector('#app:not([hidden])');
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    return page;
  };

  /** Show a view as a link would, drawn afresh (also when it is the view already shown). */
  const show = (page: Page, hash: string) =>
    page.evaluate(`(() => {
      document.querySelector('#view').replaceChildren();
      if (location.hash === ${JSON.stringify(hash)}) dispatchEvent(new HashChangeEvent('hashchange'));
      else location.hash = ${JSON.stringify(hash)};
    })()`);

  // one page per caller and language, resized and led through its views: what a person at each
  // screen would see, without a browser context per view
  for (const lang of ['zh', 'en'] as const)
    for (const token of [...new Set(VIEWS.map(([t]) => t))])
      it(`${token.replace('token-', '')}'s views at ${SIZES.map((s) => `${s.width}×${s.height}`).join(', ')}, ${lang === 'zh' ? 'Chinese' : 'English'}`, async () => {
        const views = VIEWS.filter(([t]) => t === token);
        const page = await open(token, views[0][1], SIZES[0], lang);
        try {
          for (const size of SIZES) {
            await page.setViewportSize(size);
            for (const [, hash, ready] of views) {
              await show(page, hash);
              await page.waitForSelector(ready, { timeout: 5000 }).catch(async (e: Error) => {
                throw new Error(`${token} ${hash}: ${ready} not shown: ${(await page.$eval('#view', (v) => v.innerHTML.slice(0, 300)).catch(() => '?'))} ${e.message.split('\n')[0]}`);
              });
              const where = `${token} ${hash} at ${size.width}px in ${lang}`;
              expect(await overflowX(page), where).toBeLessThanOrEqual(0);
              expect(JSON.stringify(await pageValue<string[]>(page, OUT_OF_PLACE)), where).toBe("[]");
              expect(JSON.stringify(await pageValue<string[]>(page, BUTTONS_REACHABLE)), where).toBe("[]");
              if (hash === '#board') {
                // the detail of an alert, opened from the list
                await page.click('#alerts tbody tr[data-alert] td.msg');
                await page.waitForSelector('#drawer:not([hidden]) .history');
                expect(JSON.stringify(await pageValue<string[]>(page, DETAIL_IN_SIGHT)), `${where}, detail open`).toBe('[]');
                expect(JSON.stringify(await pageValue<string[]>(page, OUT_OF_PLACE)), `${where}, detail open`).toBe('[]');
                if (size.width < 500 && lang === 'zh') await screenshot(page, 'phone-alert-detail');
                await page.click('#drawer .drawer-close');
              }
              if (hash === '#board' && size.width === 1920 && lang === 'en') await screenshot(page, 'board-1920-en');
              if (size.width < 500 && lang === 'zh' && hash === '#board') await screenshot(page, 'phone-board');
              if (size.width < 500 && lang === 'zh' && hash === '#devices') await screenshot(page, 'phone-enterprise');
            }
          }
        } finally {
          await page.close();
        }
      }, 120_000);

  for (const size of SIZES)
    it(`registers a device with its dialog's buttons in sight at ${size.width}×${size.height}`, async () => {
      const page = await open('token-chem', '#devices', size, size.width === 1366 ? 'en' : 'zh');
      await page.click('#register');
      await page.waitForSelector('#register-dialog[open]');
      expect(JSON.stringify(await pageValue<string[]>(page, OUT_OF_PLACE))).toBe("[]");
      expect(JSON.stringify(await pageValue<string[]>(page, BUTTONS_REACHABLE))).toBe("[]");
      await page.fill('#reg-id', `gas-layout-${size.width}`);
      await page.selectOption('#register-dialog select[name=metric]', 'gas_lel');
      await page.click('#reg-submit');
      await page.waitForSelector('#reg-secret');
      expect((await page.textContent('#reg-secret'))!.length).toBeGreaterThan(8);
      expect(JSON.stringify(await pageValue<string[]>(page, BUTTONS_REACHABLE))).toBe("[]");
      if (size.width < 500) await screenshot(page, 'phone-register');
      await page.close();
    }, 60_000);

  it('one language per page: the alert\'s words in the page\'s language, values with their units and sensible digits', async () => {
    for (const lang of ['zh', 'en'] as const) {
      const page = await open('token-operator', '#board', { width: 1366, height: 768 }, lang);
      await page.waitForSelector('#alerts tbody tr[data-alert]');
      const rows = await page.$$eval('#alerts tbody tr[data-alert]', (trs) => trs.map((tr) => ({ msg: tr.querySelector('td.msg')!.textContent!, num: tr.querySelector('td.num')!.textContent! })));
      const gas = rows.find((r) => r.num.includes('%LEL'))!;
      // the threshold has its unit too
      expect(gas.num).toMatch(/^[\d.]+ %LEL \/ [\d.]+ %LEL$/);
      // a smoke alarm alarms by its state: yes, and no "/ 1"
      expect(rows.find((r) => r.msg.includes(lang === 'zh' ? '烟感' : 'smoke'))?.num).toBe(lang === 'zh' ? '是' : 'yes');
      // readings refused are counted, not measured in the point's unit
      expect(rows.map((r) => r.num)).toContain(lang === 'zh' ? '3 条 / 3 条' : '3 readings / 3 readings');
      for (const r of rows) {
        expect(r.msg).not.toContain(' / ');
        if (lang === 'en') expect(r.msg).not.toMatch(/[\u4e00-\u9fff]/);
        else expect(r.msg).toMatch(/[\u4e00-\u9fff]/);
      }
      await page.close();
    }
  }, 60_000);

  it('a wall screen: the board, dark, large, nothing to click; the theme a duty screen chose is kept', async () => {
    const page = await browser.newPage({ viewport: { width: 1920, height: 1080 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
    await page.goto(`http://127.0.0.1:${app.ports.http}/?wall#token=token-operator`);
    await page.waitForSelector('#alerts tbody tr[data-alert]');
    expect(await pageValue<string>(page, 'document.documentElement.dataset.theme')).toBe('dark');
    expect(await pageValue<string>(page, 'getComputedStyle(document.documentElement).backgroundColor')).toBe('rgb(14, 20, 27)');
    expect(await page.isVisible('header nav')).toBe(false);
    expect(await page.isVisible('#alerts td.actions button')).toBe(false);
    expect(await page.isVisible('#critical-banner')).toBe(true);
    await screenshot(page, 'wall-screen');
    await page.close();

    const duty = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN', colorScheme: 'light' });
    await duty.goto(`http://127.0.0.1:${app.ports.http}/#token=token-operator`);
    await duty.waitForSelector('#alerts tbody tr');
    expect(await pageValue<string>(duty, 'document.documentElement.dataset.theme')).toBe('light');
    await duty.click('#theme');
    expect(await pageValue<string>(duty, 'document.documentElement.dataset.theme')).toBe('dark');
    await duty.reload();
    await duty.waitForSelector('#alerts tbody tr');
    expect(await pageValue<string>(duty, 'document.documentElement.dataset.theme')).toBe('dark');
    await duty.close();
  }, 60_000);
});
