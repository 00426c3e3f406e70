import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { startReceiver } from '../support/receivers.ts';
import { CHEM, hookUnit, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Rectification items (隐患整改) on an injected clock: opened from an alert with a deadline, past
 * the deadline they escalate to the regulator; the enterprise reports, the regulator returns it
 * once, then signs it off (销号), and the escalation clears. Scoped like everything else.
 */
describe('rectification items', () => {
  const T = Date.UTC(2026, 10, 29, 2, 0, 0);
  let now = T;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    hooks = await startReceiver();
    const reg = testRegistry();
    hookUnit(reg, 'reg-a', hooks.url);
    Object.assign(reg.routing, { groupWaitS: 0 });
    app = await startTestApp({ registry: reg, clock: () => now, tickMs: 0 });
  });
  afterAll(async () => {
    await app?.stop();
    await hooks?.close();
  });

  it('escalates an item past its deadline to the regulator; a return and a sign-off close the loop, every step recorded', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ ts: now, seq: 1, values: { gas_lel: 30 } });
    await dev.end();
    const op = apiClient(app, 'token-operator');
    const regulator = apiClient(app, 'token-regulator-a');
    const chem = apiClient(app, 'token-chem');
    const alert = (await op.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items[0];

    // the regulator opens an item from the alert, due in a day; the enterprise may not, another region may not
    const due = new Date(T + 86_400_000).toISOString();
    expect((await chem.post(`/api/alerts/${alert.id}/hazard`, { description: 'x', dueAt: due })).status).toBe(403);
    expect((await apiClient(app, 'token-regulator-b').post(`/api/alerts/${alert.id}/hazard`, { description: 'x', dueAt: due })).status).toBe(403);
    const opened = await regulator.post(`/api/alerts/${alert.id}/hazard`, { description: '可燃气体探测器位置不当，储罐区通风不良', dueAt: due });
    expect(opened.status).toBe(201);
    const id = opened.json.id;
    expect(opened.json).toMatchObject({ state: 'open', alertId: alert.id, enterpriseId: CHEM, overdue: false });

    // a day and a minute on: overdue, raised for the regulator
    now = T + 86_460_000;
    await app.sweep();
    await app.settled();
    const escalated = (await op.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.rule === 'hazard-overdue');
    expect(escalated).toMatchObject({ severity: 'major', ruleKind: 'hazard' });
    await waitFor(() => hooks.requests.some((r) => r.url === '/reg-a' && (r.body as any).rule === 'hazard-overdue'), 5000, 'the regulator told');
    expect((await op.get('/api/hazards?state=overdue')).json.items.map((h: any) => h.id)).toEqual([id]);
    // once: a second sweep raises nothing new
    await app.sweep();
    expect((await op.get(`/api/hazards/${id}`)).json.history.filter((e: any) => e.type === 'overdue')).toHaveLength(1);

    // the enterprise reports; a sign-off before that, or by the enterprise, is refused
    expect((await regulator.post(`/api/hazards/${id}/signoff`, { accepted: true, note: 'x' })).status).toBe(409);
    expect((await chem.post(`/api/hazards/${id}/rectified`, { measures: '探测器移至泄漏源上方，加装强制通风' })).json.state).toBe('rectified');
    expect((await chem.post(`/api/hazards/${id}/signoff`, { accepted: true, note: 'x' })).status).toBe(403);
    // returned once, then signed off
    expect((await regulator.post(`/api/hazards/${id}/signoff`, { accepted: false, note: '通风量未达设计要求' })).json.state).toBe('open');
    await chem.post(`/api/hazards/${id}/rectified`, { measures: '更换大风量风机并检测合格' });
    const closed = await regulator.post(`/api/hazards/${id}/signoff`, { accepted: true, note: '现场复核合格，销号' });
    expect(closed.json).toMatchObject({ state: 'closed', signoff: { accepted: true, by: 'regulator-taixing' } });
    await app.settled();
    expect((await op.get(`/api/alerts/${escalated.id}`)).json.state).toBe('cleared');
    const history = (await op.get(`/api/hazards/${id}`)).json.history.map((e: any) => `${e.type}:${e.actor}`);
    expect(history).toEqual(['opened:regulator-taixing', 'overdue:system', 'rectified:chem-user', 'returned:regulator-taixing', 'rectified:chem-user', 'signed_off:regulator-taixing']);
    // out of scope for another enterprise and another region
    expect((await apiClient(app, 'token-mall').get(`/api/hazards/${id}`)).status).toBe(403);
    expect((await apiClient(app, 'token-regulator-b').get('/api/hazards?state=all')).json.items).toEqual([]);
  });

  it('opens an item from an inspection, with a deadline in the future', async () => {
    const regulator = apiClient(app, 'token-regulator-a');
    expect((await regulator.post('/api/hazards', { enterpriseId: CHEM, description: '执法检查：应急预案未演练', dueAt: new Date(now - 1000).toISOString() })).json).toMatchObject({ error: 'BAD_REQUEST', field: 'dueAt' });
    const r = await regulator.post('/api/hazards', { enterpriseId: CHEM, description: '执法检查：应急预案未演练', dueAt: new Date(now + 7 * 86_400_000).toISOString() });
    expect(r.json).toMatchObject({ state: 'open', alertId: null });
    expect((await apiClient(app, 'token-chem').get('/api/hazards')).json.items.map((h: any) => h.id)).toContain(r.json.id);
  });
});
