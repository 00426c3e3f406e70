import { setFlagsFromString } from 'node:v8';
import type { Fleet } from '../simulators/fleet.ts';
import type { runPanels } from '../simulators/panel-fleet.ts';
import pino from 'pino';
import { startApp, type App } from './app.ts';
import { dropEarlyThread } from './pipeline/early-thread.ts';
import { RegistryError } from './registry/load.ts';
import { ClusterSetupError } from './cluster/partition-table.ts';
import { SettingsError, helpText, readSettings, type Settings } from './settings.ts';
import { StartError, explainLock } from './start-error.ts';

/**
 * Under a load the store cannot keep up with, V8 let each thread's old generation grow up to four
 * times what was live between collections: readings held for their commit are promoted and die
 * there. At most double keeps the peak nearer what is live (`npm run bench:overload`, 75k/s asked:
 * RSS peak 1114 → 877 MB, as many readings acknowledged). Tighter (half) saved little more and
 * collected often enough to slow the alarm path (`bench:alarm-path` at 12k/s, webhook p99 1047–1227
 * ms against 590–1007 without the flag and 809–881 with it). Flags given to node win.
 */
if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString('--heap-growing-percent=100');

/** `npm start`: settings from the environment and flags, then the whole service. */
async function main() {
  let settings;
  try {
    settings = readSettings(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof SettingsError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`${(e as Error).message}\n\n${helpText()}`);
      process.exit(2);
    }
    throw e;
  }
  if (settings === 'help') {
    console.log(helpText());
    return;
  }
  const log = pino({ level: settings.LOG_LEVEL });
  if (settings.ROLE !== 'all') return role(settings, log);
  let app;
  try {
    app = await startApp(settings, { logger: log });
  } catch (e) {
    if (e instanceof RegistryError || e instanceof StartError) {
      console.error(e.message);
      process.exit(2);
    }
    const locked = explainLock(e, settings.DATA_DIR);
    if (locked) {
      console.error(locked);
      process.exit(2);
    }
    exitOnBusyPort(e, settings);
    throw e;
  }
  // the pipeline's early thread, if the service ran its pipeline on this one (PIPELINE_THREAD=off)
  dropEarlyThread();
  // the built-in simulated plants, for trying the service out: devices like any other, over MQTT
  let fleet: Fleet | undefined;
  let panels: Awaited<ReturnType<typeof runPanels>> | undefined;
  const shutdown = (signal: string) => {
    console.log(`${signal}: stopping`);
    // the plants are not switched off, the service is: they do not say goodbye, and the service
    // stops first, so that their links ending (some still mid-connect, whose last will the broker
    // publishes) raise no offline alarm; a stop as the plants connected raised one per plant
    const stopped = app.stop();
    panels?.stop();
    Promise.all([stopped, fleet?.stop(false)]).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  // from here on: a signal while the plants start still stops the service in order
  stopOnSignal(shutdown);
  if (settings.SIMULATORS === 'on') {
    // the simulators (and mqtt.js, their client) load only when they run
    const [{ Fleet }, { simDevicesFrom }, { runPanels, simPanelsFrom }] = await Promise.all([import('../simulators/fleet.ts'), import('../simulators/devices-from-registry.ts'), import('../simulators/panel-fleet.ts')]);
    fleet = new Fleet({ url: `mqtt://127.0.0.1:${app.ports.mqtt}`, devices: simDevicesFrom(app.registry()), log: (m) => log.info({ part: 'simulators' }, m) });
    yieldToOtherConnections(app, fleet, log);
    await fleet.start();
    // the registry's fire panels, when the GB/T 26875.3 listener is on
    if (app.ports.firePanel !== undefined) panels = await runPanels(simPanelsFrom(app.registry()), { host: '127.0.0.1', port: app.ports.firePanel, log: (m) => log.info({ part: 'simulators' }, m) });
  }
  console.log(
    `\n  Risk monitor running.\n  HTTP  http://localhost:${app.ports.http}/   (API under /api, metrics at /metrics)\n  MQTT  mqtt://localhost:${app.ports.mqtt}   WebSocket ws://localhost:${app.ports.ws}${app.ports.firePanel !== undefined ? `\n  Fire panels (GB/T 26875.3)  tcp://localhost:${app.ports.firePanel}` : ''}\n  Try:  curl -H 'Authorization: Bearer <an API token of the registry>' http://localhost:${app.ports.http}/api/enterprises\n`,
  );
}

