import { parseArgs } from 'node:util';
import { readRegistryFile, validateRegistry } from '../services/registry/load.ts';
import { Registry } from '../services/registry/registry.ts';
import { simDevicesFrom } from './devices-from-registry.ts';
import { Fleet } from './fleet.ts';
import { SCENARIOS } from './scenarios.ts';

/** `npm run simulate -- [--scenario gas-leak] [--url mqtt://host:1883] …` */
const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
    config: { type: 'string', default: process.env.CONFIG ?? 'config/example.yaml' },
    scenario: { type: 'string' },
    'scenario-delay': { type: 'string', default: '2' },
    devices: { type: 'string' },
    interval: { type: 'string' },
    qos: { type: 'string', default: '1' },
    duration: { type: 'string' },
    list: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help || values.list) {
  console.log(`Usage: npm run simulate -- [options]
  --url URL             broker (default mqtt://127.0.0.1:1883)
  --config FILE         registry with the devices and their demo secrets (default config/example.yaml)
  --scenario NAME       drive a fault: ${Object.keys(SCENARIOS).join(', ')}
  --scenario-delay S    seconds of normal operation first (default 2)
  --devices N           only the first N devices
  --interval S          report every S seconds instead of each device's interval
  --qos 0|1             publish QoS (default 1)
  --duration S          stop after S seconds and print the summary
Scenarios:
${Object.values(SCENARIOS).map((s) => `  ${s.name.padEnd(16)} ${s.description}`).join('\n')}`);
  process.exit(0);
}

const scenario = values.scenario ? SCENARIOS[values.scenario] : undefined;
if (values.scenario && !scenario) {
  console.error(`unknown scenario "${values.scenario}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}
const registry = new Registry(validateRegistry(await readRegistryFile(values.config), values.config));
let devices = simDevicesFrom(registry);
if (values.devices) devices = devices.slice(0, Number(values.devices));
const fleet = new Fleet({
  url: values.url,
  devices,
  scenario,
  scenarioDelayS: Number(values['scenario-delay']),
  qos: values.qos === '0' ? 0 : 1,
  intervalS: values.interval ? Number(values.interval) : undefined,
  log: (m) => console.log(m),
  // sessions of its own, and no seq: the service's built-in plants may be publishing for the same
  // devices, and the two fleets must neither take over each other's sessions nor mix seq numbers
  clientPrefix: `sim-cli-${process.pid}`,
  seq: false,
});
await fleet.start();
console.log(`${fleet.summary.connected}/${devices.length} devices connected to ${values.url}${scenario ? `; scenario ${scenario.name} in ${values['scenario-delay']} s` : ''}`);

const finish = async () => {
  const s = await fleet.stop();
  console.log(`summary: ${JSON.stringify(s)}`);
  process.exit(0);
};
if (values.duration) setTimeout(finish, Number(values.duration) * 1000);
process.once('SIGINT', finish);
process.once('SIGTERM', finish);
