import { describe, expect, it } from 'vitest';
import { apiClient, startTestApp } from '../support/app.ts';
import { CAST, CHEM, DUST, testRegistry } from '../support/registry.ts';
import { simulate } from '../support/simulate.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Industry scenarios end to end: the simulators publish over real MQTT, the rules judge, the
 * alerts appear in the API. Each scenario runs on its own service instance, side by side.
 */
function registry() {
  const r = testRegistry();
  const gas1 = r.enterprises[0].devices[0] as Record<string, unknown>;
  gas1.reportIntervalS = 1; // offline after 3 s of silence
  const collector = r.enterprises[3].devices[0] as Record<string, unknown>;
  collector.rules = [{ id: 'filter-pressure-stuck', windowS: 4 }];
  return r;
}

async function withScenario(scenario: string, seconds: number, check: (api: ReturnType<typeof apiClient>) => Promise<void>) {
  const app = await startTestApp({ registry: registry() });
  const sim = simulate(app, ['--scenario', scenario, '--scenario-delay', '1', '--interval', '1', '--duration', String(seconds)]);
  try {
    await check(apiClient(app, 'token-operator'));
  } finally {
    await sim.stop();
    await app.stop();
  }
}

const alertsOf = async (api: ReturnType<typeof apiClient>, enterprise: string) => (await api.get(`/api/alerts?enterprise=${enterprise}`)).json.items as any[];

describe.concurrent('industry scenarios through MQTT', () => {
  it('casting: cooling water lost, the interlock acts in time: alarms, but no interlock failure', async () => {
    await withScenario('cooling-loss', 40, async (api) => {
      const flow = await waitFor(async () => (await alertsOf(api, CAST)).find((a) => a.rule === 'cooling-flow-low'), 30_000, 'cooling flow alarm');
      expect(flow).toMatchObject({ severity: 'critical', deviceId: 'caster-1' });
      // past the interlock deadline (condition + 1 s + 5 s) with margin
      await new Promise((r) => setTimeout(r, 9000));
      const rules = (await alertsOf(api, CAST)).map((a) => a.rule);
      expect(rules).toContain('cooling-pressure-low');
      expect(rules).not.toContain('casting-cooling-interlock');
    });
  }, 75_000);

  it('casting: cooling water lost and the valves never move: a critical interlock failure', async () => {
    await withScenario('cooling-loss-no-interlock', 40, async (api) => {
      const failure = await waitFor(async () => (await alertsOf(api, CAST)).find((a) => a.rule === 'casting-cooling-interlock'), 30_000, 'interlock failure');
      expect(failure).toMatchObject({ severity: 'critical', ruleKind: 'interlock', state: 'active', metric: 'quick_shutoff_valve_closed' });
      expect(failure.message).toMatch(/quick_shutoff_valve_closed=false/);
    });
  }, 75_000);

  it('dust: a spark without the isolation valve closing is a critical interlock failure', async () => {
    await withScenario('spark-no-isolation', 40, async (api) => {
      const failure = await waitFor(async () => (await alertsOf(api, DUST)).find((a) => a.rule === 'spark-isolation-interlock'), 30_000, 'spark interlock failure');
      expect(failure.severity).toBe('critical');
      expect((await alertsOf(api, DUST)).find((a) => a.rule === 'spark-detected')?.severity).toBe('critical');
    });
  }, 75_000);

  it('a device that stops reporting raises device-offline, which clears when it resumes', async () => {
    await withScenario('sensor-offline', 40, async (api) => {
      // a device never heard is offline 3 intervals after the start too: wait until gas-1 reports
      await waitFor(async () => (await api.get(`/api/enterprises/${CHEM}`)).json.devices.find((d: any) => d.id === 'gas-1').online, 25_000, 'gas-1 online');
      const heard = Date.now();
      const off = await waitFor(async () => {
        const a = (await alertsOf(api, CHEM)).find((x) => x.rule === 'device-offline' && x.deviceId === 'gas-1' && x.state === 'active');
        if (!a) return null;
        const history = (await api.get(`/api/alerts/${a.id}`)).json.history;
        return history.some((h: any) => ['raised', 'reactivated'].includes(h.type) && Date.parse(h.at) >= heard) ? a : null;
      }, 30_000, 'offline alert after the device went quiet');
      expect(off).toMatchObject({ severity: 'major', metric: '_device' });
      await waitFor(async () => (await api.get(`/api/alerts/${off.id}`)).json.state === 'cleared', 30_000, 'offline cleared');
    });
  }, 75_000);

  it('dust: a frozen pressure-difference sensor raises a stuck-value warning', async () => {
    await withScenario('stuck-sensor', 40, async (api) => {
      const stuck = await waitFor(async () => (await alertsOf(api, DUST)).find((a) => a.rule === 'filter-pressure-stuck'), 30_000, 'stuck alert');
      expect(stuck).toMatchObject({ severity: 'warning', ruleKind: 'stuck', value: 1234.5 });
    });
  }, 75_000);

  it('gas: above the second level with the shut-off valve never closing is an interlock failure', async () => {
    await withScenario('gas-leak-no-shutoff', 40, async (api) => {
      const failure = await waitFor(async () => (await alertsOf(api, CHEM)).find((a) => a.rule === 'gas-shutoff-interlock'), 30_000, 'gas interlock failure');
      expect(failure.severity).toBe('critical');
    });
  }, 75_000);
});
