import { describe, expect, it } from 'vitest';
import { apiClient, startTestApp } from '../support/app.ts';
import { CHEM, testRegistry } from '../support/registry.ts';
import { simulate } from '../support/simulate.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Transport faults from the YAML scenarios, driven by `npm run simulate` in its own process
 * against the whole service: what the gateway makes of each. One service per scenario, side by side.
 */
function registry() {
  const r = testRegistry();
  (r.enterprises[0].devices[0] as Record<string, unknown>).reportIntervalS = 2;
  return r;
}

async function withScenario(scenario: string, seconds: number, check: (api: ReturnType<typeof apiClient>, sim: ReturnType<typeof simulate>) => Promise<void>) {
  const app = await startTestApp({ registry: registry() });
  // only the chemical plant's first detector: the scenarios pick the first device that fits
  const sim = simulate(app, ['--scenario', scenario, '--scenario-delay', '1', '--devices', '1', '--interval', '1', '--duration', String(seconds)]);
  try {
    await check(apiClient(app, 'token-operator'), sim);
  } finally {
    await sim.stop();
    await app.stop();
  }
}

const summaryOf = (out: string) => JSON.parse(/summary: (.*)/.exec(out)![1]) as Record<string, any>;

describe.concurrent('simulated faults through MQTT', () => {
  it('outage with a buffered flush: readings measured while the link was down arrive later with their own timestamps, and alarm', async () => {
    await withScenario('outage-flush', 30, async (api, sim) => {
      const started = Date.now();
      await sim.done;
      const s = summaryOf(sim.output());
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
  }, 60_000);

  it('malformed payloads are refused with a reject code each, and the device goes on reporting', async () => {
    await withScenario('malformed-payloads', 9, async (api, sim) => {
      await sim.done;
      const s = summaryOf(sim.output());
      expect(s.malformed).toBe(8);
      expect(s.rejected).toBeGreaterThanOrEqual(8);
      expect(Object.keys(s.rejectCodes)).toEqual(expect.arrayContaining(['PAYLOAD_NOT_JSON', 'VALUE_INVALID', 'UNKNOWN_METRIC']));
      const metrics = (await api.get('/metrics')).text;
      expect(metrics).toMatch(/gateway_rejected_total\{code="PAYLOAD_NOT_JSON"\} [1-9]/);
      expect(s.acknowledged).toBeGreaterThan(5);
    });
  }, 60_000);

  it('wrong secrets are refused and counted, and the real device is not disturbed', async () => {
    await withScenario('wrong-credentials', 6, async (api, sim) => {
      await sim.done;
      const s = summaryOf(sim.output());
      expect(s.authRefused).toBe(3);
      expect((await api.get('/metrics')).text).toMatch(/gateway_auth_failures_total\{reason="device_secret"\} 3/);
      expect(s.acknowledged).toBeGreaterThan(3);
      expect(s.rejected).toBe(0);
    });
  }, 60_000);

  it('a dropped connection raises device-offline through the last will, cleared when the device is back', async () => {
    await withScenario('connection-lost', 28, async (api) => {
      const offline = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}&state=active`)).json.items.find((a: any) => a.rule === 'device-offline'), 15_000, 'offline alert');
      expect(offline.deviceId).toBe('gas-1');
      await waitFor(async () => (await api.get(`/api/alerts/${offline.id}`)).json.state === 'cleared', 25_000, 'cleared on return');
    });
  }, 60_000);

  it('a value flapping around its setpoint holds one alert open, marked flapping', async () => {
    await withScenario('gas-flapping', 20, async (api) => {
      const alert = await waitFor(async () => (await api.get(`/api/alerts?enterprise=${CHEM}&state=open`)).json.items.find((a: any) => a.rule === 'gas-lel' && a.flapping), 20_000, 'flapping alert');
      expect((await api.get(`/api/alerts?enterprise=${CHEM}&state=all`)).json.items.filter((a: any) => a.rule === 'gas-lel')).toHaveLength(1);
      expect(alert.state).toBe('active');
    });
  }, 60_000);
});
