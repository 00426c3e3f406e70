import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's Chromium driven by playwright-core (Playwright's own browser download cannot work
 * here): its headless shell, the build Playwright itself runs headless. The full `chromium` in
 * headless mode renders the same pages with the same Blink, but took 2.5 times the CPU (20 CPU-s
 * against 8 in the layout test): the four browser test files took 94 CPU-s with it and 56 with
 * the shell, on a suite of about 180. `npm test` installs the shell first (scripts/system-packages.txt); where only
 * the full chromium is installed the tests use it. Without either they fail, they do not skip.
 */
const CANDIDATES = ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium'];
export const CHROMIUM = process.env.CHROMIUM_PATH ?? CANDIDATES.find((p) => existsSync(p)) ?? CANDIDATES[0];

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: run \`npm test\` (it installs it) or set CHROMIUM_PATH`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
}

/**
 * Where screenshots go: a temporary folder, so a test run never changes tracked files;
 * `npm run screenshots` points it at docs/screenshots to refresh the README's.
 */
export const SCREENSHOTS = process.env.SCREENSHOTS_DIR ?? join(tmpdir(), 'rm-screenshots');

/** A screenshot of a page in a known state (README pictures when refreshed on purpose). */
export async function screenshot(page: Page, name: string) {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Pages must not scroll sideways: every view fits the screen it is on. */
// (page scripts are strings: this project's TypeScript has no DOM types outside dashboards/)
export const overflowX = (page: Page) => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');

/** Go to a view the way a link would, without reloading the page. */
export const goTo = (page: Page, hash: string) => page.evaluate(`location.hash = ${JSON.stringify(hash)}`);

/** Note, in the page, when each alert row first appears (and set a marker that a reload would lose). */
export const watchAlertRows = (page: Page) =>
  page.evaluate(`(() => {
    window.marker = 42;
    window.seen = {};
    const note = () => document.querySelectorAll('#alerts tbody tr[data-alert]').forEach((tr) => (window.seen[tr.dataset.alert] ??= Date.now()));
    note();
    new MutationObserver(note).observe(document.querySelector('#view'), { childList: true, subtree: true });
  })()`);

export const pageValue = <T>(page: Page, expression: string) => page.evaluate<T>(expression);
