import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp, THREADED } from '../support/app.ts';
import { CHEM, MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** POST /api/alerts/bulk: several alerts handled in one request, each checked as if alone. */
describe('bulk acknowledge and close', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    app = await startTestApp({ ...THREADED, registry: testRegistry() });
    const api = apiClient(app, 'token-operator');
    const gas = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    const smoke = await connectDevice(app, MALL, 'smoke-1', 'secret-smoke-1');
    await gas.telemetry({ seq: 1, values: { gas_lel: 45 } });
    await smoke.telemetry({ seq: 1, values: { smoke_alarm: true } });
    await gas.telemetry({ seq: 2, values: { gas_lel: 1 } });
    const all = await waitFor(async () => {
      const items = (await api.get('/api/alerts')).json.items;
      return items.length >= 2 && items.some((a: any) => a.deviceId === 'gas-1' && a.state === 'cleared') ? items : null;
    }, 5000, 'alerts');
    ids.gas = all.find((a: any) => a.deviceId === 'gas-1').id;
    ids.smoke = all.find((a: any) => a.deviceId === 'smoke-1').id;
    await Promise.all([gas.end(), smoke.end()]);
  });
  afterAll(async () => app?.stop());

  it('answers per alert: what is outside the caller\'s scope or unknown is refused, the rest done', async () => {
    const r = await apiClient(app, 'token-chem').post('/api/alerts/bulk', { ids: [ids.gas, ids.smoke, 'nope'], action: 'ack', note: '已到场' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ done: 1, failed: 2 });
    expect(r.json.results).toEqual([
      { id: ids.gas, ok: true, state: 'cleared', acknowledged: true },
      { id: ids.smoke, ok: false, error: { code: 'FORBIDDEN', message: expect.any(String) } },
      { id: 'nope', ok: false, error: { code: 'NOT_FOUND', message: expect.any(String) } },
    ]);
    // acknowledged already: said so, not done twice
    const again = await apiClient(app, 'token-chem').post('/api/alerts/bulk', { ids: [ids.gas], action: 'ack' });
    expect(again.json.results[0]).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
  });

  it('a critical alert nobody acknowledged is not closed by a bulk close; the others are', async () => {
    const api = apiClient(app, 'token-operator');
    const r = await api.post('/api/alerts/bulk', { ids: [ids.gas, ids.smoke], action: 'close', disposition: 'false_alarm', note: '误报，传感器已校准' });
    expect(r.json).toMatchObject({ done: 1, failed: 1 });
    expect(r.json.results[1]).toMatchObject({ id: ids.smoke, ok: false, error: { code: 'CONFLICT', message: expect.stringContaining('acknowledged') } });
    expect((await api.get(`/api/alerts/${ids.gas}`)).json).toMatchObject({ state: 'closed', disposition: 'false_alarm', closedBy: 'operator' });
  });

  it('refuses a close without a note, and more than 200 alerts at once, naming the field', async () => {
    const api = apiClient(app, 'token-operator');
    const noNote = await api.post('/api/alerts/bulk', { ids: [ids.smoke], action: 'close', disposition: 'other' });
    expect(noNote.status).toBe(400);
    expect(noNote.json.field).toBe('note');
    const many = await api.post('/api/alerts/bulk', { ids: Array.from({ length: 201 }, (_, i) => `a${i}`), action: 'ack' });
    expect(many.status).toBe(400);
    expect(many.json.field).toBe('ids');
  });
});
