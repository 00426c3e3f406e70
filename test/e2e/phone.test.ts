import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { SECRETS, startPhoneProviders } from '../support/phone-providers.ts';
import { launchBrowser } from '../support/browser.ts';
import { CHEM, MALL, hookUnit, testRegistry } from '../support/registry.ts';
import { startReceiver } from '../support/receivers.ts';
import { waitFor } from '../support/wait.ts';

/**
 * SMS, voice calls and acknowledge links through the whole service: real readings over MQTT,
 * local servers playing Alibaba Cloud, Tencent Cloud and a generic gateway (each request's
 * signature checked by an independent implementation), and minutes passing on the clock.
 */
describe('SMS, voice and acknowledge links', () => {
  let now = Date.UTC(2026, 10, 22, 16, 0, 0); // 00:00 in Beijing: the night shift
  const clock = () => now;
  let providers: Awaited<ReturnType<typeof startPhoneProviders>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const api = () => apiClient(app, 'token-operator');
  const pass = async (minutes: number) => {
    // what is under way now is done now: a message still sending when the clock jumps would be
    // sent (and counted against its number's per-minute limit) at the later time
    await app.settled();
    now += minutes * 60_000;
    await app.sweep();
    await app.settled();
  };
  const sent = (provider: string, action: string, to: string) => providers.requests.filter((r) => r.provider === provider && r.action === action && r.to === to);

  beforeAll(async () => {
    providers = await startPhoneProviders();
    hooks = await startReceiver();
    const reg = hookUnit(testRegistry(), 'twn-a', hooks.url) as any;
    reg.messaging = {
      providers: [
        { id: 'aliyun', kind: 'aliyun', accessKeyId: SECRETS.aliyun.keyId, accessKeySecret: SECRETS.aliyun.secret, signName: '安全监测', smsTemplate: 'SMS_1', voiceTemplate: 'TTS_1', endpoint: providers.urls.aliyun, voiceEndpoint: providers.urls.aliyun, perNumber: { perMinute: 1 } },
        { id: 'tencent', kind: 'tencent', secretId: SECRETS.tencent.keyId, secretKey: SECRETS.tencent.secret, smsSdkAppId: '1400000001', signName: '安全监测', smsTemplate: '100001', voiceSdkAppId: '1400000002', voiceTemplate: '200001', endpoint: providers.urls.tencent, voiceEndpoint: providers.urls.tencent, perNumber: { perDay: 100 } },
        { id: 'gw', kind: 'http', url: `${providers.urls.gateway}/sms`, voiceUrl: `${providers.urls.gateway}/voice`, secret: SECRETS.gateway.secret },
      ],
      sms: 'aliyun',
      voice: 'gw',
    };
    reg.units.find((u: any) => u.id === 'ent-chem').phones = [{ number: '13800001111', name: '张三' }];
    reg.units.find((u: any) => u.id === 'ent-mall').phones = ['13700003333'];
    Object.assign(reg.units.find((u: any) => u.id === 'twn-a'), { phones: ['13900002222'], sms: 'tencent', voice: 'tencent' });
    Object.assign(reg.routing, {
      groupWaitS: 0,
      voiceFrom: 'none',
      escalation: [
        { afterMin: 5, to: 'enterprise', via: ['voice'] },
        { afterMin: 10, to: 'township', via: ['sms', 'voice'] },
      ],
    });
    app = await startTestApp({ registry: reg, clock, schedule: false, tickMs: 0, settings: { ACK_LINK_HOURS: 12 } });
  });
  afterAll(async () => {
    await app?.stop();
    await providers?.close();
    await hooks?.close();
  });

  let alertId = '';
  let code = '';

  it('texts the people on duty through each unit\'s provider, signed as each provider requires', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ ts: now, values: { gas_lel: 45 } });
    const alert = await waitFor(async () => (await api().get(`/api/alerts?enterprise=${CHEM}`)).json.items.find((a: any) => a.rule === 'gas-lel'), 5000, 'alert');
    alertId = alert.id;
    await app.settled();
    await waitFor(() => sent('aliyun', 'SendSms', '13800001111').length === 1 && sent('tencent', 'SendSms', '+8613900002222').length === 1, 5000, 'SMS to both units');
    expect(providers.requests.every((r) => r.verified === 'ok')).toBe(true);
    const [sms] = sent('aliyun', 'SendSms', '13800001111');
    expect(sms.params).toMatchObject({ level: '紧急', enterprise: '测试化工有限公司', event: '报警' });
    code = (sms.params as { code: string }).code;
    expect(code).toMatch(/^[A-Za-z0-9_-]{28}$/);
    // Tencent's variables go in the template's order
    expect(sent('tencent', 'SendSms', '+8613900002222')[0].params).toEqual(['紧急', '测试化工有限公司', expect.stringContaining('可燃气体浓度'), '报警', expect.stringMatching(/^11-23 00:00$/), expect.any(String)]);
    // voiceFrom: none, so nobody is called at the raise
    expect(providers.requests.filter((r) => /Voice|Tts|voice/.test(r.action))).toEqual([]);
    const history = (await api().get(`/api/alerts/${alertId}`)).json.history;
    expect(history.find((h: any) => h.type === 'notified' && h.detail.channel === 'sms' && h.detail.unit === 'ent-chem').detail.target).toBe('张三 138****1111 via aliyun');
    // a generic webhook carries a link of its own, for whatever pages someone behind it
    const hook = await waitFor(() => hooks.requests.find((r) => (r.body as any)?.id === alertId), 5000, `township webhook (${JSON.stringify(hooks.requests.map((r) => r.body)).slice(0, 400)})`);
    const ackUrl = (hook.body as { ackUrl?: string }).ackUrl!;
    expect(ackUrl).toMatch(/\/ack\/[A-Za-z0-9_-]{28}$/);
    expect(ackUrl.endsWith(code)).toBe(false);
    const page = await fetch(`http://127.0.0.1:${app.ports.http}${new URL(ackUrl).pathname}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('确认收到 / Acknowledge');
    await dev.end();
  });

  it('calls when nobody acknowledges past the step that says voice, and escalates by SMS and voice', async () => {
    await pass(5);
    await waitFor(() => providers.requests.some((r) => r.provider === 'gateway' && r.action === 'voice'), 5000, 'voice call');
    const call = providers.requests.find((r) => r.provider === 'gateway' && r.action === 'voice')!;
    expect(call).toMatchObject({ to: '13800001111', verified: 'ok' });
    expect(call.text).toContain('报警升级');
    // that step reached the enterprise by voice only
    expect(sent('aliyun', 'SendSms', '13800001111')).toHaveLength(1);
    await pass(5);
    await waitFor(() => sent('tencent', 'SendTtsVoice', '+8613900002222').length === 1 && sent('tencent', 'SendSms', '+8613900002222').length === 2, 5000, 'township SMS and call');
    expect(providers.requests.every((r) => r.verified === 'ok')).toBe(true);
  });

  it('acknowledges with the link from the SMS once, records who, and says so when used again', async () => {
    const base = `http://127.0.0.1:${app.ports.http}`;
    const page = await fetch(`${base}/ack/${code}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-store');
    const html = await page.text();
    expect(html).toContain('确认收到 / Acknowledge');
    expect(html).toContain('<form method="post">');
    // opening the page (a messenger's link preview) acknowledges nothing
    expect((await api().get(`/api/alerts/${alertId}`)).json.acknowledged).toBe(false);

    const done = await fetch(`${base}/ack/${code}`, { method: 'POST' });
    expect(done.status).toBe(200);
    expect(await done.text()).toContain('已确认 1 条报警');
    const a = (await api().get(`/api/alerts/${alertId}`)).json;
    expect(a).toMatchObject({ acknowledged: true, ackBy: 'ack-link:ent-chem' });
    expect(a.history.find((h: any) => h.type === 'acknowledged').note).toContain('测试化工安全科 张三 138****1111 via aliyun');

    const again = await fetch(`${base}/ack/${code}`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await again.text()).toContain('链接已于');
    const forged = await fetch(`${base}/ack/${code.slice(0, 27)}${code[27] === 'A' ? 'B' : 'A'}`, { method: 'POST' });
    expect(forged.status).toBe(404);
    const outcomes = await (await fetch(`${base}/metrics`)).text();
    expect(outcomes).toMatch(/ack_links_total\{outcome="ok"\} 1/);
    expect(outcomes).toMatch(/ack_links_total\{outcome="used"\} 1/);
    expect(outcomes).toMatch(/ack_links_total\{outcome="invalid"\} 1/);
    // acknowledged: no more calls or reminders
    const before = providers.requests.length;
    await pass(30);
    expect(providers.requests.slice(before).filter((r) => /voice|Tts|Voice/.test(r.action))).toEqual([]);
  });

  it('an expired link says so and acknowledges nothing', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    const smsBefore = sent('aliyun', 'SendSms', '13800001111').length;
    await dev.telemetry({ ts: now, values: { gas_lel: 50 } });
    const alert = await waitFor(async () => (await api().get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.deviceId === 'gas-2'), 5000, 'alert');
    await app.settled();
    await waitFor(() => sent('aliyun', 'SendSms', '13800001111').length === smsBefore + 1, 5000, 'SMS of the new alert');
    const link = (sent('aliyun', 'SendSms', '13800001111')[smsBefore].params as { code: string }).code;
    now += 13 * 3_600_000;
    const res = await fetch(`http://127.0.0.1:${app.ports.http}/ack/${link}`, { method: 'POST' });
    expect(res.status).toBe(410);
    expect(await res.text()).toContain('过期');
    expect((await api().get(`/api/alerts/${alert.id}`)).json.acknowledged).toBe(false);
    await dev.end();
  });

  it('a phone\'s browser: the page\'s button acknowledges (a real form post), under a policy of its own', async () => {
    const dev = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    await dev.telemetry({ ts: now, values: { smoke_alarm: true } });
    await app.settled();
    await waitFor(() => sent('aliyun', 'SendSms', '13700003333').length === 1, 5000, 'SMS with a link');
    const link = (sent('aliyun', 'SendSms', '13700003333')[0].params as { code: string }).code;
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 }, locale: 'zh-CN' });
      const res = await page.goto(`http://127.0.0.1:${app.ports.http}/ack/${link}`);
      const csp = res!.headers()['content-security-policy'];
      expect(csp).toContain("form-action 'self'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      // named as the SMS named them, not by ids
      expect(await page.textContent('body')).toContain('测试商城 · smoke-1');
      await page.click('button[type=submit]');
      await page.waitForSelector('text=已确认');
      expect(await page.textContent('body')).toContain('acknowledged: 测试商城消控室 137****3333');
      await page.close();
    } finally {
      await browser.close();
    }
    const a = (await api().get(`/api/alerts?enterprise=${MALL}&state=active`)).json.items.find((x: any) => x.deviceId === 'smoke-1');
    expect(a).toMatchObject({ acknowledged: true, ackBy: 'ack-link:ent-mall' });
    // the dashboards too: nothing sends a plain-HTTP LAN address's own scripts to https
    const dash = await fetch(`http://127.0.0.1:${app.ports.http}/`);
    expect(dash.headers.get('content-security-policy') ?? '').not.toContain('upgrade-insecure-requests');
    await dev.end();
  }, 60_000);

  it('holds a message the provider would refuse (its per-number limit, or its flow-control answer) and sends it later', async () => {
    // aliyun here allows one SMS a minute per number: a second change within the minute waits
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    const count = () => sent('aliyun', 'SendSms', '13800001111').length;
    const before = count();
    await dev.telemetry({ ts: now, values: { gas_lel: 5 } }); // cleared: the enterprise hears of it
    await app.settled();
    await waitFor(() => count() === before + 1, 5000, 'clear SMS');
    now += 1000;
    const alert = (await api().get(`/api/alerts?enterprise=${CHEM}`)).json.items.find((a: any) => a.deviceId === 'gas-2');
    await api().post(`/api/alerts/${alert.id}/ack`, {});
    await app.settled();
    const history = async () => (await api().get(`/api/alerts/${alert.id}`)).json.history;
    await waitFor(async () => (await history()).some((h: any) => h.type === 'notification_failed' && h.detail.postponed), 5000, 'postponed');
    expect(count()).toBe(before + 1);
    // the provider's own flow control answers too: the message waits a minute more
    providers.throttled.add('13800001111');
    await pass(1);
    await waitFor(() => providers.requests.filter((r) => r.to === '13800001111').length > 0 && count() === before + 2, 5000, 'refused by the provider');
    providers.throttled.delete('13800001111');
    await pass(1.1);
    await waitFor(async () => (await history()).filter((h: any) => h.type === 'notified' && h.detail.channel === 'sms' && h.detail.unit === 'ent-chem').length >= 2, 5000, 'sent at last');
    await dev.end();
  });
  it('a link from a notice before the alarm came back does not acknowledge the return; the return\'s own link does', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    const sms = () => sent('aliyun', 'SendSms', '13800001111');
    const base = `http://127.0.0.1:${app.ports.http}`;
    // gas-2's alarm of the test before clears and comes back: a notice with a link of its own
    await dev.telemetry({ ts: now, values: { gas_lel: 1 } });
    await pass(1);
    let before = sms().length;
    const linked = () => sms().slice(before).find((r) => /^[A-Za-z0-9_-]{28}$/.test((r.params as { code?: string }).code ?? ''));
    await dev.telemetry({ ts: now, values: { gas_lel: 50 } });
    // a number takes one SMS a minute from this provider: news before it go first
    for (let m = 0; m < 5 && !linked(); m++) await pass(1);
    const first = (linked()!.params as { code: string }).code;
    const id = (await api().get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.deviceId === 'gas-2').id;
    // acknowledged on the board, cleared, and back again
    expect((await api().post(`/api/alerts/${id}/ack`, {})).status).toBe(200);
    await dev.telemetry({ ts: now, values: { gas_lel: 1 } });
    await pass(1);
    before = sms().length;
    await dev.telemetry({ ts: now, values: { gas_lel: 50 } });
    // the acknowledgement's and the clear's news go first
    for (let m = 0; m < 5 && !linked(); m++) await pass(1);
    const second = (linked()!.params as { code: string }).code;
    expect((await api().get(`/api/alerts/${id}`)).json.acknowledged).toBe(false);
    // the older link, tapped now: its reader has not seen the return
    const old = await fetch(`${base}/ack/${first}`, { method: 'POST' });
    expect(await old.text()).toContain('报警在此通知之后再次出现');
    expect((await api().get(`/api/alerts/${id}`)).json.acknowledged).toBe(false);
    const fresh = await fetch(`${base}/ack/${second}`, { method: 'POST' });
    expect(await fresh.text()).toContain('已确认 1 条报警');
    expect((await api().get(`/api/alerts/${id}`)).json).toMatchObject({ acknowledged: true, ackBy: 'ack-link:ent-chem' });
    await dev.end();
  });
});
