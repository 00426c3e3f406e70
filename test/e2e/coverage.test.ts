import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { mustConnect } from '../../services/enterprises/profile.ts';

/**
 * Coverage for the regulator: which enterprises must be connected (the profile, or the industry
 * and headcount rules), which are, which are online, and the online rate since first seen.
 */
describe('who must be connected', () => {
  it('follows the industry and the exposed headcount, unless the profile says', () => {
    expect(mustConnect({ industry: 'dust', profile: { exposedWorkers: 12 } }).must).toBe(true);
    expect(mustConnect({ industry: 'dust', profile: { exposedWorkers: 8 } }).must).toBe(false);
    expect(mustConnect({ industry: 'dust', profile: { exposedWorkers: 6, dustType: 'aluminium' } }).must).toBe(true);
    expect(mustConnect({ industry: 'dust', profile: { exposedWorkers: 4, dustType: '镁' } }).must).toBe(false);
    expect(mustConnect({ industry: 'dust' })).toMatchObject({ must: true, why: expect.stringMatching(/headcount not given/) });
    expect(mustConnect({ industry: 'steel' }).must).toBe(true);
    expect(mustConnect({ industry: 'dust', profile: { exposedWorkers: 50, mustConnect: false } }).must).toBe(false);
  });
});

describe('coverage', () => {
  const T = Date.UTC(2026, 10, 29, 4, 0, 0);
  let now = T - 50_000;
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const reg = testRegistry();
  (reg.enterprises as object[]).push(
    { id: '91321283MA1WOOD0009', name: '未联网木业', industry: 'dust', region: '321283103', profile: { exposedWorkers: 12, dustType: 'wood', riskGrade: 'orange' }, devices: [] },
    { id: '91321283MA1TINY0010', name: '小作坊', industry: 'dust', region: '321283103', profile: { exposedWorkers: 3 }, devices: [] },
  );
  beforeAll(async () => {
    app = await startTestApp({ registry: reg, clock: () => now, tickMs: 0 });
  });
  afterAll(async () => app?.stop());

  it('lists an obliged enterprise with no device as not connected, and rates a device from when it was first seen', async () => {
    // gas-1 appears 50 s ago and reports every 10 s since; gas-2 was never heard
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    for (let i = 0; i <= 5; i++) {
      now = T - 50_000 + i * 10_000;
      await dev.telemetry({ ts: now, seq: i + 1, values: { gas_lel: 1 } });
    }
    await dev.end();
    const r = await apiClient(app, 'token-regulator-a').get(`/api/reports/coverage?to=${T + 1}`);
    expect(r.status).toBe(200);
    const by = new Map(r.json.items.map((i: any) => [i.enterpriseId, i]));
    expect(by.get('91321283MA1WOOD0009')).toMatchObject({ mustConnect: true, connected: false, devices: 0, riskGrade: 'orange', onlineRate: null, lastReading: null });
    expect(by.get('91321283MA1TINY0010')).toMatchObject({ mustConnect: false, connected: false });
    // a month's period, but gas-1 is counted only from its first reading: fully online
    expect(by.get(CHEM)).toMatchObject({ mustConnect: true, connected: true, devices: 2, onlineRate: 1, lastReading: new Date(T).toISOString() });
    // the new wood plant and the casting plant, which has not reported in this test either
    expect(r.json.totals).toMatchObject({ notConnected: 2 });
    // scoped: another region's regulator does not see them; an enterprise gets no coverage
    const other = await apiClient(app, 'token-regulator-b').get('/api/reports/coverage');
    expect(other.json.items.map((i: any) => i.enterpriseId)).not.toContain(CHEM);
    expect((await apiClient(app, 'token-chem').get('/api/reports/coverage')).status).toBe(403);
    // the profile shows on the enterprise, with what it must do
    expect((await apiClient(app, 'token-operator').get('/api/enterprises/91321283MA1WOOD0009')).json.profile).toMatchObject({ exposedWorkers: 12, mustConnect: true });
  });
});
