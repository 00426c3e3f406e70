import mqtt, { type MqttClient } from 'mqtt';
import type { Value } from '../rules/types.ts';
import { modelFor, type Model } from './models.ts';
import { scriptAt, type Scenario } from './scenarios.ts';

/**
 * Simulated devices: each a real MQTT client that logs in with its id and secret, says it is
 * online, sets `offline` as its last will, and publishes readings on its interval (every second
 * while a scenario drives it, as devices in alarm do).
 */
export interface SimDevice {
  enterpriseId: string;
  deviceId: string;
  secret: string;
  metrics: string[];
  reportIntervalS: number;
}

export interface FleetOptions {
  url: string;
  devices: SimDevice[];
  scenario?: Scenario;
  /** seconds after start before the scenario begins */
  scenarioDelayS?: number;
  qos?: 0 | 1;
  /** overrides every device's interval (seconds) */
  intervalS?: number;
  /** distinguishes this fleet's MQTT sessions from another fleet's for the same devices */
  clientPrefix?: string;
  /** send `seq` (the default); a second fleet for the same devices should not */
  seq?: boolean;
  seed?: number;
  log?: (msg: string) => void;
}

export interface FleetSummary {
  devices: number;
  connected: number;
  sent: number;
  acknowledged: number;
  rejected: number;
  rejectCodes: Record<string, number>;
}

class Sim {
  client?: MqttClient;
  seq = 0;
  timer?: NodeJS.Timeout;
  models: Map<string, Model>;
  scriptStart?: number;

  constructor(
    readonly d: SimDevice,
    readonly fleet: Fleet,
  ) {
    this.models = new Map(d.metrics.map((m) => [m, modelFor(m)]));
  }
}

export class Fleet {
  private readonly sims: Sim[];
  private readonly rand: () => number;
  readonly summary: FleetSummary;
  private scenarioTimer?: NodeJS.Timeout;

  constructor(private readonly opts: FleetOptions) {
    this.sims = opts.devices.map((d) => new Sim(d, this));
    this.rand = mulberry32(opts.seed ?? 42);
    this.summary = { devices: this.sims.length, connected: 0, sent: 0, acknowledged: 0, rejected: 0, rejectCodes: {} };
  }

  async start(): Promise<void> {
    await Promise.all(this.sims.map((s) => this.connect(s)));
    if (this.opts.scenario) {
      const sc = this.opts.scenario;
      const targets = this.sims.filter((s) => sc.needs.every((m) => s.d.metrics.includes(m))).slice(0, sc.devices ?? 1);
      if (targets.length === 0) this.opts.log?.(`scenario ${sc.name}: no device has ${sc.needs.join(', ')}`);
      this.scenarioTimer = setTimeout(() => {
        for (const t of targets) {
          this.opts.log?.(`scenario ${sc.name} on ${t.d.deviceId}: ${sc.description}`);
          t.scriptStart = Date.now();
          this.schedule(t, 0);
        }
      }, (this.opts.scenarioDelayS ?? 0) * 1000);
    }
  }

  private connect(s: Sim): Promise<void> {
    const { enterpriseId, deviceId, secret } = s.d;
    const base = `v1/${enterpriseId}/${deviceId}`;
    return new Promise((resolve) => {
      const client = mqtt.connect(this.opts.url, {
        clientId: `${this.opts.clientPrefix ?? 'sim'}-${deviceId}`,
        username: deviceId,
        password: secret,
        reconnectPeriod: 2000,
        connectTimeout: 10_000,
        will: { topic: `${base}/status`, payload: Buffer.from('offline'), qos: 1, retain: false },
      });
      s.client = client;
      let first = true;
      client.on('connect', () => {
        this.summary.connected++;
        client.subscribe(`${base}/reject`);
        client.publish(`${base}/status`, 'online', { qos: 1 });
        if (first) {
          first = false;
          this.schedule(s, this.rand() * this.intervalOf(s) * 1000);
          resolve();
        }
      });
      client.on('message', (_topic, payload) => {
        this.summary.rejected++;
        try {
          const code = (JSON.parse(payload.toString()) as { error: string }).error;
          this.summary.rejectCodes[code] = (this.summary.rejectCodes[code] ?? 0) + 1;
        } catch {
          /* not ours to judge */
        }
      });
      client.on('error', (err) => {
        this.opts.log?.(`${deviceId}: ${err.message}`);
        if (first) {
          first = false;
          resolve();
        }
      });
    });
  }

  private intervalOf(s: Sim): number {
    return s.scriptStart !== undefined ? 1 : (this.opts.intervalS ?? s.d.reportIntervalS);
  }

  private schedule(s: Sim, delayMs: number) {
    clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      this.publish(s);
      this.schedule(s, this.intervalOf(s) * 1000);
    }, delayMs);
  }

  private publish(s: Sim) {
    if (!s.client?.connected) return;
    const now = Date.now();
    const values: Record<string, Value> = {};
    for (const [m, model] of s.models) values[m] = model.next(now, this.rand);
    if (s.scriptStart !== undefined && this.opts.scenario) {
      const script = scriptAt(this.opts.scenario, (now - s.scriptStart) / 1000);
      if (script?.silent) return;
      if (script) Object.assign(values, Object.fromEntries(Object.entries(script.values).filter(([m]) => s.models.has(m))));
      else s.scriptStart = undefined;
    }
    const reading = this.opts.seq === false ? { ts: now, values } : { ts: now, seq: ++s.seq, values };
    const qos = this.opts.qos ?? 1;
    this.summary.sent++;
    s.client.publish(`v1/${s.d.enterpriseId}/${s.d.deviceId}/telemetry`, JSON.stringify(reading), { qos }, (err) => {
      if (!err && qos > 0) this.summary.acknowledged++;
    });
  }

  /** `goodbye`: each device says offline first, as a device switched off properly does. */
  async stop(goodbye = true): Promise<FleetSummary> {
    clearTimeout(this.scenarioTimer);
    await Promise.all(
      this.sims.map(async (s) => {
        clearTimeout(s.timer);
        if (!s.client) return;
        // a clean goodbye first, so the gateway does not wait for a keepalive to notice
        if (goodbye && s.client.connected) s.client.publish(`v1/${s.d.enterpriseId}/${s.d.deviceId}/status`, 'offline', { qos: 0 });
        await s.client.endAsync().catch(() => {});
      }),
    );
    return this.summary;
  }
}

/** A small seeded generator, so a demo or test run is the same every time. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
