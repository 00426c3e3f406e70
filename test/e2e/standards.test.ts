import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM, hookUnit, testRegistry } from '../support/registry.ts';
import { startReceiver } from '../support/receivers.ts';
import { waitFor } from '../support/wait.ts';

/**
 * What the standards fix, end to end through MQTT and the registry: a toxic point alarms at its
 * gas's limit (GB/T 50493-2019 from GBZ 2.1-2019), and a registry asking for more is refused.
 */
describe('the standards a site cannot loosen', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const reg = testRegistry();
  const gas1 = reg.enterprises[0].devices[0] as { points: { metric: string; gas?: string }[] };
  gas1.points.find((p) => p.metric === 'toxic_gas_ppm')!.gas = 'H2S';

  beforeAll(async () => {
    app = await startTestApp({ registry: reg });
  });
  afterAll(async () => app?.stop());

  it('raises H2S at 8 ppm: above its MAC of 10 mg/m³ (7.05 ppm), below the 10 ppm of the first round', async () => {
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ seq: 1, values: { toxic_gas_ppm: 8 } });
    const items = (await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items;
    expect(items.find((a: any) => a.rule === 'toxic-gas')).toMatchObject({ severity: 'major', threshold: 7.05, value: 8 });
    await dev.end();
  });

  it('refuses a registry that sets H2S at 20 ppm, citing GB/T 50493-2019, and keeps the one in force', async () => {
    const r = parse(await readFile(app.configPath, 'utf8'));
    r.enterprises[0].devices[0].rules = [{ id: 'toxic-gas', above: [{ severity: 'major', value: 20 }] }];
    await writeFile(app.configPath, stringify(r));
    const result = await app.reload();
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems.join('\n')).toMatch(/H2S first-level setpoint 20 ppm is above 7\.05 ppm, which GB\/T 50493-2019 forbids/);
    const kept = app.registry().devices.get('gas-1')!.rules.find((x) => x.id === 'toxic-gas')!;
    expect(kept.kind === 'threshold' && kept.above!.map((l) => l.value)).toEqual([7.05, 14.1]);
  });

  it('raises maintenance-unannounced when a device marks values maintenance outside any window or silence, and not inside one', async () => {
    const api = apiClient(app, 'token-operator');
    const dev = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await dev.telemetry({ seq: 1, values: { gas_lel: 45 }, quality: { gas_lel: 'maintenance' } });
    const hidden = (await api.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.filter((a: any) => a.deviceId === 'gas-2');
    // the marked value hides the gas alarm, and that is itself the alarm
    expect(hidden.map((a: any) => [a.rule, a.severity])).toEqual([['maintenance-unannounced', 'major']]);
    await dev.telemetry({ seq: 2, values: { gas_lel: 1 } });
    expect((await api.get(`/api/alerts/${hidden[0].id}`)).json.state).toBe('cleared');

    // announced: a silence of the device (the enterprise's own user may set one)
    const until = new Date(Date.now() + 3_600_000).toISOString();
    expect((await apiClient(app, 'token-chem').post('/api/silences', { enterpriseId: CHEM, deviceId: 'gas-2', reason: '标定', until })).status).toBe(201);
    await dev.telemetry({ seq: 3, values: { gas_lel: 45 }, quality: { gas_lel: 'maintenance' } });
    const open = (await api.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.filter((a: any) => a.deviceId === 'gas-2');
    expect(open).toEqual([]);
    await dev.end();
  });

  it('caps silences and maintenance windows at limits.maxSilenceH (72 h by default)', async () => {
    const chem = apiClient(app, 'token-chem');
    const tooLong = await chem.post('/api/silences', { enterpriseId: CHEM, reason: '检修', until: new Date(Date.now() + 73 * 3_600_000).toISOString() });
    expect(tooLong.status).toBe(400);
    expect(tooLong.json).toMatchObject({ error: 'BAD_REQUEST', field: 'until' });
    expect(tooLong.json.message).toMatch(/at most 72 h \(limits\.maxSilenceH\)/);

    const r = parse(await readFile(app.configPath, 'utf8'));
    delete r.enterprises[0].devices[0].rules;
    r.maintenance = [{ enterprise: CHEM, from: '2026-12-01T00:00:00+08:00', to: '2026-12-05T00:00:00+08:00', reason: '大修', by: 'chem-user' }];
    await writeFile(app.configPath, stringify(r));
    const result = await app.reload();
    expect(!result.ok && result.problems.join('\n')).toMatch(/maintenance\[0\]\.to: a maintenance window may last at most 72 h \(limits\.maxSilenceH\)/);

    // within the cap it is taken, recorded in the audit trail, and the regulator of the region sees it
    r.maintenance[0].to = '2026-12-03T00:00:00+08:00';
    await writeFile(app.configPath, stringify(r));
    const regulator = apiClient(app, 'token-regulator-a');
    const before = (await regulator.get('/api/audit/head')).json.n;
    expect((await app.reload()).ok).toBe(true);
    const windows = (await regulator.get('/api/silences')).json.items.filter((w: any) => w.source === 'registry');
    expect(windows).toMatchObject([{ enterpriseId: CHEM, reason: '大修', by: 'chem-user' }]);
    // the reload and the window it brought: two entries
    await waitFor(async () => (await regulator.get('/api/audit/head')).json.n >= before + 2, 5000, 'the window in the audit trail');
  });
});

