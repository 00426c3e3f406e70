import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp } from '../support/app.ts';

/** The duty board is served by the service itself, under a policy that lets only its own scripts run. */
describe('duty board', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.stop());

  it('serves the page, its script and its styles', async () => {
    const base = `http://127.0.0.1:${app.ports.http}`;
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('安全风险监测预警');
    expect(html).toContain('src="/app.js"');
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const js = await fetch(`${base}/app.js`);
    expect(js.headers.get('content-type')).toContain('javascript');
    expect(await js.text()).toContain('/api/alerts/stream');
    expect((await fetch(`${base}/app.css`)).status).toBe(200);
  });
});
