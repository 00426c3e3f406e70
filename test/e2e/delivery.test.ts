import { createHmac } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp, tempDir } from '../support/app.ts';
import { freePort, startReceiver, startSmtp } from '../support/receivers.ts';
import { CHEM, MALL, hookUnit, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** The outbox cannot write (a disk that fills between the record's commit and the notices'). */
function failOutboxWrites(app: Awaited<ReturnType<typeof startTestApp>>) {
  const outboxStore = (app.outbox as unknown as { deps: { store: { write: () => Promise<void>; retryMs: number } } }).deps.store;
  outboxStore.retryMs = 20;
  outboxStore.write = async () => Promise.reject(new Error('IO Error: No space left on device'));
}

/** Notifications are never lost: receivers that are down, restarts, storms, robots that refuse. */
describe('notification delivery', () => {
  it('delivers to receivers that were down at first, exactly once each, across a restart of the service', async () => {
    const smtpPort = await freePort();
    const hooks = await startReceiver(() => ({ status: 503, body: { error: 'maintenance' } }));
    const dataDir = await tempDir();
    const reg = testRegistry({ webhookUrl: hooks.url });
    let app = await startTestApp({ dataDir, smtpPort, registry: reg });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ seq: 1, values: { gas_lel: 45 } });
    await dev.telemetry({ seq: 2, values: { gas_lel: 1 } });
    const api = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}`)).json.items[0], 5000, 'alert');
    // both channels fail for a while; the record says so, and the operators have the webhook's alert
    await waitFor(async () => (await api.get(`/api/alerts/${alert.id}`)).json.history.filter((h: any) => h.type === 'notification_failed').length >= 3, 10_000, 'failures recorded');
    const channelAlert = (a: any) => a.enterpriseId === '_system' && a.key.includes('webhook');
    await waitFor(async () => (await api.get('/api/alerts?state=active')).json.items.some(channelAlert), 10_000, 'the webhook failing alert');
    expect(hooks.requests.length).toBeGreaterThan(0);
    await dev.end();
    await app.stop();

    // both receivers come back while the service is down; it resumes the outbox when it starts
    const smtp = await startSmtp(smtpPort);
    hooks.answer(() => ({ status: 200, body: { ok: true } }));
    const failedCalls = hooks.requests.length;
    app = await startTestApp({ dataDir, smtpPort, registry: reg });
    const view = apiClient(app, 'token-operator');
    await waitFor(async () => (await view.get(`/api/alerts/${alert.id}`)).json.notifications.every((n: any) => n.status === 'delivered'), 15_000, 'all delivered');
    // one more round of the outbox: anything it would send twice goes now
    await app.settled();
    // the channel's alert raised before the restart is cleared by its first delivery after it
    await waitFor(async () => !(await view.get('/api/alerts?state=active')).json.items.some(channelAlert), 10_000, 'the webhook failing alert cleared');

    // raised and cleared: one e-mail per recipient for each (or one digest if they went together)
    const chemMails = smtp.mails.filter((m) => m.to.includes('safety@chem.test'));
    const ids = chemMails.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(chemMails.map((m) => m.subject).join('\n')).toContain('报警');
    expect(smtp.mails.filter((m) => m.to.includes('ajb@huangqiao.test')).length).toBeGreaterThanOrEqual(1);
    const delivered = hooks.requests.slice(failedCalls);
    const notificationIds = delivered.map((r) => r.headers['x-notification-id']);
    expect(new Set(notificationIds).size).toBe(notificationIds.length);
    const events = delivered.flatMap((r: any) => (r.body.digest ? r.body.events : [r.body])).map((e: any) => e.transition.type);
    expect(events.sort()).toEqual(['cleared', 'raised']);
    const one = (await view.get(`/api/alerts/${alert.id}`)).json;
    expect(one.history.filter((h: any) => h.type === 'notified').map((h: any) => h.detail.channel).sort()).toEqual(expect.arrayContaining(['email', 'webhook']));
    await app.stop();
    await smtp.close();
    await hooks.close();
  }, 60_000);

  it("tells after a restart what changes committed before the stop were owed (their notices never reached the outbox), once", async () => {
    const hooks = await startReceiver();
    const dataDir = await tempDir();
    const reg = testRegistry({ webhookUrl: hooks.url });
    let app = await startTestApp({ dataDir, registry: reg });
    // the outbox cannot write (a disk that fills between the record's commit and the notices'):
    // the alert is in the record, its notices are not in the outbox when the service stops
    failOutboxWrites(app);
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ seq: 1, values: { gas_lel: 45 } });
    const api = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}`)).json.items[0], 5000, 'alert');
    await waitFor(async () => (await api.get('/api/health')).json.notifications?.ok === false, 5000, 'the outbox failing in health');
    await dev.end();
    await app.stop();
    expect(hooks.requests).toEqual([]);

    app = await startTestApp({ dataDir, registry: reg });
    await waitFor(() => hooks.requests.length > 0, 10_000, 'the owed notice delivered');
    await app.settled();
    const raised = (r: (typeof hooks.requests)[number]) => (r.body as any).transition?.type === 'raised' && (r.body as any).id === alert.id;
    expect(hooks.requests.filter(raised).length, JSON.stringify(hooks.requests.map((r) => r.body))).toBe(1);
    const history = (await apiClient(app, 'token-operator').get(`/api/alerts/${alert.id}`)).json.history;
    expect(history.filter((h: any) => h.type === 'notified').length).toBeGreaterThanOrEqual(1);
    await app.stop();

    // owed no longer: a third start tells nobody again
    const before = hooks.requests.length;
    app = await startTestApp({ dataDir, registry: reg });
    await app.settled();
    expect(hooks.requests.length).toBe(before);
    await app.stop();
    await hooks.close();
  }, 60_000);

  it('tells an owed critical alarm to the township though its alert has fallen to major since', async () => {
    // an outside probe: kill -9 during alarms 20-100 ms apart; 30 critical reactivations reached
    // only the enterprise after the restart, told with their alerts as they were by then (major)
    const hooks = await startReceiver();
    const dataDir = await tempDir();
    const reg = hookUnit(testRegistry(), 'twn-a', hooks.url);
    let app = await startTestApp({ dataDir, registry: reg });
    failOutboxWrites(app);
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ seq: 1, values: { gas_lel: 45 } });
    await dev.telemetry({ seq: 2, values: { gas_lel: 25 } });
    const api = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}`)).json.items.find((a: any) => a.severity === 'major'), 5000, 'the alarm fallen to major');
    expect((await api.get(`/api/alerts/${alert.id}`)).json.history.map((h: any) => h.type)).toEqual(expect.arrayContaining(['raised', 'severity_changed']));
    await dev.end();
    await app.stop();
    expect(hooks.requests).toEqual([]);

    app = await startTestApp({ dataDir, registry: reg });
    await waitFor(() => hooks.requests.length > 0, 10_000, 'the owed alarm told to the township');
    await app.settled();
    const events = hooks.requests.filter((r) => r.url === '/twn-a').flatMap((r: any) => (r.body.digest ? r.body.events : [r.body]));
    const raised = events.filter((e: any) => e.id === alert.id && e.transition.type === 'raised');
    expect(raised, JSON.stringify(events)).toHaveLength(1);
    expect(raised[0].severity).toBe('critical');
    await app.stop();
    await hooks.close();
  }, 60_000);

  it('turns an alarm storm into one digest per unit', async () => {
    const smtp = await startSmtp();
    const hooks = await startReceiver();
    const reg = testRegistry({ webhookUrl: hooks.url });
    Object.assign(reg.routing, { groupWaitS: 15, groupIntervalS: 60 });
    const many = Array.from({ length: 200 }, (_, i) => ({ id: `storm-${i}`, secret: `secret-storm-${i}`, templates: ['hazchem'], points: [{ metric: 'gas_lel' }] }));
    (reg.enterprises[0].devices as object[]).push(...many);
    // the clock stands still while all 200 are raised, then passes the group wait
    let now = Date.now();
    const app = await startTestApp({ smtpPort: smtp.port, registry: reg, clock: () => now });
    const devices = await Promise.all(many.map((d) => connectDevice(app, CHEM, d.id, d.secret)));
    await Promise.all(devices.map((d) => d.telemetry({ values: { gas_lel: 30 } })));
    const api = apiClient(app, 'token-operator');
    await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}&limit=1000`)).json.items.length === 200, 14_000, '200 alerts');
    await app.settled();
    expect(smtp.mails.length + hooks.requests.length).toBe(0);
    now += 15_000;
    await app.settled();
    await waitFor(() => smtp.mails.length >= 1 && hooks.requests.length >= 1, 10_000, 'digests');
    await app.settled();
    // major alerts go to the enterprise only: one e-mail and one webhook call, listing all 200
    expect(smtp.mails.map((m) => m.to)).toEqual([['safety@chem.test']]);
    expect(smtp.mails[0].subject).toContain('200 条报警变化');
    expect(hooks.requests).toHaveLength(1);
    expect((hooks.requests[0].body as any).count).toBe(200);
    await Promise.all(devices.map((d) => d.end()));
    await app.stop();
    await smtp.close();
    await hooks.close();
  }, 60_000);

  it('fits a storm to what each receiver takes: a generic receiver\'s body limit in several messages, DingTalk\'s 20 000 bytes and WeCom\'s 4 096, the worst first', async () => {
    // receivers that refuse as the real ones do: nginx's 413, the robots' errcodes
    const hooks = await startReceiver((req) => {
      if (req.url.startsWith('/hook')) return req.bytes > 64 * 1024 ? { status: 413, body: { error: 'Request Entity Too Large' } } : { status: 200, body: { ok: true } };
      if (req.url.startsWith('/robot/send')) return req.bytes > 20_000 ? { status: 200, body: { errcode: 460101, errmsg: 'message too long, exceed 20000 bytes' } } : { status: 200, body: { errcode: 0, errmsg: 'ok' } };
      const content = (req.body as { markdown: { content: string } }).markdown.content;
      return Buffer.byteLength(content) > 4096 ? { status: 200, body: { errcode: 40058, errmsg: 'markdown.content exceed max length 4096' } } : { status: 200, body: { errcode: 0, errmsg: 'ok' } };
    });
    const reg = testRegistry();
    reg.units[0].webhooks = [
      { url: `${hooks.url}/hook`, format: 'generic', maxBodyKB: 64 },
      { url: `${hooks.url}/robot/send?access_token=abc`, format: 'dingtalk', secret: 'SECtest' },
      { url: `${hooks.url}/cgi-bin/webhook/send?key=K1`, format: 'wecom' },
    ] as never;
    Object.assign(reg.routing, { groupWaitS: 15, groupIntervalS: 60 });
    const many = Array.from({ length: 200 }, (_, i) => ({ id: `storm-${i}`, secret: `secret-storm-${i}`, templates: ['hazchem'], points: [{ metric: 'gas_lel' }] }));
    (reg.enterprises[0].devices as object[]).push(...many);
    let now = Date.now();
    const app = await startTestApp({ registry: reg, clock: () => now });
    const devices = await Promise.all(many.map((d) => connectDevice(app, CHEM, d.id, d.secret)));
    // the last device's alarm is critical: it goes first wherever the message is cut or split
    await Promise.all(devices.map((d, i) => d.telemetry({ values: { gas_lel: i === 199 ? 60 : 30 } })));
    const api = apiClient(app, 'token-operator');
    const alerts = await waitFor(async () => {
      const items = (await api.get(`/api/alerts?enterprise=${CHEM}&limit=1000`)).json.items;
      return items.length === 200 && items;
    }, 14_000, '200 alerts');
    const critical = alerts.find((a: any) => a.deviceId === 'storm-199');
    expect(critical.severity).toBe('critical');
    await app.settled();
    now += 15_000;
    await app.settled();
    const byPath = (p: string) => hooks.requests.filter((r) => r.url.startsWith(p));
    const generic = () => byPath('/hook') as { headers: Record<string, unknown>; body: any; bytes: number }[];
    const eventsOf = (r: { body: any }) => (r.body.digest ? r.body.events : [r.body]);
    await waitFor(() => byPath('/robot/send').length >= 1 && byPath('/cgi-bin').length >= 1 && generic().flatMap(eventsOf).length === 200, 15_000, 'every message');
    await app.settled();
    // the generic receiver: every change once, in several digests within its limit, each its own notification
    const sent = generic();
    expect(sent.length).toBeGreaterThan(1);
    expect(sent.every((r) => r.bytes <= 64 * 1024)).toBe(true);
    expect(new Set(sent.map((r) => r.headers['x-notification-id'])).size).toBe(sent.length);
    const ids = sent.flatMap(eventsOf).map((e: any) => e.id);
    expect(ids.sort()).toEqual(alerts.map((a: any) => a.id).sort());
    expect(eventsOf(sent[0])[0].id).toBe(critical.id);
    // the robots: one message each, taken (no errcode), the critical first, the links kept
    const [ding] = byPath('/robot/send');
    const [wecom] = byPath('/cgi-bin');
    expect(byPath('/robot/send')).toHaveLength(1);
    expect(byPath('/cgi-bin')).toHaveLength(1);
    expect(ding.bytes).toBeLessThanOrEqual(20_000);
    const text: string = (ding.body as any).markdown.text;
    expect(text.split('\n')[1]).toContain('storm-199');
    expect(text).toMatch(/另有 \d+ 条未列出/);
    expect(text).toContain('[详情 / Details](');
    const content: string = (wecom.body as any).markdown.content;
    expect(content.split('\n')[1]).toContain('storm-199');
    expect(content).toContain('[一键确认 / Acknowledge](');
    // and the record says delivered, not failed
    const record = (await api.get(`/api/alerts/${critical.id}`)).json;
    expect(record.history.filter((h: any) => h.type === 'notification_failed')).toEqual([]);
    expect(record.history.filter((h: any) => h.type === 'notified' && h.detail.channel === 'webhook')).toHaveLength(3);
    await Promise.all(devices.map((d) => d.end()));
    await app.stop();
    await hooks.close();
  }, 60_000);

  it('signs DingTalk robot calls and counts only errcode 0 as delivered; WeCom gets markdown', async () => {
    let refuse = true;
    const robots = await startReceiver((req) => {
      if (req.url.startsWith('/robot/send')) return refuse ? { status: 200, body: { errcode: 310000, errmsg: 'sign not match' } } : { status: 200, body: { errcode: 0, errmsg: 'ok' } };
      return { status: 200, body: { errcode: 0, errmsg: 'ok' } };
    });
    const reg = testRegistry({ dingtalkUrl: robots.url });
    (reg.units[0].webhooks as object[]).push({ url: `${robots.url}/cgi-bin/webhook/send?key=K1`, format: 'wecom' });
    const app = await startTestApp({ registry: reg });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 45 } });
    const api = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}`)).json.items[0], 5000, 'alert');
    const failed = await waitFor(async () => (await api.get(`/api/alerts/${alert.id}`)).json.history.find((h: any) => h.type === 'notification_failed'), 5000, 'refused by the robot');
    expect(failed.detail.error).toContain('310000');
    refuse = false;
    await waitFor(async () => (await api.get(`/api/alerts/${alert.id}`)).json.notifications.every((n: any) => n.status === 'delivered'), 10_000, 'delivered');

    const ding = robots.requests.filter((r) => r.url.startsWith('/robot/send'));
    for (const r of ding) {
      const url = new URL(r.url, 'http://x');
      const ts = url.searchParams.get('timestamp')!;
      // verified with Node's own HMAC, independently of the code under test
      expect(url.searchParams.get('sign')).toBe(createHmac('sha256', 'SECtest').update(`${ts}\nSECtest`).digest('base64'));
      expect(url.searchParams.get('access_token')).toBe('abc');
      expect(r.body).toMatchObject({ msgtype: 'markdown', markdown: { title: expect.any(String), text: expect.stringContaining('可燃气体浓度') } });
    }
    const wecom = robots.requests.filter((r) => r.url.startsWith('/cgi-bin/webhook/send'));
    expect(wecom.length).toBeGreaterThanOrEqual(1);
    expect(wecom[0].body).toMatchObject({ msgtype: 'markdown', markdown: { content: expect.stringContaining('combustible gas') } });
    await dev.end();
    await app.stop();
    await robots.close();
  }, 30_000);

  it('raises a system alert to operators when a channel keeps failing, and clears it when it recovers', async () => {
    const hooks = await startReceiver(() => ({ status: 500, body: {} }));
    const app = await startTestApp({ registry: testRegistry({ webhookUrl: hooks.url }) });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 25 } });
    const op = apiClient(app, 'token-operator');
    const sys = await waitFor(async () => (await op.get('/api/alerts?state=active')).json.items.find((a: any) => a.enterpriseId === '_system'), 10_000, 'system alert');
    expect(sys).toMatchObject({ rule: 'notification-channel', severity: 'major', metric: 'webhook:0' });
    expect((await apiClient(app, 'token-chem').get('/api/alerts')).json.items.find((a: any) => a.enterpriseId === '_system')).toBeUndefined();
    hooks.answer(() => ({ status: 200, body: {} }));
    await waitFor(async () => (await op.get(`/api/alerts/${sys.id}`)).json.state === 'cleared', 10_000, 'system alert cleared');
    await dev.end();
    await app.stop();
    await hooks.close();
  }, 30_000);

  it("says why a receiver could not be reached (a refused connection), not only fetch's 'fetch failed'", async () => {
    const port = await freePort();
    const app = await startTestApp({ registry: testRegistry({ webhookUrl: `http://127.0.0.1:${port}/hook?access_token=not-for-the-record` }) });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 45 } });
    const op = apiClient(app, 'token-operator');
    const failed = await waitFor(async () => {
      const alert = (await op.get(`/api/alerts?enterprise=${CHEM}`)).json.items[0];
      return alert && (await op.get(`/api/alerts/${alert.id}`)).json.history.find((h: any) => h.type === 'notification_failed' && h.detail.channel.startsWith('webhook'));
    }, 10_000, 'a failed webhook in the record');
    expect(failed.detail.error).toMatch(new RegExp(`^fetch failed: .*ECONNREFUSED 127\\.0\\.0\\.1:${port}`));
    expect(JSON.stringify(failed)).not.toContain('not-for-the-record');
    await dev.end();
    await app.stop();
  });

  it('times the alarm path for the operators: the wait for the record and the wait for the receiver, in /metrics', async () => {
    const hooks = await startReceiver();
    const app = await startTestApp({ registry: testRegistry({ webhookUrl: hooks.url }) });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const count = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const metrics = async () => (await apiClient(app).get('/metrics')).text;
    const before = await metrics();
    await dev.telemetry({ values: { gas_lel: 45 } });
    await waitFor(() => hooks.requests.some((r: any) => r.body.rule === 'gas-lel' && r.body.severity === 'critical'), 10_000, 'the critical alarm at the webhook');
    const after = String(await waitFor(async () => {
      const m = await metrics();
      return count(m, 'notifications_first_delivery_seconds_count{notice="critical_alarm"}') > count(before, 'notifications_first_delivery_seconds_count{notice="critical_alarm"}') && m;
    }, 10_000, 'the delivery timed'));
    expect(count(after, 'alerts_record_seconds_count{severity="critical"}')).toBeGreaterThan(count(before, 'alerts_record_seconds_count{severity="critical"}'));
    expect(after).toMatch(/^alerts_record_seconds_bucket\{le="0.05",severity="critical"\} \d+$/m);
    await dev.end();
    await app.stop();
    await hooks.close();
  }, 30_000);

  it('reaches a receiver given by host name, its name looked up in turns beside the stores (counted in /metrics)', async () => {
    const hooks = await startReceiver();
    const app = await startTestApp({ registry: testRegistry({ webhookUrl: hooks.url.replace('127.0.0.1', 'localhost') }) });
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const done = async () => Number(/^outbound_name_lookups_total\{outcome="done"\} (\d+)$/m.exec((await apiClient(app).get('/metrics')).text)?.[1] ?? 0);
    const before = await done();
    await dev.telemetry({ values: { gas_lel: 45 } });
    await waitFor(() => hooks.requests.some((r: any) => r.body.rule === 'gas-lel' && r.body.severity === 'critical'), 10_000, 'the critical alarm at the webhook');
    expect(await done()).toBeGreaterThan(before);
    await dev.end();
    await app.stop();
    await hooks.close();
  }, 30_000);

  it("goes on telling everyone else while one unit's receiver hangs: another enterprise's alarm arrives while the hung request is still open", async () => {
    // one receiver for every unit: the chemical plant's hangs (no answer, connection open) until
    // told to answer; the others answer at once
    const seen: { url: string; at: number; heldOpen?: boolean }[] = [];
    const held: ServerResponse[] = [];
    let hungClosedBy: string | null = null;
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        seen.push({ url: req.url ?? '', at: seen.length, heldOpen: held.some((r) => !r.writableEnded && !r.destroyed) });
        if (req.url === '/ent-chem' && held.length === 0) {
          held.push(res);
          // the service giving up on it (its timeout) would close it: record who closed it first
          res.on('close', () => (hungClosedBy ??= res.writableEnded ? 'answered' : 'the service'));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const reg = hookUnit(hookUnit(testRegistry(), 'ent-chem', url), 'ent-mall', url);
    const app = await startTestApp({ registry: reg });
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await gas.telemetry({ seq: 1, values: { gas_lel: 45 } });
    await waitFor(() => held.length === 1, 10_000, "the chemical plant's receiver holding its alarm");
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    await smoke.telemetry({ seq: 1, values: { smoke_alarm: true } });
    const mall = await waitFor(() => seen.find((r) => r.url === '/ent-mall'), 20_000, "the mall's alarm");
    // it came while the chemical plant's request was still open: nothing waited for that receiver
    expect(mall.heldOpen).toBe(true);
    expect(hungClosedBy).toBeNull();
    held[0].writeHead(200, { 'content-type': 'application/json' }).end('{}');
    await app.settled();
    expect(hungClosedBy).toBe('answered');
    await Promise.all([gas.end(), smoke.end()]);
    await app.stop();
    await new Promise((r) => server.close(r));
  }, 60_000);
});