describe('power-use monitoring', () => {
  it("a suspended enterprise's power above its idle baseline reaches the regulator; lifting the order clears it", async () => {
    const hooks = await startReceiver();
    const reg = testRegistry();
    (reg.enterprises[0].devices as object[]).push({ id: 'meter-1', secret: 'secret-meter-1', points: [{ metric: 'power_kw' }] });
    hookUnit(reg, 'reg-a', hooks.url);
    Object.assign(reg.routing, { groupWaitS: 0 });
    const app = await startTestApp({ registry: reg });
    try {
      const op = apiClient(app, 'token-operator');
      const regulator = apiClient(app, 'token-regulator-a');
      expect((await op.post(`/api/enterprises/${CHEM}/devices/meter-1/baselines`, { metric: 'power_kw', value: 50, note: '停产待机功率' })).status).toBe(201);
      expect((await apiClient(app, 'token-chem').post(`/api/enterprises/${CHEM}/status`, { status: 'operating', reason: 'x' })).status).toBe(403);
      const suspended = await regulator.post(`/api/enterprises/${CHEM}/status`, { status: 'suspended', reason: '停产整顿（泰应急责改〔2026〕12号）' });
      expect(suspended.json).toMatchObject({ status: 'suspended', by: 'regulator-taixing' });
      expect((await op.get(`/api/enterprises/${CHEM}`)).json.status).toMatchObject({ status: 'suspended', reason: '停产整顿（泰应急责改〔2026〕12号）' });

      const meter = await connectDevice(app, CHEM, 'meter-1', 'secret-meter-1');
      await meter.telemetry({ seq: 1, values: { power_kw: 55 } });
      await meter.telemetry({ seq: 2, values: { power_kw: 400 } });
      const alert = (await op.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.rule === 'power-while-suspended');
      expect(alert).toMatchObject({ severity: 'major', metric: 'power_kw', value: 400, threshold: 60 });
      await app.settled();
      await waitFor(() => hooks.requests.some((r) => r.url === '/reg-a' && (r.body as any).rule === 'power-while-suspended'), 5000, 'the regulator told');

      // the order lifted: the alert clears on the next tick, whatever the power
      await regulator.post(`/api/enterprises/${CHEM}/status`, { status: 'operating', reason: '整改验收合格' });
      await app.tick();
      await app.settled();
      expect((await op.get(`/api/alerts/${alert.id}`)).json.state).toBe('cleared');
      expect((await op.get(`/api/enterprises/${CHEM}/status/history`)).json.items.map((s: any) => s.status)).toEqual(['suspended', 'operating']);
      await meter.end();
    } finally {
      await app.stop();
      await hooks.close();
    }
  });
});
