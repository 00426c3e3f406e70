import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { startSmtp } from '../support/receivers.ts';
import { CHEM, MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Escalation and reminders through the whole service with an injected clock: real readings over
 * MQTT, real e-mails to a real SMTP server; minutes pass by moving the clock, not by sleeping.
 */
describe('escalation with an injected clock', () => {
  let now = Date.UTC(2026, 10, 22, 1, 0, 0);
  const clock = () => now;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const reg = testRegistry();
  Object.assign(reg.routing, { escalation: [{ afterMin: 10, to: 'township' }, { afterMin: 30, to: 'regulator' }], reminderEveryMin: 15, closeWithinH: 2, groupWaitS: 0 });
  (reg.enterprises[2] as Record<string, unknown>).alarmDevice = 'smoke-1';

  beforeAll(async () => {
    smtp = await startSmtp();
    app = await startTestApp({ smtpPort: smtp.port, registry: reg, clock, schedule: false, tickMs: 0 });
  });
  afterAll(async () => {
    await app?.stop();
    await smtp?.close();
  });

  /** Let `minutes` pass, run the scheduled work, and deliver what it queued. */
  const pass = async (minutes: number) => {
    now += minutes * 60_000;
    await app.sweep();
    await app.dispatcher.idle();
    await app.outbox.run();
  };
  const mailsTo = (addr: string) => smtp.mails.filter((m) => m.to.includes(addr));
  const history = async (id: string) => (await apiClient(app, 'token-operator').get(`/api/alerts/${id}`)).json.history.map((h: any) => `${h.type}${h.detail?.to ? `→${h.detail.to}` : ''}`);

  it('climbs the chain while nobody acknowledges, reminds, and stops on acknowledgement', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ ts: now, values: { gas_lel: 45 } });
    const api = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}`)).json.items.find((a: any) => a.rule === 'gas-lel'), 5000, 'alert');
    await pass(0);
    await waitFor(() => mailsTo('safety@chem.test').length === 1 && mailsTo('ajb@huangqiao.test').length === 1, 5000, 'first e-mails');
    expect(mailsTo('yjj@taixing.test')).toHaveLength(0);

    await pass(9);
    expect(mailsTo('ajb@huangqiao.test')).toHaveLength(1);
    await pass(1); // 10 min: escalated to the township
    await waitFor(() => mailsTo('ajb@huangqiao.test').length === 2, 5000, 'escalation e-mail');
    expect(mailsTo('ajb@huangqiao.test')[1].subject).toContain('报警升级');
    await pass(5); // 15 min: reminder to those told
    await waitFor(() => mailsTo('safety@chem.test').length === 2, 5000, 'reminder');
    expect(mailsTo('safety@chem.test')[1].subject).toContain('提醒');
    await pass(15); // 30 min: regulator, and a second reminder
    await waitFor(() => mailsTo('yjj@taixing.test').length === 1, 5000, 'regulator e-mail');

    const ack = await apiClient(app, 'token-chem').post(`/api/alerts/${alert.id}/ack`, { note: '已到现场处置' });
    expect(ack.status).toBe(200);
    await pass(0);
    const afterAck = smtp.mails.length;
    await pass(45);
    // only the acknowledgement news went out; no more reminders or escalation
    expect(smtp.mails.slice(afterAck).filter((m) => m.subject.includes('提醒') || m.subject.includes('升级'))).toEqual([]);
    expect(await history(alert.id)).toEqual(expect.arrayContaining(['raised', 'escalated→township', 'reminded', 'escalated→regulator', 'acknowledged']));
    const steps = (await history(alert.id)).filter((h: string) => !h.startsWith('notif'));
    expect(steps).toEqual(['raised', 'escalated→township', 'reminded', 'escalated→regulator', 'reminded', 'acknowledged']);

    await pass(60); // 2 h after the raise and still not closed: the regulator hears of it
    await waitFor(() => mailsTo('yjj@taixing.test').some((m) => m.subject.includes('超时未闭环')), 5000, 'overdue e-mail');

    // the gas clears, and comes back before anyone closed the alert: a new alarm to acknowledge,
    // waited on from its return (IEC 62682 / ISA-18.2), not one acknowledged two hours ago
    await dev.telemetry({ ts: now, values: { gas_lel: 1 } });
    await waitFor(async () => (await api.get(`/api/alerts/${alert.id}`)).json.state === 'cleared', 5000, 'cleared');
    await pass(20);
    await dev.telemetry({ ts: now, values: { gas_lel: 45 } });
    const back = await waitFor(async () => ((a) => a.state === 'active' && a)((await api.get(`/api/alerts/${alert.id}`)).json), 5000, 'the alarm back');
    expect(back).toMatchObject({ acknowledged: false, ackAt: null, ackBy: null, awaitingAckSince: new Date(now).toISOString() });
    await pass(0);
    const reminders = () => mailsTo('safety@chem.test').filter((m) => m.subject.includes('提醒')).length;
    const before = reminders();
    await pass(14);
    expect(reminders()).toBe(before);
    await pass(1); // 15 min after the return
    await waitFor(() => reminders() === before + 1, 5000, 'a reminder 15 min after the return');
    expect((await apiClient(app, 'token-chem').post(`/api/alerts/${alert.id}/ack`, { note: '再次到场' })).status).toBe(200);
    await dev.end();
  });

  it('sounds the on-site alarm device for a critical alarm and silences it when none is left', async () => {
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    const commands: any[] = [];
    smoke.client.on('message', (topic, p) => topic.endsWith('/command') && commands.push(JSON.parse(p.toString())));
    await smoke.client.subscribeAsync(`v1/${MALL}/smoke-1/command`, { qos: 1 });
    await smoke.telemetry({ ts: now, values: { smoke_alarm: true } });
    await waitFor(() => commands.find((c) => c.command === 'alarm_on'), 5000, 'alarm_on');
    await smoke.telemetry({ ts: now + 1000, values: { smoke_alarm: false } });
    await waitFor(() => commands.find((c) => c.command === 'alarm_off'), 5000, 'alarm_off');
    expect(commands.map((c) => c.command)).toEqual(['alarm_on', 'alarm_off']);
    await smoke.end();
  });
});
