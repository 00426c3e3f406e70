import { describe, expect, it } from 'vitest';
import { CAST, CHEM, DUST, testRegistry } from '../support/registry.ts';
import { startScenario, type ScenarioRun } from '../support/scenario-run.ts';

/**
 * Industry scenarios end to end: the simulators publish over real MQTT, the rules judge, the
 * alerts appear in the API. Plant time is virtual (the service and the simulators share the
 * clock), so a scenario's minute takes only as long as its work. Each runs on its own service.
 */
function registry() {
  const r = testRegistry();
  const gas1 = r.enterprises[0].devices[0] as Record<string, unknown>;
  gas1.reportIntervalS = 1; // offline after 3 s of silence
  const collector = r.enterprises[3].devices[0] as Record<string, unknown>;
  collector.rules = [{ id: 'filter-pressure-stuck', windowS: 4 }];
  return r;
}

async function withScenario(scenario: string, check: (s: ScenarioRun) => Promise<void>) {
  const s = await startScenario({ registry: registry(), scenario });
  try {
    await check(s);
  } finally {
    await s.stop();
  }
}

const alertsOf = async (api: ScenarioRun['api'], enterprise: string) => (await api.get(`/api/alerts?enterprise=${enterprise}&limit=1000`)).json.items as any[];

describe.concurrent('industry scenarios through MQTT', () => {
  it('casting: cooling water lost, the interlock acts in time: alarms, but no interlock failure', async () => {
    await withScenario('cooling-loss', async ({ api, run }) => {
      // the scenario and past the interlock deadline (condition + 1 s + 5 s)
      await run(20);
      const flow = (await alertsOf(api, CAST)).find((a) => a.rule === 'cooling-flow-low');
      expect(flow).toMatchObject({ severity: 'critical', deviceId: 'caster-1' });
      const rules = (await alertsOf(api, CAST)).map((a) => a.rule);
      expect(rules).toContain('cooling-pressure-low');
      expect(rules).not.toContain('casting-cooling-interlock');
    });
  });

  it('casting: cooling water lost and the valves never move: a critical interlock failure', async () => {
    await withScenario('cooling-loss-no-interlock', async ({ api, run }) => {
      await run(15);
      const failure = (await alertsOf(api, CAST)).find((a) => a.rule === 'casting-cooling-interlock');
      expect(failure).toMatchObject({ severity: 'critical', ruleKind: 'interlock', state: 'active', metric: 'quick_shutoff_valve_closed' });
      expect(failure.message).toContain('快速切断阀关闭 为 否');
    });
  });

  it('dust: a spark without the isolation valve closing is a critical interlock failure', async () => {
    await withScenario('spark-no-isolation', async ({ api, run }) => {
      await run(10);
      const failure = (await alertsOf(api, DUST)).find((a) => a.rule === 'spark-isolation-interlock');
      expect(failure?.severity).toBe('critical');
      expect((await alertsOf(api, DUST)).find((a) => a.rule === 'spark-detected')?.severity).toBe('critical');
    });
  });

  it('a device that stops reporting raises device-offline, which clears when it resumes', async () => {
    await withScenario('sensor-offline', async ({ api, run, time }) => {
      // gas-1 reports, then (from 1 s) is silent for 15 s, then resumes
      await run(1);
      expect((await api.get(`/api/enterprises/${CHEM}`)).json.devices.find((d: any) => d.id === 'gas-1').online).toBe(true);
      const heard = time.now();
      await run(10);
      const off = (await alertsOf(api, CHEM)).find((x) => x.rule === 'device-offline' && x.deviceId === 'gas-1' && x.state === 'active');
      expect(off).toMatchObject({ severity: 'major', metric: '_device' });
      const history = (await api.get(`/api/alerts/${off.id}`)).json.history;
      expect(history.some((h: any) => ['raised', 'reactivated'].includes(h.type) && Date.parse(h.at) >= heard)).toBe(true);
      await run(10);
      expect((await api.get(`/api/alerts/${off.id}`)).json.state).toBe('cleared');
    });
  });

  it('dust: a frozen pressure-difference sensor raises a stuck-value warning', async () => {
    await withScenario('stuck-sensor', async ({ api, run }) => {
      await run(15);
      const stuck = (await alertsOf(api, DUST)).find((a) => a.rule === 'filter-pressure-stuck');
      expect(stuck).toMatchObject({ severity: 'warning', ruleKind: 'stuck', value: 1234.5 });
    });
  });

  it('gas: above the second level with the shut-off valve never closing is an interlock failure', async () => {
    await withScenario('gas-leak-no-shutoff', async ({ api, run }) => {
      await run(15);
      const failure = (await alertsOf(api, CHEM)).find((a) => a.rule === 'gas-shutoff-interlock');
      expect(failure?.severity).toBe('critical');
    });
  });
});
