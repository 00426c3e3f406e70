import { describe, expect, it } from 'vitest';
import { CHEM, testRegistry } from '../support/registry.ts';
import { startScenario, type ScenarioRun } from '../support/scenario-run.ts';

/**
 * Transport faults from the YAML scenarios, driven by the simulator fleet over real MQTT against
 * the whole service, on a virtual clock they share: what the gateway makes of each. One service
 * per scenario, side by side. (`npm run simulate` as its own process is in simulators.test.ts.)
 */
function registry() {
  const r = testRegistry();
  (r.enterprises[0].devices[0] as Record<string, unknown>).reportIntervalS = 2;
  return r;
}

/** Only the chemical plant's first detector: the scenarios pick the first device that fits. */
async function withScenario(scenario: string, check: (s: ScenarioRun) => Promise<void>) {
  const s = await startScenario({ registry: registry(), scenario, devices: (all) => all.slice(0, 1) });
  try {
    await check(s);
  } finally {
    await s.stop();
  }
}

describe.concurrent('simulated faults through MQTT', () => {
  it('outage with a buffered flush: readings measured while the link was down arrive later with their own timestamps, and alarm', async () => {
    await withScenario('outage-flush', async ({ api, run, fleet, time }) => {
      const started = time.now();
      await run(30);
      const s = fleet.summary;
      expect(s.buffered).toBeGreaterThanOrEqual(15);
      expect(s.flushed).toBe(s.buffered);
      const points = (await api.get(`/api/telemetry?device=gas-1&metric=gas_lel&from=${started}`)).json.points as { ts: string; value: number }[];
      // every second of the outage is there, stamped when it was measured, not when it arrived
      const during = points.filter((p) => p.value === 30);
      expect(during.length).toBeGreaterThanOrEqual(8);
      const gaps = during.slice(1).map((p, i) => Date.parse(p.ts) - Date.parse(during[i].ts));
      expect(Math.max(...gaps)).toBeLessThan(2500);
      const alert = (await api.get(`/api/alerts?enterprise=${CHEM}&state=all`)).json.items.find((a: any) => a.rule === 'gas-lel');
      expect(alert).toBeTruthy();
      expect(Date.parse(alert.raisedAt)).toBeLessThan(Date.parse(during.at(-1)!.ts));
      // the link really dropped: the last will made the device offline in between
      expect((await api.get(`/api/alerts?enterprise=${CHEM}&state=all`)).json.items.some((a: any) => a.rule === 'device-offline')).toBe(true);
    });
  });

  it('malformed payloads are refused with a reject code each, and the device goes on reporting', async () => {
    await withScenario('malformed-payloads', async ({ api, run, fleet }) => {
      await run(9);
      const s = fleet.summary;
      expect(s.malformed).toBe(8);
      expect(s.rejected).toBeGreaterThanOrEqual(8);
      expect(Object.keys(s.rejectCodes)).toEqual(expect.arrayContaining(['PAYLOAD_NOT_JSON', 'VALUE_INVALID', 'UNKNOWN_METRIC']));
      const metrics = (await api.get('/metrics')).text;
      expect(metrics).toMatch(/gateway_rejected_total\{code="PAYLOAD_NOT_JSON"\} [1-9]/);
      expect(s.acknowledged).toBeGreaterThan(5);
    });
  });

  it('wrong secrets are refused and counted, and the real device is not disturbed', async () => {
    await withScenario('wrong-credentials', async ({ api, run, fleet }) => {
      await run(6);
      const s = fleet.summary;
      expect(s.authRefused).toBe(3);
      expect((await api.get('/metrics')).text).toMatch(/gateway_auth_failures_total\{reason="device_secret"\} 3/);
      expect(s.acknowledged).toBeGreaterThan(3);
      expect(s.rejected).toBe(0);
    });
  });

  it('a dropped connection raises device-offline through the last will, cleared when the device is back', async () => {
    await withScenario('connection-lost', async ({ api, run }) => {
      // the link drops at 1 s for 20 s
      await run(5);
      const offline = (await api.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.rule === 'device-offline');
      expect(offline.deviceId).toBe('gas-1');
      await run(20);
      expect((await api.get(`/api/alerts/${offline.id}`)).json.state).toBe('cleared');
    });
  });

  it('a value flapping around its setpoint holds one alert open, marked flapping', async () => {
    await withScenario('gas-flapping', async ({ api, run }) => {
      await run(20);
      const alert = (await api.get(`/api/alerts?enterprise=${CHEM}&state=open`)).json.items.find((a: any) => a.rule === 'gas-lel' && a.flapping);
      expect((await api.get(`/api/alerts?enterprise=${CHEM}&state=all`)).json.items.filter((a: any) => a.rule === 'gas-lel')).toHaveLength(1);
      expect(alert.state).toBe('active');
    });
  });
});
