import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { startReceiver } from '../support/receivers.ts';
import { CHEM, hookUnit, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The handling loop (处置反馈 → 核查 → 闭环) with the default review policy: alerts of major and
 * above close only through an accepted review of the enterprise's feedback, on an injected clock.
 */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64');

describe('feedback and review', () => {
  const T = Date.UTC(2026, 10, 29, 1, 0, 0);
  let now = T;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    hooks = await startReceiver();
    const reg = testRegistry();
    delete (reg.routing as Record<string, unknown>).reviewFrom;
    Object.assign(reg.routing, { groupWaitS: 0, feedbackWithinH: 4 });
    hookUnit(reg, 'reg-a', hooks.url);
    app = await startTestApp({ registry: reg, clock: () => now, tickMs: 0 });
  });
  afterAll(async () => {
    await app?.stop();
    await hooks?.close();
  });
  /** the regulator's webhook got this change, alone or in a digest (changes close together go as one) */
  const regulatorTold = (type: string) =>
    hooks.requests.some((r) => r.url === '/reg-a' && ((r.body as any).digest ? (r.body as any).events : [r.body]).some((e: any) => e.transition?.type === type));
  const raise = async (device: string, secret: string, seq: number) => {
    const dev = await connectDevice(app, CHEM, device, secret);
    await dev.telemetry({ ts: now, seq, values: { gas_lel: 45 } });
    await dev.end();
    return (await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.deviceId === device && a.rule === 'gas-lel');
  };

  it('closes a critical alarm only through an accepted review: returned once, reported again, accepted', async () => {
    const alert = await raise('gas-1', 'secret-gas-1', 1);
    expect(alert).toMatchObject({ severity: 'critical', feedbackDueAt: new Date(T + 4 * 3_600_000).toISOString(), review: null });
    const chem = apiClient(app, 'token-chem');
    const regulator = apiClient(app, 'token-regulator-a');
    await chem.post(`/api/alerts/${alert.id}/ack`, { note: '值班长到场' });

    // a photo of what was done, then the feedback
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(PNG)]), 'valve.png');
    const photo = (await (await fetch(`http://127.0.0.1:${app.ports.http}/api/photos?alert=${alert.id}`, { method: 'POST', headers: { authorization: 'Bearer token-chem' }, body: form })).json()) as { url: string };
    expect((await regulator.post(`/api/alerts/${alert.id}/review`, { accepted: true, note: 'x' })).json.error).toBe('CONFLICT');
    const reported = await chem.post(`/api/alerts/${alert.id}/feedback`, { cause: '法兰垫片老化泄漏', measures: '关闭切断阀，更换垫片，通风后检测合格', disposition: 'hazard_rectified', photos: [photo.url] });
    expect(reported.json).toMatchObject({ review: { state: 'awaiting' }, feedback: { by: 'chem-user', photos: [photo.url] } });

    // its own close: REVIEW_REQUIRED; another region's regulator: 403; an enterprise cannot review
    const close = await chem.post(`/api/alerts/${alert.id}/close`, { disposition: 'hazard_rectified', note: '已处置' });
    expect(close).toMatchObject({ status: 409, json: { error: 'REVIEW_REQUIRED' } });
    expect((await apiClient(app, 'token-regulator-b').post(`/api/alerts/${alert.id}/review`, { accepted: true, note: 'x' })).status).toBe(403);
    expect((await chem.post(`/api/alerts/${alert.id}/review`, { accepted: true, note: 'x' })).status).toBe(403);

    // returned with a note and a new deadline; reported again; accepted: closed with the feedback
    now = T + 3_600_000;
    const returned = await regulator.post(`/api/alerts/${alert.id}/review`, { accepted: false, note: '缺少浓度复测记录' });
    expect(returned.json).toMatchObject({ state: 'active', review: { state: 'returned', note: '缺少浓度复测记录', by: 'regulator-taixing' }, feedbackDueAt: new Date(now + 4 * 3_600_000).toISOString() });
    await chem.post(`/api/alerts/${alert.id}/feedback`, { cause: '法兰垫片老化泄漏', measures: '更换垫片；复测 0 %LEL，记录附后', disposition: 'hazard_rectified' });
    const accepted = await regulator.post(`/api/alerts/${alert.id}/review`, { accepted: true, note: '复核合格' });
    expect(accepted.json).toMatchObject({ state: 'closed', closedBy: 'regulator-taixing', disposition: 'hazard_rectified', closeNote: '法兰垫片老化泄漏；更换垫片；复测 0 %LEL，记录附后' });

    const history = (await apiClient(app, 'token-operator').get(`/api/alerts/${alert.id}`)).json.history.filter((h: any) => !h.type.startsWith('notif')).map((h: any) => `${h.type}:${h.actor}`);
    expect(history).toEqual(['raised:rule:gas-lel', 'acknowledged:chem-user', 'feedback:chem-user', 'review_returned:regulator-taixing', 'feedback:chem-user', 'closed:regulator-taixing']);
    // the regulator heard of the feedback waiting for it
    await app.settled();
    await waitFor(() => regulatorTold('feedback'), 5000, 'the regulator told of the feedback');
  });

  it('tells the regulator when the feedback is overdue, once', async () => {
    now = T + 10 * 3_600_000;
    const alert = await raise('gas-2', 'secret-gas-2', 1);
    now += 4 * 3_600_000 + 60_000;
    await app.sweep();
    await app.settled();
    const one = (await apiClient(app, 'token-operator').get(`/api/alerts/${alert.id}`)).json;
    expect(one.feedbackOverdueAt).toBe(new Date(now).toISOString());
    await app.sweep();
    expect((await apiClient(app, 'token-operator').get(`/api/alerts/${alert.id}`)).json.history.filter((h: any) => h.type === 'feedback_overdue')).toHaveLength(1);
    await waitFor(() => regulatorTold('feedback_overdue'), 5000, 'the regulator told');
  });

  it('closes a warning as before: no review needed below major', async () => {
    now += 60_000;
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await dev.telemetry({ ts: now, seq: 2, values: { gas_lel: 1 } });
    await dev.end();
    const reg = apiClient(app, 'token-operator');
    // an impossible value: a warning-level data-quality alert
    const d2 = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await d2.telemetry({ ts: now, seq: 3, values: { gas_lel: 150 } });
    await d2.end();
    const warning = (await reg.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.rule === 'impossible-value');
    expect(warning).toMatchObject({ severity: 'warning', feedbackDueAt: null });
    expect((await reg.post(`/api/alerts/${warning.id}/close`, { disposition: 'device_fault', note: '探头故障' })).json.state).toBe('closed');
  });
});
