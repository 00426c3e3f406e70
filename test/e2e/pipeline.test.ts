import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, followStream, startTestApp, THREADED } from '../support/app.ts';
import { startReceiver, startSmtp } from '../support/receivers.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The backbone end to end: a device publishes over real MQTT, the rules raise an alert, and the
 * alert reaches the API, the live stream, a real SMTP server, a real webhook receiver and the
 * MQTT alert topic; people handle it through the API; everything survives a restart.
 */
describe('a gas leak travels from a device to the people responsible', () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let alertId: string;

  beforeAll(async () => {
    smtp = await startSmtp();
    hooks = await startReceiver();
    app = await startTestApp({ ...THREADED, smtpPort: smtp.port, registry: testRegistry({ webhookUrl: hooks.url }) });
  });
  afterAll(async () => {
    await app?.stop();
    await smtp?.close();
    await hooks?.close();
  });

  it('raises one critical alert for a reading above the second gas level, seen everywhere', async () => {
    const stream = await followStream(app, 'token-operator');
    const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: 'control-room', password: 'token-operator', reconnectPeriod: 0 });
    const onMqtt: any[] = [];
    watcher.on('message', (_t, p) => onMqtt.push(JSON.parse(p.toString())));
    await watcher.subscribeAsync(`alerts/${CHEM}`, { qos: 1 });

    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const t0 = Date.now() - 3000;
    await dev.telemetry({ ts: t0, seq: 1, values: { gas_lel: 3 } });
    await dev.telemetry({ ts: t0 + 1000, seq: 2, values: { gas_lel: 62 } });
    await dev.telemetry({ ts: t0 + 2000, seq: 3, values: { gas_lel: 65 } });

    const api = apiClient(app, 'token-operator');
    const list = await waitFor(async () => {
      const r = await api.get(`/api/alerts?state=active&enterprise=${CHEM}`);
      return r.json.items.length ? r.json : null;
    }, 5000, 'alert in API');
    expect(list.items).toHaveLength(1);
    const alert = list.items[0];
    alertId = alert.id;
    expect(alert).toMatchObject({ rule: 'gas-lel', deviceId: 'gas-1', metric: 'gas_lel', severity: 'critical', state: 'active', acknowledged: false, value: 62, peak: 65, threshold: 40, enterpriseId: CHEM });
    expect(alert.raisedAt).toBe(new Date(t0 + 1000).toISOString());

    await waitFor(() => stream.events.some((e) => e.data.id === alertId && e.data.transition.type === 'raised'), 5000, 'SSE event');
    await waitFor(() => onMqtt.some((e) => e.id === alertId && e.severity === 'critical'), 5000, 'MQTT alerts/ event');

    // critical → the enterprise and the township are told at once, by e-mail and webhook
    const mail = await waitFor(() => smtp.mails.find((m) => m.to.includes('ajb@huangqiao.test')), 5000, 'e-mail to township');
    // the two units' messages go side by side: either may arrive first
    await waitFor(() => smtp.mails.some((m) => m.to.includes('safety@chem.test')), 5000, 'e-mail to the enterprise');
    expect(smtp.mails.some((m) => m.to.includes('yjj@taixing.test'))).toBe(false);
    // Chinese first with the English below: enterprise, point, value, threshold, time, link
    expect(mail.subject).toContain('【紧急·报警】测试化工有限公司 可燃气体浓度');
    expect(mail.subject).toContain('[CRITICAL ALARM] gas-1 combustible gas');
    expect(mail.text).toContain('当前值：62 %LEL，报警阈值：40 %LEL');
    expect(mail.text).toContain(`Time: ${new Date(t0 + 1000 + 8 * 3_600_000).toISOString().slice(0, 19).replace('T', ' ')} (UTC+8)`);
    expect(mail.text).toContain(`/#/alerts/${alertId}`);
    const hook = await waitFor(() => hooks.requests.find((r) => (r.body as any).id === alertId), 5000, 'webhook');
    expect(hook.body).toMatchObject({ severity: 'critical', transition: { type: 'raised' }, enterpriseId: CHEM });

    // the record names every delivery
    await app.dispatcher.idle();
    // each delivery's line joins the record with the alert book's next commit
    const notified = async () => (await api.get(`/api/alerts/${alertId}`)).json.history.filter((h: any) => h.type === 'notified').map((h: any) => `${h.detail.channel}:${h.detail.unit}`);
    await waitFor(async () => (await notified()).length >= 3, 5000, 'three deliveries in the record');
    const one = await api.get(`/api/alerts/${alertId}`);
    expect((await notified()).sort()).toEqual(['email:ent-chem', 'email:twn-a', 'webhook:ent-chem']);
    expect(one.json.units.sort()).toEqual(['ent-chem', 'twn-a']);

    stream.close();
    await watcher.endAsync();
    await dev.end();
  });

  it('records acknowledgement and close with who and when', async () => {
    const api = apiClient(app, 'token-chem');
    const early = await api.post(`/api/alerts/${alertId}/close`, { disposition: 'hazard_rectified', note: '关闭阀门并通风' });
    expect(early.status).toBe(409);
    expect(early.json.message).toMatch(/acknowledged before/);

    const ack = await api.post(`/api/alerts/${alertId}/ack`, { note: '值班长已到现场' });
    expect(ack.status).toBe(200);
    expect(ack.json).toMatchObject({ acknowledged: true, ackBy: 'chem-user' });

    const noDisposition = await api.post(`/api/alerts/${alertId}/close`, { note: 'x' });
    expect(noDisposition.status).toBe(400);
    expect(noDisposition.json.field).toBe('disposition');

    const closed = await api.post(`/api/alerts/${alertId}/close`, { disposition: 'hazard_rectified', note: '关闭阀门并通风' });
    expect(closed.status).toBe(200);
    expect(closed.json).toMatchObject({ state: 'closed', disposition: 'hazard_rectified', closedBy: 'chem-user' });

    const again = await api.post(`/api/alerts/${alertId}/close`, { disposition: 'other', note: 'again' });
    expect(again.status).toBe(409);

    const one = await apiClient(app, 'token-operator').get(`/api/alerts/${alertId}`);
    expect(one.json.history.map((h: any) => h.type).filter((t: string) => !t.startsWith('notif'))).toEqual(['raised', 'acknowledged', 'closed']);
    const closeLine = one.json.history.find((h: any) => h.type === 'closed');
    expect(closeLine).toMatchObject({ actor: 'chem-user', note: '关闭阀门并通风', detail: { disposition: 'hazard_rectified' } });
  });

  it('keeps open alerts and telemetry across a restart on the same DATA_DIR', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await dev.telemetry({ seq: 1, values: { gas_lel: 30 } });
    const api = apiClient(app, 'token-operator');
    const open = await waitFor(async () => (await api.get(`/api/alerts?state=open&enterprise=${CHEM}`)).json.items[0], 5000, 'second alert');
    expect(open).toMatchObject({ deviceId: 'gas-2', severity: 'major' });
    await dev.end();

    const dataDir = app.dataDir;
    await app.stop();
    app = await startTestApp({ ...THREADED, dataDir, smtpPort: smtp.port, registry: testRegistry({ webhookUrl: hooks.url }) });
    const after = apiClient(app, 'token-operator');
    const still = await after.get(`/api/alerts?state=open&enterprise=${CHEM}`);
    expect(still.json.items.map((a: any) => a.id)).toEqual([open.id]);
    const closed = await after.get(`/api/alerts?state=closed`);
    expect(closed.json.items.map((a: any) => a.id)).toEqual([alertId]);

    const t = await after.get(`/api/telemetry?device=gas-1&metric=gas_lel&from=${new Date(Date.now() - 3_600_000).toISOString()}`);
    expect(t.status).toBe(200);
    expect(t.json.points.map((p: any) => p.value)).toEqual([3, 62, 65]);
    const agg = await after.get(`/api/telemetry?enterprise=${CHEM}&metric=gas_lel&every=1h&from=${Date.now() - 7_200_000}`);
    const windows = agg.json.points;
    expect(windows.reduce((n: number, w: any) => n + w.count, 0)).toBe(4);
    expect(Math.max(...windows.map((w: any) => w.max))).toBe(65);

    // the device's seq history survived: a resend of seq 3 is still a duplicate
    const again = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await again.telemetry({ seq: 3, values: { gas_lel: 65 } });
    await waitFor(() => again.rejects.find((r) => r.error === 'DUPLICATE_SEQ'), 5000, 'duplicate after restart');

    // a still-high reading after the restart updates the open alert rather than opening another
    const dev2 = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await dev2.telemetry({ seq: 2, values: { gas_lel: 45 } });
    const raised = await waitFor(async () => {
      const r = (await after.get(`/api/alerts?state=open&enterprise=${CHEM}`)).json.items;
      return r.length === 1 && r[0].severity === 'critical' ? r : null;
    }, 5000, 'severity rise on the restored alert');
    expect(raised[0].id).toBe(open.id);
    await dev2.telemetry({ seq: 3, values: { gas_lel: 1 } });
    await waitFor(async () => (await after.get(`/api/alerts/${open.id}`)).json.state === 'cleared', 5000, 'cleared');
    await again.end();
    await dev2.end();
  });
});
