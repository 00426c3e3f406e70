import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startTestApp } from '../support/app.ts';
import { CHEM, MALL } from '../support/registry.ts';
import { waitFor } from '../support/wait.ts';
import { simulate } from '../support/simulate.ts';

/** `npm run simulate` as a user runs it: a separate process, real MQTT, a scenario that alarms. */
describe('simulators', () => {
  let app: Awaited<ReturnType<typeof startTestApp>>;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.stop());

  it('--scenario gas-leak raises a critical gas alert; normal devices raise nothing', async () => {
    const sim = simulate(app, ['--scenario', 'gas-leak', '--scenario-delay', '0', '--interval', '1']);
    const api = apiClient(app, 'token-operator');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}&severity=critical`)).json.items[0], 15_000, 'gas alert');
    expect(alert).toMatchObject({ metric: 'gas_lel', severity: 'critical' });
    // every device has reported (the caster last, with all its points), then the user stops it
    const lastValues = async (id: string) => (await api.get('/api/enterprises')).json.items.flatMap((e: any) => e.devices).find((d: any) => d.id === id).lastValues;
    await waitFor(async () => Object.keys(await lastValues('caster-1')).length === 6, 15_000, 'the caster reporting');
    expect(await sim.stop()).toBe(0);
    expect(sim.output()).toMatch(/summary: .*"rejected":0/);
    // the only other alerts are the devices saying goodbye when the simulator stops
    const all = (await api.get('/api/alerts')).json.items;
    expect(all.filter((a: any) => a.metric !== 'gas_lel' && a.rule !== 'device-offline')).toEqual([]);
    expect(Object.keys(await lastValues('caster-1')).sort()).toEqual(['casting_active', 'cooling_water_flow', 'cooling_water_pressure', 'emergency_discharge_open', 'melt_level', 'quick_shutoff_valve_closed']);
  });

  it('--scenario smoke reaches the mall and the fire brigade route', async () => {
    const sim = simulate(app, ['--scenario', 'smoke', '--scenario-delay', '0', '--interval', '1']);
    const api = apiClient(app, 'token-mall');
    const alert = await waitFor(async () => (await api.get(`/api/alerts?state=active`)).json.items.find((a: any) => a.metric === 'smoke_alarm'), 15_000, 'smoke alert');
    expect(alert).toMatchObject({ enterpriseId: MALL, metric: 'smoke_alarm', severity: 'critical', value: true });
    // Ctrl-C under `npm run simulate`: the terminal's SIGINT, then npm's; the run still ends with its summary
    sim.child.kill('SIGINT');
    await waitFor(() => /^stopping$/m.test(sim.output()), 10_000, 'the run stopping');
    sim.child.kill('SIGINT');
    expect(await sim.done).toBe(0);
    expect(sim.output().match(/^summary: /gm)).toHaveLength(1);
  });

  it('fails, saying where it looked, when no device can log in (nothing listens there)', async () => {
    const { freePort } = await import('../support/receivers.ts');
    const port = await freePort();
    const sim = simulate({ ...app, ports: { ...app.ports, mqtt: port } }, ['--devices', '2']);
    expect(await sim.done).toBe(1);
    expect(sim.output()).toContain(`no device could log in at mqtt://127.0.0.1:${port}`);
  });
});
