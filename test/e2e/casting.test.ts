import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, connectDevice, startTestApp } from '../support/app.ts';
import { CAST, testRegistry } from '../support/registry.ts';

/**
 * Order No. 10 for deep-well casting, through MQTT on an injected clock: a fixed furnace and a
 * tilting one, melt level at the outlet launder and at the launder-to-mould junction. A high
 * junction level must be answered by the feedback the furnace's kind calls for.
 */
const common = ['casting_active', 'cooling_water_flow', 'cooling_water_pressure', 'quick_shutoff_valve_closed'].map((metric) => ({ metric }));
const levels = [
  { id: 'launder-level', metric: 'melt_level', place: 'launder', name: '出口流槽液位' },
  { id: 'junction-level', metric: 'melt_level', place: 'junction', name: '流槽与模盘接口液位' },
];

describe('casting furnaces (Order No. 10)', () => {
  let now = Date.now();
  let app: Awaited<ReturnType<typeof startTestApp>>;
  const reg = testRegistry();
  const ent = reg.enterprises.find((e) => e.id === CAST)!;
  (ent.devices as object[]).push(
    { id: 'fixed-1', secret: 'secret-fixed-1', templates: ['aluminum_casting'], furnace: 'fixed', points: [...common, ...levels, { metric: 'emergency_discharge_open' }, { metric: 'launder_disconnected' }] },
    { id: 'tilting-1', secret: 'secret-tilting-1', templates: ['aluminum_casting'], furnace: 'tilting', points: [...common, ...levels, { metric: 'furnace_tilted_back' }] },
  );
  beforeAll(async () => {
    app = await startTestApp({ registry: reg, clock: () => now, tickMs: 0 });
  });
  afterAll(async () => app?.stop());

  const active = async (device: string) => (await apiClient(app, 'token-operator').get(`/api/alerts?enterprise=${CAST}&state=active`)).json.items.filter((a: any) => a.deviceId === device);

  it('a fixed furnace whose emergency discharge does not open on a high junction level is an interlock failure at the junction', async () => {
    const dev = await connectDevice(app, CAST, 'fixed-1', 'secret-fixed-1');
    const base = { casting_active: true, cooling_water_flow: 100, cooling_water_pressure: 0.4, 'launder-level': 600, emergency_discharge_open: false, launder_disconnected: false };
    await dev.telemetry({ ts: now, seq: 1, values: { ...base, 'junction-level': 600, quick_shutoff_valve_closed: false } });
    now += 1000;
    // the junction overflows; the quick shut-off closes, the discharge valve stays shut
    await dev.telemetry({ ts: now, seq: 2, values: { ...base, 'junction-level': 800, quick_shutoff_valve_closed: false } });
    now += 1500;
    await dev.telemetry({ ts: now, seq: 3, values: { ...base, 'junction-level': 800, quick_shutoff_valve_closed: true } });
    now += 6000;
    await app.tick();
    await app.settled();
    const alerts = await active('fixed-1');
    expect(alerts.map((a: any) => [a.rule, a.pointId]).sort()).toEqual([
      ['casting-melt-level-interlock', 'junction-level'],
      ['melt-level', 'junction-level'],
    ]);
    const failure = alerts.find((a: any) => a.rule === 'casting-melt-level-interlock');
    expect(failure).toMatchObject({ severity: 'critical', pointName: '流槽与模盘接口液位' });
    expect(failure.message).toContain('紧急排放阀打开 为 否');
    // each rule says what requires it
    const device = (await apiClient(app, 'token-operator').get(`/api/enterprises/${CAST}`)).json.devices.find((d: any) => d.id === 'fixed-1');
    expect(device.rules.find((r: any) => r.id === 'casting-melt-level-interlock').description).toBe('依据 / required by 工贸企业重大事故隐患判定标准 (应急管理部令第10号), 有色 (五)(六)');
    await dev.end();
  });

  it('a tilting furnace that tilts back and shuts off in time raises the level alarm but no interlock failure', async () => {
    const dev = await connectDevice(app, CAST, 'tilting-1', 'secret-tilting-1');
    const base = { casting_active: true, cooling_water_flow: 100, cooling_water_pressure: 0.4, 'launder-level': 600 };
    await dev.telemetry({ ts: now, seq: 1, values: { ...base, 'junction-level': 600, furnace_tilted_back: false, quick_shutoff_valve_closed: false } });
    now += 1000;
    await dev.telemetry({ ts: now, seq: 2, values: { ...base, 'junction-level': 800, furnace_tilted_back: false, quick_shutoff_valve_closed: false } });
    now += 2000;
    await dev.telemetry({ ts: now, seq: 3, values: { ...base, 'junction-level': 800, furnace_tilted_back: true, quick_shutoff_valve_closed: true } });
    now += 6000;
    await app.tick();
    await app.settled();
    expect((await active('tilting-1')).map((a: any) => [a.rule, a.pointId])).toEqual([['melt-level', 'junction-level']]);
    await dev.end();
  });

  it('refuses a casting device that says its furnace but lacks the feedback or the two level points, citing the clause', async () => {
    const { parseRegistry } = await import('../../services/registry/load.ts');
    const { stringify } = await import('yaml');
    const r = testRegistry();
    (r.enterprises.find((e) => e.id === CAST)!.devices as object[]).push({ id: 'fixed-2', secret: 'secret-fixed-2', templates: ['aluminum_casting'], furnace: 'fixed', points: [...common, { metric: 'melt_level' }] });
    let problems: string[] = [];
    try {
      parseRegistry(stringify(r));
    } catch (e) {
      problems = (e as { problems: string[] }).problems;
    }
    expect(problems.join('\n')).toMatch(/a fixed casting furnace needs the point emergency_discharge_open \(工贸企业重大事故隐患判定标准, 有色 \(三\)\(五\)\)/);
    expect(problems.join('\n')).toMatch(/a melt_level point with place: junction \(工贸企业重大事故隐患判定标准, 有色 \(四\)\)/);
  });
});