/** A port another program holds: say which setting to change, not a stack trace. */
function exitOnBusyPort(e: unknown, settings: Settings) {
  const err = e as NodeJS.ErrnoException & { port?: number };
  if (err?.code !== 'EADDRINUSE') return;
  const used = [
    ['MQTT_PORT', settings.MQTT_PORT],
    ['MQTT_WS_PORT', settings.MQTT_WS_PORT],
    ['HTTP_PORT', settings.HTTP_PORT],
    ['MQTTS_PORT', settings.MQTTS_PORT],
    ['FIRE_PANEL_PORT', settings.FIRE_PANEL_PORT],
  ].find(([, p]) => p === err.port);
  console.error(`port ${err.port ?? '?'} is already in use${used ? ` (${used[0]})` : ''}: stop the program that holds it, or set ${used ? used[0] : 'MQTT_PORT / HTTP_PORT'} to a free port`);
  process.exit(2);
}

/** A cluster role (ROLE=edge | worker | api): one part of the service, over NATS and PostgreSQL. */
async function role(settings: Settings, log: pino.Logger) {
  let node: { stop(): Promise<void> };
  try {
    node =
      settings.ROLE === 'edge'
        ? await (await import('./cluster/edge.ts')).startEdge(settings, { logger: log })
        : settings.ROLE === 'worker'
          ? await (await import('./cluster/worker.ts')).startWorker(settings, { logger: log })
          : await (await import('./cluster/api.ts')).startApiNode(settings, { logger: log });
  } catch (e) {
    if (e instanceof RegistryError || e instanceof StartError || e instanceof ClusterSetupError) {
      console.error(e.message);
      process.exit(2);
    }
    exitOnBusyPort(e, settings);
    throw e;
  }
  dropEarlyThread();
  const shutdown = (signal: string) => {
    log.info({ signal, role: settings.ROLE }, 'stopping');
    node.stop().then(
      () => process.exit(0),
      (err: unknown) => (console.error(err), process.exit(1)),
    );
  };
  stopOnSignal(shutdown);
}

/**
 * Stop once, on the first SIGINT or SIGTERM. `npm start` hands the terminal's Ctrl-C on as a
 * second SIGINT: with a listener for one signal only, that second one met node's default and
 * killed the service before it had stopped in order (input first, then what was accepted written
 * and told). Later signals are let be; `kill -9` still ends it.
 */
function stopOnSignal(stop: (signal: NodeJS.Signals) => void) {
  let stopping = false;
  const once = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop(signal);
  };
  process.on('SIGINT', once);
  process.on('SIGTERM', once);
}

/**
 * A device that another program also reports for (a scenario from `npm run simulate`) is left to
 * it: the built-in plant pauses while any other connection of that device is open.
 */
function yieldToOtherConnections(app: App, fleet: Fleet, log: { info(o: object, m: string): void }) {
  const others = new Map<string, number>();
  // client ids live in their owner's namespace: device:<id>/<the client's own id>
  const external = (id: string) => {
    const m = /^device:([^/]+)\/(.*)$/.exec(id);
    return m && m[2] !== `sim-${m[1]}` ? m[1] : null;
  };
  const joined = (c: { id: string }) => {
    const d = external(c.id);
    if (!d) return;
    others.set(d, (others.get(d) ?? 0) + 1);
    fleet.yieldDevice(d, true);
    log.info({ part: 'simulators', device: d }, `built-in plant ${d} pauses: another connection reports for it`);
  };
  app.gateway.broker.on('client', joined);
  // the broker listened before the plants were set up: connections already there count too
  for (const c of Object.values((app.gateway.broker as unknown as { clients: Record<string, { id: string }> }).clients)) joined(c);
  app.gateway.broker.on('clientDisconnect', (c) => {
    const d = external(c.id);
    if (!d) return;
    const left = (others.get(d) ?? 1) - 1;
    if (left > 0) return void others.set(d, left);
    others.delete(d);
    fleet.yieldDevice(d, false);
    log.info({ part: 'simulators', device: d }, `built-in plant ${d} resumes`);
  });
}

void main();
