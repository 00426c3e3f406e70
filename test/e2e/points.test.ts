import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CHEM as GAS, testRegistry } from '../support/registry.ts';

/**
 * Points with their own ids: a gas-alarm controller with two detectors of one metric on one MQTT
 * connection. Values are keyed by point id; the template's rules run per point, one alert each.
 */
describe('points with ids', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const reg = testRegistry();
  const ent = reg.enterprises.find((e) => e.id === GAS)!;
  (ent.devices as object[]).push({
    id: 'controller-1',
    secret: 'secret-controller-1',
    templates: ['gas_user'],
    points: [
      { id: 'gas-1', metric: 'gas_lel', name: '1号灶台', code: 'C1-CH1' },
      { id: 'gas-2', metric: 'gas_lel', name: '2号灶台', code: 'C1-CH2' },
      { metric: 'gas_shutoff_valve_closed' },
    ],
  });

  beforeAll(async () => {
    app = await startTestApp({ registry: reg });
  });
  afterAll(async () => app?.stop());

  it('raises exactly one alert, for the channel that alarms, named after its point', async () => {
    const dev = await connectDevice(app, GAS, 'controller-1', 'secret-controller-1');
    await dev.telemetry({ seq: 1, values: { 'gas-1': 3, 'gas-2': 30, gas_shutoff_valve_closed: false } });
    const api = apiClient(app, 'token-operator');
    const alerts = (await api.get(`/api/alerts?enterprise=${GAS}&state=active`)).json.items.filter((a: any) => a.deviceId === 'controller-1');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ rule: 'gas-lel', metric: 'gas_lel', pointId: 'gas-2', pointName: '2号灶台', severity: 'major', value: 30, key: 'controller-1/gas-lel/gas-2' });
    expect(alerts[0].message).toContain('2号灶台');
    // the other channel alarms too: its own alert; the first clears alone
    await dev.telemetry({ seq: 2, values: { 'gas-1': 25, 'gas-2': 1 } });
    const now = (await api.get(`/api/alerts?enterprise=${GAS}&state=all`)).json.items.filter((a: any) => a.deviceId === 'controller-1');
    expect(now.map((a: any) => [a.pointId, a.state]).sort()).toEqual([
      ['gas-1', 'active'],
      ['gas-2', 'cleared'],
    ]);
    expect(dev.rejects).toEqual([]);
    await dev.end();
  });

  it('keys telemetry by point: point= gives one channel, metric= asks which one, a key that is no point is refused', async () => {
    const dev = await connectDevice(app, GAS, 'controller-1', 'secret-controller-1');
    await dev.telemetry({ seq: 3, values: { 'gas-1': 4, 'gas-2': 5, gas_lel: 9 } });
    expect(dev.rejects.map((r) => [r.error, r.path])).toEqual([['UNKNOWN_METRIC', 'values.gas_lel']]);
    const api = apiClient(app, 'token-operator');
    const two = (await api.get('/api/telemetry?device=controller-1&point=gas-2')).json.points;
    expect(two.map((p: any) => [p.point, p.metric, p.value])).toEqual([
      ['gas-2', 'gas_lel', 30],
      ['gas-2', 'gas_lel', 1],
      ['gas-2', 'gas_lel', 5],
    ]);
    const ambiguous = await api.get('/api/telemetry?device=controller-1&metric=gas_lel');
    expect(ambiguous.json).toMatchObject({ error: 'BAD_REQUEST', field: 'metric' });
    expect(ambiguous.json.message).toMatch(/2 gas_lel points; name one with point=/);
    // a switch known by its metric is one point, as before
    const valve = (await api.get('/api/telemetry?device=controller-1&metric=gas_shutoff_valve_closed')).json.points;
    expect(valve.map((p: any) => [p.point, p.value])).toEqual([['gas_shutoff_valve_closed', false]]);
    const status = (await api.get(`/api/enterprises/${GAS}`)).json.devices.find((d: any) => d.id === 'controller-1');
    expect(Object.keys(status.lastValues).sort()).toEqual(['gas-1', 'gas-2', 'gas_shutoff_valve_closed']);
    expect(status.points.map((p: any) => p.id)).toEqual(['gas-1', 'gas-2', 'gas_shutoff_valve_closed']);
    await dev.end();
  });

  it('refuses a device listing a point id twice, a metric twice without ids, or an id that names another metric', async () => {
    const { parseRegistry } = await import('../../services/registry/load.ts');
    const { stringify } = await import('yaml');
    const problems = (points: object[]) => {
      const r = testRegistry();
      (r.enterprises[0].devices as object[]).push({ id: 'x', secret: 'secret-x-1234', points });
      try {
        parseRegistry(stringify(r));
        return [];
      } catch (e) {
        return (e as { problems: string[] }).problems;
      }
    };
    expect(problems([{ id: 'a', metric: 'gas_lel' }, { id: 'a', metric: 'gas_lel' }])).toEqual([expect.stringMatching(/points\[1\]\.id: point id "a" listed twice/)]);
    expect(problems([{ metric: 'gas_lel' }, { metric: 'gas_lel' }])).toEqual([expect.stringMatching(/metric "gas_lel" listed twice; give each of its points an id/)]);
    expect(problems([{ id: 'co_ppm', metric: 'gas_lel' }])).toEqual([expect.stringMatching(/"co_ppm" is the name of another metric/)]);
  });

  it('checks the shut-off interlock for each channel: the one at the second level whose valve stays open fails', async () => {
    let now = Date.now();
    const timed = await startTestApp({ registry: reg, clock: () => now, tickMs: 0 });
    try {
      const dev = await connectDevice(timed, GAS, 'controller-1', 'secret-controller-1');
      await dev.telemetry({ ts: now, seq: 1, values: { 'gas-1': 2, 'gas-2': 45, gas_shutoff_valve_closed: false } });
      now += 6000;
      await timed.tick();
      await timed.settled();
      const alerts = (await apiClient(timed, 'token-operator').get(`/api/alerts?enterprise=${GAS}&state=active`)).json.items.filter((a: any) => a.deviceId === 'controller-1');
      expect(alerts.map((a: any) => [a.rule, a.pointId, a.severity]).sort()).toEqual([
        ['gas-lel', 'gas-2', 'critical'],
        ['gas-shutoff-interlock', 'gas-2', 'critical'],
      ]);
      await dev.end();
    } finally {
      await timed.stop();
    }
  });
});
