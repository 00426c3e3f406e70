import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { startSmtp } from '../support/receivers.ts';
import { CHEM, MALL } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

describe('silences, reports and the daily summary', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    smtp = await startSmtp();
    app = await startTestApp({ smtpPort: smtp.port });
  });
  afterAll(async () => {
    await app?.stop();
    await smtp?.close();
  });
  const op = () => apiClient(app, 'token-operator');

  it('refuses silences without an end, too long, without a reason, or by a regulator', async () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    expect((await op().post('/api/silences', { enterpriseId: CHEM, reason: '检修' })).json.field).toBe('until');
    expect((await op().post('/api/silences', { enterpriseId: CHEM, reason: '检修', until: new Date(Date.now() + 8 * 86_400_000).toISOString() })).json.field).toBe('until');
    expect((await op().post('/api/silences', { enterpriseId: CHEM, reason: ' ', until })).json.field).toBe('reason');
    expect((await apiClient(app, 'token-regulator-a').post('/api/silences', { enterpriseId: CHEM, reason: '检修', until })).status).toBe(403);
    expect((await apiClient(app, 'token-mall').post('/api/silences', { enterpriseId: CHEM, reason: '检修', until })).status).toBe(403);
    // a rule is named by its id: the messages announcing the silence show it
    const sly = await apiClient(app, 'token-chem').post('/api/silences', { enterpriseId: CHEM, rule: 'gas-lel\n- [解除静默](http://evil.example/s)', reason: '检修', until });
    expect(sly.status).toBe(400);
    expect(sly.json.field).toBe('rule');
  });

  it('holds notifications during a silence, records the alert, announces start and end, and releases what it held', async () => {
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const created = await apiClient(app, 'token-chem').post('/api/silences', { enterpriseId: CHEM, deviceId: 'gas-1', reason: '更换探测器', until });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ by: 'chem-user', reason: '更换探测器', active: true, deviceId: 'gas-1' });
    await waitFor(() => smtp.mails.some((m) => m.to.includes('safety@chem.test') && m.subject.includes('静默开始')), 5000, 'start announced');
    await waitFor(() => smtp.mails.some((m) => m.to.includes('ajb@huangqiao.test') && m.subject.includes('静默开始')), 5000, 'township told');

    const before = smtp.mails.length;
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 45 } });
    const alert = await waitFor(async () => (await op().get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items[0], 5000, 'alert recorded');
    const held = await waitFor(async () => (await op().get(`/api/alerts/${alert.id}`)).json.history.find((h: any) => h.type === 'notification_held'), 5000, 'held');
    expect(held.detail).toMatchObject({ reason: '更换探测器', for: 'raised' });
    await app.settled();
    expect(smtp.mails.slice(before)).toEqual([]);

    const ended = await apiClient(app, 'token-chem').post(`/api/silences/${created.json.id}/end`);
    expect(ended.json.active).toBe(false);
    await waitFor(() => smtp.mails.some((m) => m.subject.includes('静默结束')), 5000, 'end announced');
    // the alert it held is still open and unacknowledged: it goes out now
    await waitFor(() => smtp.mails.some((m) => m.to.includes('ajb@huangqiao.test') && m.text.includes(alert.id)), 5000, 'held alert released');
    expect((await op().get('/api/silences')).json.items.map((s: any) => s.id)).toContain(created.json.id);
    await dev.end();
  });

  it('summarises per enterprise: counts, response times, online rate; scoped to the caller', async () => {
    const api = op();
    const open = (await api.get(`/api/alerts?enterprise=${CHEM}&state=open`)).json.items;
    for (const a of open) {
      await api.post(`/api/alerts/${a.id}/ack`, {});
      await api.post(`/api/alerts/${a.id}/close`, { disposition: 'hazard_rectified', note: '已处置' });
    }
    // the last minute: gas-1 reported once, gas-2 never. Counted since gas-1 was first seen (time
    // before a device existed is not offline), over its 10-s intervals; gas-2 is not counted
    const to = Date.now();
    const first = Date.parse((await api.get(`/api/telemetry?device=gas-1&from=${to - 60_000}&to=${to}`)).json.points[0].ts);
    const r = await api.get(`/api/reports/summary?from=${to - 60_000}&to=${to}`);
    expect(r.status).toBe(200);
    const chem = r.json.items.find((x: any) => x.enterpriseId === CHEM);
    expect(chem).toMatchObject({ alerts: 1, bySeverity: { critical: 1, major: 0 }, byRuleKind: { threshold: 1 }, unacknowledged: 0, open: 0 });
    expect(typeof chem.medianAckS).toBe('number');
    expect(chem.onlineRate).toBeCloseTo(1 / Math.max(1, Math.floor((to - first) / 10_000)), 3);
    const mine = await apiClient(app, 'token-regulator-b').get('/api/reports/summary');
    expect(mine.json.items.map((x: any) => x.enterpriseId)).not.toContain(CHEM);
    expect(mine.json.items.map((x: any) => x.enterpriseId)).toContain(MALL);
    expect((await apiClient(app, 'token-regulator-b').get('/api/reports/summary?region=321283')).status).toBe(403);
    expect((await api.get('/api/reports/summary?from=2026-13-01')).json.field).toBe('from');
  });

  it('counts alerts per day from midnight China Standard Time, by industry and severity, scoped; filters history by industry', async () => {
    const api = op();
    const r = await api.get(`/api/reports/timeline?from=${Date.now() - 2 * 86_400_000}&bucket=day`);
    expect(r.status).toBe(200);
    const total = r.json.items.reduce((n: number, b: any) => n + b.total, 0);
    expect(total).toBeGreaterThan(0);
    for (const b of r.json.items) {
      // a day starts at 16:00 UTC, which is midnight in Shanghai
      expect(new Date(b.start).getUTCHours()).toBe(16);
      expect(Object.values(b.bySeverity).reduce((x: number, y) => x + (y as number), 0)).toBe(b.total);
    }
    expect(r.json.items.some((b: any) => b.byIndustry.hazchem > 0)).toBe(true);
    const regB = await apiClient(app, 'token-regulator-b').get('/api/reports/timeline?bucket=hour');
    expect(regB.json.items.every((b: any) => !b.byIndustry.hazchem)).toBe(true);
    expect((await api.get('/api/reports/timeline?bucket=minute')).json.field).toBe('bucket');
    expect((await api.get(`/api/reports/timeline?bucket=hour&from=${Date.now() - 200 * 86_400_000}`)).status).toBe(400);
    const hazchem = (await api.get('/api/alerts?industry=hazchem&state=all')).json.items;
    expect(hazchem.length).toBeGreaterThan(0);
    expect(hazchem.every((a: any) => a.industry === 'hazchem')).toBe(true);
    expect((await api.get('/api/alerts?industry=mining')).json.field).toBe('industry');
  });

  it('gives one point as columns for charts', async () => {
    const api = op();
    const r = await api.get('/api/telemetry?device=gas-1&metric=gas_lel&shape=columns');
    expect(r.status).toBe(200);
    expect(r.json.columns.ts.length).toBe(r.json.columns.value.length);
    expect(r.json.columns.ts.length).toBeGreaterThan(0);
    expect([...r.json.columns.ts].sort((a: number, b: number) => a - b)).toEqual(r.json.columns.ts);
    const w = await api.get('/api/telemetry?device=gas-1&metric=gas_lel&shape=columns&every=1h');
    expect(Object.keys(w.json.columns).sort()).toEqual(['max', 'mean', 'min', 'ts']);
    expect((await api.get('/api/telemetry?device=gas-1&shape=columns')).json.field).toBe('shape');
  });

  it('e-mails each regulator unit a daily summary of its regions', async () => {
    const before = smtp.mails.length;
    await app.dailySummaries();
    await waitFor(() => smtp.mails.slice(before).some((m) => m.to.includes('yjj@taixing.test')), 5000, 'daily summary');
    const mail = smtp.mails.slice(before).find((m) => m.to.includes('yjj@taixing.test'))!;
    expect(mail.subject).toContain('安全风险监测日报');
    expect(mail.text).toContain('测试化工有限公司');
    expect(mail.text).toContain('测试铝业有限公司');
    expect(mail.text).not.toContain('测试商城');
  });
});
