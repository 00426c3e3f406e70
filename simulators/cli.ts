import { parseArgs } from 'node:util';
import { readRegistryFile, validateRegistry } from '../services/registry/load.ts';
import { Registry } from '../services/registry/registry.ts';
import { simDevicesFrom } from './devices-from-registry.ts';
import { Fleet } from './fleet.ts';
import { loadScenarios } from './scenario.ts';
import { runPanels, simPanelsFrom } from './panel-fleet.ts';

/** `npm run simulate -- [--scenario gas-leak[,smoke]] [--url mqtt://host:1883] …` */
const { values } = parseArgs({
  options: {
    // the service's own setting, as `npm start` reads it from the same shell
    url: { type: 'string', default: `mqtt://127.0.0.1:${process.env.MQTT_PORT ?? 1883}` },
    config: { type: 'string', default: process.env.CONFIG ?? 'config/example.yaml' },
    scenario: { type: 'string' },
    'scenario-delay': { type: 'string', default: '2' },
    devices: { type: 'string' },
    interval: { type: 'string' },
    rate: { type: 'string' },
    qos: { type: 'string', default: '1' },
    duration: { type: 'string' },
    seed: { type: 'string', default: '42' },
    list: { type: 'boolean' },
    // fire panels (GB/T 26875.3): the service's own setting, as for MQTT
    'panel-port': { type: 'string', default: process.env.FIRE_PANEL_PORT },
    'panel-demo': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

const scenarios = loadScenarios();
if (values.help || values.list) {
  console.log(`Usage: npm run simulate -- [options]
  --url URL             broker (default mqtt://127.0.0.1:$MQTT_PORT, else 1883)
  --config FILE         registry with the devices and their demo secrets (default config/example.yaml)
  --devices N           only the first N devices of the registry
  --interval S          every device reports every S seconds instead of its own interval
  --rate R              readings per second over the whole fleet (sets the interval)
  --qos 0|1             publish QoS (default 1)
  --scenario A[,B…]     run fault scenarios from simulators/scenarios/ (they compose)
  --scenario-delay S    seconds of normal operation first (default 2)
  --duration S          stop after S seconds and print the summary
  --seed N              the random seed (the same run every time)
  --panel-port P        the service's FIRE_PANEL_PORT: the registry's fire panels connect there
                        (GB/T 26875.3) and send heartbeats (default $FIRE_PANEL_PORT; none: no panels)
  --panel-demo          and after the scenario delay: a fire, a fault, a bad frame, the recoveries
Scenarios:
${[...scenarios.values()].map((s) => `  ${s.name.padEnd(26)} ${s.description}`).join('\n')}`);
  process.exit(0);
}

const chosen = (values.scenario ?? '').split(',').filter(Boolean);
const unknown = chosen.filter((n) => !scenarios.has(n));
if (unknown.length) {
  console.error(`unknown scenario ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${[...scenarios.keys()].join(', ')}`);
  process.exit(2);
}
const registry = new Registry(validateRegistry(await readRegistryFile(values.config), values.config));
let devices = simDevicesFrom(registry);
if (values.devices) devices = devices.slice(0, Number(values.devices));
const intervalS = values.rate ? devices.length / Number(values.rate) : values.interval ? Number(values.interval) : undefined;
const fleet = new Fleet({
  url: values.url,
  devices,
  scenarios: chosen.map((n) => scenarios.get(n)!),
  scenarioDelayS: Number(values['scenario-delay']),
  qos: values.qos === '0' ? 0 : 1,
  intervalS,
  seed: Number(values.seed),
  log: (m) => console.log(m),
  // sessions of its own, and no seq: the service's built-in plants may be publishing for the same
  // devices, and the two fleets must neither take over each other's sessions nor mix seq numbers
  clientPrefix: `sim-cli-${process.pid}`,
  seq: false,
});
const t0 = Date.now();
await fleet.start();
// nothing connected: not a gateway of this registry (wrong port, another broker, other secrets)
if (devices.length && fleet.summary.connected === 0) {
  console.error(`no device could log in at ${values.url}: is the service running there (MQTT_PORT), with the registry ${values.config}?`);
  await fleet.stop(false);
  process.exit(1);
}
console.log(`${fleet.summary.connected}/${devices.length} devices connected to ${values.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s${chosen.length ? `; scenario ${chosen.join(' + ')} in ${values['scenario-delay']} s` : ''}`);

const panelList = simPanelsFrom(registry);
const host = new URL(values.url).hostname;
const panels = values['panel-port'] && panelList.length ? await runPanels(panelList, { host, port: Number(values['panel-port']), demoAfterS: values['panel-demo'] ? Number(values['scenario-delay']) : undefined, log: (m) => console.log(m) }) : undefined;
if (panels) console.log(`${panels.connected}/${panelList.length} fire panels connected to ${host}:${values['panel-port']}`);

// once: `npm run simulate` hands the terminal's Ctrl-C on as a second SIGINT, and with a listener
// for one signal only that second one killed the run before it said its summary
let finishing = false;
const finish = async () => {
  if (finishing) return;
  finishing = true;
  console.log('stopping');
  panels?.stop();
  const s = await fleet.stop();
  console.log(`summary: ${JSON.stringify(s)}`);
  process.exit(0);
};
if (values.duration) setTimeout(finish, Number(values.duration) * 1000);
process.on('SIGINT', finish);
process.on('SIGTERM', finish);
