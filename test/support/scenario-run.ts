import { Fleet, type FleetOptions } from '../../simulators/fleet.ts';
import { simDevicesFrom } from '../../simulators/devices-from-registry.ts';
import { loadScenarios } from '../../simulators/scenario.ts';
import { apiClient, startTestApp } from './app.ts';
import { VirtualTime } from './virtual-time.ts';

const SCENARIOS = loadScenarios();

/**
 * A scenario from simulators/scenarios run against the whole service over real MQTT, on a
 * virtual clock both share: `run(s)` moves plant time on by `s` seconds, and between every two
 * readings the service has judged, recorded and notified everything it was sent.
 */
export async function startScenario(o: { registry: object; scenario: string; devices?: (d: ReturnType<typeof simDevicesFrom>) => ReturnType<typeof simDevicesFrom>; fleet?: Partial<FleetOptions> }) {
  const scenario = SCENARIOS.get(o.scenario);
  if (!scenario) throw new Error(`no scenario ${o.scenario}`);
  const time = new VirtualTime(Date.now());
  const app = await startTestApp({ registry: o.registry, clock: time.now, tickMs: 0 });
  const all = simDevicesFrom(app.registry());
  const fleet = new Fleet({ url: `mqtt://127.0.0.1:${app.ports.mqtt}`, devices: o.devices ? o.devices(all) : all, scenarios: [scenario], scenarioDelayS: 1, intervalS: 1, time, ...o.fleet });
  await fleet.start();
  const settle = async () => {
    await fleet.settled();
    await app.tick();
    await app.settled();
  };
  return {
    app,
    fleet,
    time,
    api: apiClient(app, 'token-operator'),
    run: (seconds: number) => time.advance(seconds * 1000, settle),
    stop: async () => {
      await fleet.stop();
      await app.stop();
    },
  };
}

export type ScenarioRun = Awaited<ReturnType<typeof startScenario>>;
