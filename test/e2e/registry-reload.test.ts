import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM, DUST, MALL, testRegistry } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';

/** Rules and registry change without a restart; baselines are set through the API. */
describe('registry reload and baselines', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const reg = testRegistry();
  (reg.enterprises[3].devices[0] as Record<string, unknown>).rules = [{ id: 'filter-pressure-baseline', forS: 0 }];

  beforeAll(async () => {
    app = await startTestApp({ registry: reg });
  });
  afterAll(async () => app?.stop());

  const edit = async (change: (r: any) => void) => {
    const r = parse(await readFile(app.configPath, 'utf8'));
    change(r);
    await writeFile(app.configPath, stringify(r));
  };
  const reloads = async (outcome: string) => Number(/registry_reloads_total\{outcome="(\w+)"\} (\d+)/g.exec((await apiClient(app).get('/metrics')).text.split('\n').filter((l) => l.includes(`outcome="${outcome}"`)).join('\n'))?.[2] ?? 0);

  it('applies a changed file without a restart, keeping the state of rules that did not change', async () => {
    const api = apiClient(app, 'token-operator');
    const g1 = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await g1.telemetry({ values: { gas_lel: 30 } });
    const first = await waitFor(async () => (await api.get(`/api/alerts?state=active&enterprise=${CHEM}`)).json.items.find((a: any) => a.deviceId === 'gas-1'), 5000, 'gas-1 alert');

    // gas-2 gets a lower first level; gas-1's rules are untouched
    await edit((r) => (r.enterprises[0].devices[1].rules = [{ id: 'gas-lel', above: [{ severity: 'warning', value: 5 }, { severity: 'critical', value: 40 }] }]));
    await waitFor(async () => (await reloads('applied')) >= 1, 5000, 'reload');

    const g2 = await connectDevice(app, CHEM, 'gas-2', 'secret-gas-2');
    await g2.telemetry({ values: { gas_lel: 6 } });
    const g2alert = await waitFor(async () => (await api.get(`/api/alerts?state=active&enterprise=${CHEM}`)).json.items.find((a: any) => a.deviceId === 'gas-2'), 5000, 'gas-2 alert at the new level');
    expect(g2alert).toMatchObject({ severity: 'warning', threshold: 5 });

    // gas-1 is inside its deadband: still the same open alert, not cleared, not doubled
    // the PUBACK waits for the alert record, and the API waits for the alert book
    await g1.telemetry({ values: { gas_lel: 19 } });
    const g1now = (await api.get(`/api/alerts?enterprise=${CHEM}`)).json.items.filter((a: any) => a.deviceId === 'gas-1');
    expect(g1now.map((a: any) => [a.id, a.state])).toEqual([[first.id, 'active']]);
    await g1.end();
    await g2.end();
  });

  it('clears the alarm of a device removed from the file, saying so; while that alert is open, only its own enterprise may register the id again', async () => {
    const own = await startTestApp();
    try {
      const op = apiClient(own, 'token-operator');
      const g2 = await connectDevice(own, CHEM, 'gas-2', 'secret-gas-2');
      await g2.telemetry({ seq: 1, values: { gas_lel: 45 } });
      const raised = await waitFor(async () => (await op.get('/api/alerts?state=active')).json.items.find((a: any) => a.deviceId === 'gas-2'), 5000, 'the alarm of gas-2');
      await g2.end();
      const without = testRegistry();
      without.enterprises[0].devices = without.enterprises[0].devices.filter((d) => d.id !== 'gas-2');
      await writeFile(own.configPath, stringify(without));
      expect(await own.reload()).toEqual({ ok: true });
      const cleared = await waitFor(async () => {
        const a = (await op.get(`/api/alerts/${raised.id}`)).json;
        return a.state === 'cleared' ? a : undefined;
      }, 5000, 'the alarm cleared');
      expect(cleared.history.at(-1)).toMatchObject({ type: 'cleared', message: expect.stringContaining('no longer in the registry') });
      // cleared, not closed: still the enterprise's to handle, and its id not another's to take
      const mall = await apiClient(own, 'token-mall').post(`/api/enterprises/${MALL}/devices`, { id: 'gas-2', points: [{ metric: 'smoke_alarm' }] });
      expect(mall).toMatchObject({ status: 409, json: { message: 'device id gas-2 is taken' } });
      expect((await apiClient(own, 'token-chem').post(`/api/enterprises/${CHEM}/devices`, { id: 'gas-2', templates: ['hazchem'], points: [{ metric: 'gas_lel' }] })).status).toBe(201);
    } finally {
      await own.stop();
    }
  });

  it('clears at the start the alarms of devices the file removed, or gave another enterprise, while the service was down', async () => {
    let own = await startTestApp();
    try {
      const op = () => apiClient(own, 'token-operator');
      for (const id of ['gas-1', 'gas-2']) {
        const dev = await connectDevice(own, CHEM, id, `secret-${id}`);
        await dev.telemetry({ seq: 1, values: { gas_lel: 45 } });
        await dev.end();
      }
      const raised = await waitFor(async () => {
        const items = (await op().get('/api/alerts?state=active')).json.items.filter((a: any) => a.rule === 'gas-lel');
        return items.length === 2 ? items : undefined;
      }, 5000, 'both alarms');
      const dataDir = own.dataDir;
      await own.stop();
      const edited = testRegistry();
      const [gas1, gas2] = edited.enterprises[0].devices;
      edited.enterprises[0].devices = edited.enterprises[0].devices.filter((d) => d !== gas1 && d !== gas2);
      edited.enterprises[1].devices.push(gas1);
      own = await startTestApp({ dataDir, registry: edited });
      for (const a of raised) {
        const now = (await op().get(`/api/alerts/${a.id}`)).json;
        expect(now).toMatchObject({ state: 'cleared', enterpriseId: CHEM });
        expect(now.history.at(-1).message).toMatch(a.deviceId === 'gas-1' ? /moved to another enterprise/ : /no longer in the registry/);
      }
      // gas-1, now the other enterprise's, raises an alarm of its own
      const moved = await connectDevice(own, edited.enterprises[1].id, 'gas-1', 'secret-gas-1');
      await moved.telemetry({ seq: 2, values: { gas_lel: 45 } });
      await moved.end();
      const fresh = await waitFor(async () => (await op().get('/api/alerts?state=active')).json.items.find((a: any) => a.deviceId === 'gas-1'), 5000, 'its own alarm');
      expect(fresh.enterpriseId).toBe(edited.enterprises[1].id);
      expect(raised.map((a: any) => a.id)).not.toContain(fresh.id);
    } finally {
      await own.stop();
    }
  });

  it('refuses a registry that fails validation and keeps the previous one running', async () => {
    const before = await reloads('refused');
    await edit((r) => (r.enterprises[0].devices[0].points[0].metric = 'dust_conc'));
    await waitFor(async () => (await reloads('refused')) > before, 5000, 'refused reload');
    const dev = await connectDevice(app, CHEM, 'gas-1', 'secret-gas-1');
    await dev.telemetry({ values: { gas_lel: 2 } });
    // a reading the old registry refuses: its reject comes after any for the first
    await dev.telemetry({ values: { dust_conc: 2 } });
    await waitFor(() => dev.rejects.length > 0, 5000, 'the reject of the second reading');
    expect(dev.rejects.map((r) => r.error)).toEqual(['UNKNOWN_METRIC']);
    await dev.end();
  });

  it('reloads on SIGHUP', async () => {
    await edit((r) => (r.enterprises[0].devices[0].points[0].metric = 'gas_lel'));
    await waitFor(async () => (await reloads('applied')) >= 2, 5000, 'watch reload after the fix');
    const applied = await reloads('applied');
    process.emit('SIGHUP');
    await waitFor(async () => (await reloads('applied')) > applied, 5000, 'SIGHUP reload');
  });

  it('records a baseline set through the API and raises when the value departs 20 % from it', async () => {
    const dust = apiClient(app, 'token-operator');
    const dev = await connectDevice(app, DUST, 'collector-1', 'secret-collector-1');
    await dev.telemetry({ values: { filter_pressure_diff: 1000 } });
    await waitFor(async () => (await dust.get(`/api/enterprises/${DUST}`)).json.devices[0].lastValues.filter_pressure_diff, 5000, 'reading in');
    const set = await dust.post(`/api/enterprises/${DUST}/devices/collector-1/baselines`, { metric: 'filter_pressure_diff', note: '更换滤袋后' });
    expect(set.status).toBe(201);
    expect(set.json).toMatchObject({ value: 1000, by: 'operator', note: '更换滤袋后' });
    expect((await apiClient(app, 'token-regulator-b').post(`/api/enterprises/${DUST}/devices/collector-1/baselines`, { metric: 'filter_pressure_diff', value: 1 })).status).toBe(403);
    expect((await dust.post(`/api/enterprises/${DUST}/devices/collector-1/baselines`, { metric: 'gas_lel', value: 1 })).json.field).toBe('metric');

    await dev.telemetry({ values: { filter_pressure_diff: 1150 } });
    await dev.telemetry({ values: { filter_pressure_diff: 1250 } });
    const alert = await waitFor(async () => (await dust.get(`/api/alerts?enterprise=${DUST}`)).json.items.find((a: any) => a.rule === 'filter-pressure-baseline'), 5000, 'baseline alert');
    expect(alert).toMatchObject({ severity: 'major', value: 1250, threshold: 1000 });
    const history = (await dust.get(`/api/enterprises/${DUST}/devices/collector-1/baselines`)).json.items;
    expect(history.map((b: any) => b.value)).toEqual([1000]);
    await dev.end();
  });
});
