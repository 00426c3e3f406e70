import mqtt, { type MqttClient } from 'mqtt';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { startApp, type App, type AppOptions } from '../../services/app.ts';
import { settingsSchema } from '../../services/settings.ts';
import { testRegistry } from './registry.ts';

export const PIPELINE_BUNDLE = fileURLToPath(new URL('../../dist/pipeline-thread.mjs', import.meta.url));
/** the registry file's check thread, as global-setup built it */
export const REGISTRY_BUNDLE = fileURLToPath(new URL('../../dist/registry-thread.mjs', import.meta.url));

/** Options that run the reading pipeline on its own thread, as `npm start` does. */
export const THREADED = { pipeline: { mode: 'thread' } } as const;

/** The whole service on free ports and a fresh DATA_DIR, as `npm start` would run it. */
export interface TestAppOptions extends AppOptions {
  dataDir?: string;
  registry?: object;
  smtpPort?: number;
  /** more settings (e.g. MQTTS_PORT, TLS_CERT, TLS_KEY) */
  settings?: Record<string, string | number>;
}

export async function tempDir(prefix = 'rm-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function startTestApp(o: TestAppOptions = {}): Promise<App & { dataDir: string; configPath: string }> {
  const dataDir = o.dataDir ?? (await tempDir());
  const configPath = join(dataDir, 'registry.yaml');
  await writeFile(configPath, stringify(o.registry ?? testRegistry()));
  const settings = settingsSchema.parse({
    CONFIG: configPath,
    MQTT_PORT: 0,
    MQTT_WS_PORT: 0,
    HTTP_PORT: 0,
    HOST: '127.0.0.1',
    DATA_DIR: dataDir,
    SIMULATORS: 'off',
    LOG_LEVEL: 'silent',
    ...(o.smtpPort ? { SMTP_URL: `smtp://127.0.0.1:${o.smtpPort}` } : {}),
    ...o.settings,
  });
  // time-driven rules (offline, an interlock's deadline) run when a test calls `tick()`: on a
  // machine busy with other tests, real seconds pass between two steps and would raise alerts
  // the test is not about
  // the pipeline's thread runs the bundle global-setup built (as `npm start` does): loading its
  // TypeScript through tsx for every app would cost a second each.
  // Where the pipeline runs: on this thread unless a test asks for its own thread (`THREADED`,
  // or PIPELINE_THREAD in its settings). A thread costs about 0.6 s of CPU to start (DuckDB
  // loaded again in a new isolate), a third of the suite's CPU over its hundred apps; the two
  // modes run the same core and exchange the same copied messages (services/pipeline/client.ts).
  // The files about readings, durability and hostile payloads, and every test that runs the
  // service as a process, run it on its thread.
  const mode = o.pipeline?.mode ?? (o.settings?.PIPELINE_THREAD === undefined ? 'inline' : undefined);
  const app = await startApp(settings, { outbox: { baseDelayMs: 200, maxDelayMs: 1000, pollMs: 100 }, tickMs: 0, registryThread: REGISTRY_BUNDLE, ...o, pipeline: { entry: PIPELINE_BUNDLE, ...(mode ? { mode } : {}), ...o.pipeline } });
  return Object.assign(app, { dataDir, configPath });
}

/** The alert record's commits, each going through `wrap` (held, or failing as the test says). */
const wrapRecordCommits = (running: App, wrap: (save: () => Promise<void>) => Promise<void>) => {
  const store = (running.book as unknown as { store: { saveMany: (...args: unknown[]) => Promise<void> } }).store;
  const save = store.saveMany.bind(store);
  store.saveMany = (...args) => wrap(() => save(...args));
};

/** The alert record's commits held until `release()` is called (a commit under way, as long as a test needs). */
export const holdRecordCommits = (running: App) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  wrapRecordCommits(running, async (save) => (await gate, save()));
  return release;
};

/** The alert record's disk full until `full` is set false: every commit fails, and is counted. */
export const recordDiskFull = (running: App, where = '') => {
  const disk = { full: true, refused: 0 };
  wrapRecordCommits(running, async (save) => {
    if (!disk.full) return save();
    disk.refused++;
    throw new Error(`IO Error: No space left on device${where}`);
  });
  return disk;
};

/** Call the HTTP API as a given token. */
export function apiClient(app: { ports: { http: number } }, token?: string) {
  const base = `http://127.0.0.1:${app.ports.http}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(base + path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, bytes, headers: res.headers };
  };
  return { base, get: (p: string) => call('GET', p), post: (p: string, b?: unknown) => call('POST', p, b) };
}

/** A real MQTT client logged in as a device, collecting what the gateway sends back on `reject`. */
export interface DeviceClient {
  client: MqttClient;
  rejects: { error: string; path: string | null; detail: unknown; topic: string }[];
  telemetry(reading: unknown, qos?: 0 | 1): Promise<void>;
  end(): Promise<void>;
}

export async function connectDevice(app: { ports: { mqtt: number } }, enterpriseId: string, deviceId: string, secret: string): Promise<DeviceClient> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${app.ports.mqtt}`, { username: deviceId, password: secret, clientId: `test-${deviceId}-${Math.random()}`, reconnectPeriod: 0 });
  const rejects: DeviceClient['rejects'] = [];
  client.on('message', (topic, payload) => {
    if (topic.endsWith('/reject')) rejects.push(JSON.parse(payload.toString()));
  });
  await client.subscribeAsync(`v1/${enterpriseId}/${deviceId}/reject`, { qos: 1 });
  return {
    client,
    rejects,
    telemetry: async (reading, qos = 1) => {
      await client.publishAsync(`v1/${enterpriseId}/${deviceId}/telemetry`, typeof reading === 'string' || Buffer.isBuffer(reading) ? reading : JSON.stringify(reading), { qos });
    },
    end: () => client.endAsync(),
  };
}

/** Follow the SSE stream, collecting events. */
export async function followStream(app: { ports: { http: number } }, token: string) {
  const events: { event: string; data: any }[] = [];
  const ctrl = new AbortController();
  const res = await fetch(`http://127.0.0.1:${app.ports.http}/api/alerts/stream`, { headers: { authorization: `Bearer ${token}` }, signal: ctrl.signal });
  if (res.status !== 200) throw new Error(`stream answered ${res.status}`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += decoder.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return { events, close: () => ctrl.abort() };
}
