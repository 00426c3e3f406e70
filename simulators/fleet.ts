import mqtt, { type MqttClient } from 'mqtt';
import type { Value } from '../domain/types.ts';
import { createPlant, type Plant, type PlantOptions } from './plant.ts';
import { effectAt, type Scenario } from './scenario.ts';

/**
 * Simulated devices: each a real MQTT client that logs in with its id and secret, says it is
 * online, sets `offline` as its last will, and publishes readings from its plant model on its
 * interval, every second while in alarm or while a scenario drives it. Scenarios add faults:
 * values, silence, dropped connections, outages with a buffered flush, broken payloads, wrong
 * logins. One process drives thousands of devices: one client and one timer each.
 */
export interface SimDevice {
  enterpriseId: string;
  deviceId: string;
  secret: string;
  metrics: string[];
  /** points by id when the device has several of one metric (each gets its metric's value) */
  points?: { id: string; metric: string }[];
  reportIntervalS: number;
}

export interface FleetOptions {
  url: string;
  devices: SimDevice[];
  /** scenarios to run; each picks its own devices */
  scenarios?: Scenario[];
  /** seconds after start before the scenarios begin */
  scenarioDelayS?: number;
  qos?: 0 | 1;
  /** overrides every device's interval (seconds) */
  intervalS?: number;
  /** distinguishes this fleet's MQTT sessions from another fleet's for the same devices */
  clientPrefix?: string;
  /** send `seq` (the default); a second fleet for the same devices should not */
  seq?: boolean;
  seed?: number;
  plant?: PlantOptions;
  log?: (msg: string) => void;
  /** the clock and timers the fleet runs on: real ones by default, a virtual one in tests */
  time?: FleetTime;
}

export interface FleetTime {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const REAL_TIME: FleetTime = { now: () => Date.now(), setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

export interface FleetSummary {
  devices: number;
  connected: number;
  sent: number;
  acknowledged: number;
  rejected: number;
  rejectCodes: Record<string, number>;
  /** readings kept during outages, and sent afterwards in one message each */
  buffered: number;
  flushed: number;
  malformed: number;
  /** logins with a wrong secret that the gateway refused */
  authRefused: number;
}

interface Run {
  scenario: Scenario;
  start: number;
  prevS: number;
}

class Sim {
  client?: MqttClient;
  seq = 0;
  timer?: unknown;
  plant: Plant;
  runs: Run[] = [];
  last: Record<string, Value> = {};
  buffer: { ts: number; seq?: number; values: Record<string, Value> }[] = [];
  down = false;
  inAlarm = false;

  constructor(
    readonly d: SimDevice,
    rand: () => number,
    plant?: PlantOptions,
  ) {
    this.plant = createPlant(d.metrics, rand, plant);
  }

  get base() {
    return `v1/${this.d.enterpriseId}/${this.d.deviceId}`;
  }
}

const MALFORMED = ['{"ts": 1763791200000, "values": {', '{"values": {"gas_lel": "high"}}', '{"values": {"no_such_point": 1}}', '{"ts": "yesterday", "values": {}}'];

export class Fleet {
  private readonly sims: Sim[];
  private readonly rand: () => number;
  readonly summary: FleetSummary;
  private scenarioTimer?: unknown;
  private stopped = false;
  private readonly time: FleetTime;
  /** publishes and logins not yet answered, for `settled()` */
  private pending = 0;
  /** devices another program reports for now (a scenario run): their plants keep quiet */
  private readonly yielded = new Set<string>();

  constructor(private readonly opts: FleetOptions) {
    this.time = opts.time ?? REAL_TIME;
    this.rand = mulberry32(opts.seed ?? 42);
    this.sims = opts.devices.map((d) => new Sim(d, this.rand, opts.plant));
    this.summary = { devices: this.sims.length, connected: 0, sent: 0, acknowledged: 0, rejected: 0, rejectCodes: {}, buffered: 0, flushed: 0, malformed: 0, authRefused: 0 };
  }

  async start(): Promise<void> {
    // connect in waves: thousands of simultaneous handshakes would only queue at the broker
    for (let i = 0; i < this.sims.length; i += 500) await Promise.all(this.sims.slice(i, i + 500).map((s) => this.connect(s)));
    const scenarios = this.opts.scenarios ?? [];
    if (!scenarios.length) return;
    this.scenarioTimer = this.time.setTimeout(() => {
      for (const sc of scenarios) {
        const targets = this.sims.filter((s) => sc.needs.every((m) => s.d.metrics.includes(m))).slice(0, sc.devices);
        if (!targets.length) this.opts.log?.(`scenario ${sc.name}: no device has ${sc.needs.join(', ')}`);
        for (const t of targets) {
          this.opts.log?.(`scenario ${sc.name} on ${t.d.deviceId}: ${sc.description}`);
          t.runs.push({ scenario: sc, start: this.time.now(), prevS: -1 });
          this.schedule(t, 0);
        }
      }
    }, (this.opts.scenarioDelayS ?? 0) * 1000);
  }

  private connect(s: Sim): Promise<void> {
    return new Promise((resolve) => {
      const client = mqtt.connect(this.opts.url, {
        clientId: `${this.opts.clientPrefix ?? 'sim'}-${s.d.deviceId}`,
        username: s.d.deviceId,
        password: s.d.secret,
        reconnectPeriod: 2000,
        connectTimeout: 10_000,
        will: { topic: `${s.base}/status`, payload: Buffer.from('offline'), qos: 1, retain: false },
      });
      s.client = client;
      let first = true;
      client.on('connect', () => {
        if (first) this.summary.connected++;
        client.subscribe(`${s.base}/reject`);
        this.publish(s, `${s.base}/status`, 'online', 1);
        if (s.buffer.length) this.flush(s);
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
        this.opts.log?.(`${s.d.deviceId}: ${err.message}`);
        if (first) {
          first = false;
          resolve();
        }
      });
    });
  }

  private intervalOf(s: Sim): number {
    if (s.runs.length) return Math.min(...s.runs.map((r) => r.scenario.intervalS));
    // a device in alarm reports every second, as real detectors do
    if (s.inAlarm) return 1;
    return this.opts.intervalS ?? s.d.reportIntervalS;
  }

  /**
   * Every message sent so far answered, every login tried, and every device that should be
   * connected connected: on a virtual clock, the moment to let time move on.
   */
  async settled(): Promise<void> {
    const quiet = () => this.pending === 0 && this.sims.every((s) => s.down || !s.client || s.client.connected);
    while (!quiet()) await new Promise((r) => setTimeout(r, 2));
  }

  /** Publish and count it pending until answered (QoS 0: until written). */
  private publish(s: Sim, topic: string, payload: string, qos: 0 | 1, answered?: (ok: boolean) => void) {
    this.pending++;
    s.client!.publish(topic, payload, { qos }, (err) => {
      this.pending--;
      answered?.(!err);
    });
  }

  private schedule(s: Sim, delayMs: number) {
    this.time.clearTimeout(s.timer);
    if (this.stopped) return;
    s.timer = this.time.setTimeout(() => {
      this.tick(s);
      this.schedule(s, this.intervalOf(s) * 1000);
    }, delayMs);
  }

  private tick(s: Sim) {
    const now = this.time.now();
    const values = s.plant.next(now);
    let silent = false;
    let offline = false;
    let outage = false;
    for (const run of [...s.runs]) {
      const elapsedS = (now - run.start) / 1000;
      const e = effectAt(run.scenario.faults, elapsedS, run.prevS);
      run.prevS = elapsedS;
      if (e.done) {
        s.runs.splice(s.runs.indexOf(run), 1);
        continue;
      }
      for (const [m, v] of Object.entries(e.values)) if (s.d.metrics.includes(m)) values[m] = v;
      for (const m of e.stuck) if (m in s.last) values[m] = s.last[m];
      silent ||= e.silent;
      offline ||= e.offline;
      outage ||= e.outage;
      for (let i = 0; i < e.malformed; i++) this.sendMalformed(s, i);
      if (e.credentials) void this.tryWrongSecret(s, e.credentials);
    }
    s.inAlarm = s.plant.alarm(values);
    // a dropped connection (offline, or an outage) is a real one: the last will tells the gateway
    if ((offline || outage) && !s.down) this.drop(s);
    if (!offline && !outage && s.down) this.restore(s);
    if (silent || (offline && !outage) || this.yielded.has(s.d.deviceId)) return;
    s.last = values;
    const keyed = byPoint(s.d, values);
    const reading = this.opts.seq === false ? { ts: now, values: keyed } : { ts: now, seq: ++s.seq, values: keyed };
    if (outage) {
      s.buffer.push(reading);
      this.summary.buffered++;
      return;
    }
    this.send(s, JSON.stringify(reading), 1);
  }

  /**
   * Another connection reports for the device (`npm run simulate -- --scenario …` beside the
   * built-in plants): this plant stops publishing until it is gone, so the two do not take turns.
   */
  yieldDevice(deviceId: string, yieldIt: boolean) {
    if (yieldIt) this.yielded.add(deviceId);
    else this.yielded.delete(deviceId);
  }

  private send(s: Sim, payload: string, readings: number) {
    if (!s.client?.connected) return;
    const qos = this.opts.qos ?? 1;
    this.summary.sent += readings;
    this.publish(s, `${s.base}/telemetry`, payload, qos, (ok) => {
      if (ok && qos > 0) this.summary.acknowledged += readings;
    });
  }

  /** After an outage: everything measured meanwhile, in one message, with its own timestamps. */
  private flush(s: Sim) {
    const readings = s.buffer.splice(0);
    for (let i = 0; i < readings.length; i += 1000) {
      const part = readings.slice(i, i + 1000);
      this.summary.flushed += part.length;
      this.send(s, JSON.stringify(part), part.length);
    }
  }

  private drop(s: Sim) {
    s.down = true;
    if (s.client) s.client.options.reconnectPeriod = 0;
    // no DISCONNECT: to the broker this is a lost link, and the last will is published
    s.client?.end(true);
  }

  private restore(s: Sim) {
    s.down = false;
    if (!s.client) return;
    s.client.options.reconnectPeriod = 2000;
    s.client.reconnect();
  }

  private sendMalformed(s: Sim, i: number) {
    if (!s.client?.connected) return;
    this.summary.malformed++;
    this.publish(s, `${s.base}/telemetry`, MALFORMED[i % MALFORMED.length], 1);
  }

  private async tryWrongSecret(s: Sim, count: number) {
    this.pending++;
    try {
      await this.wrongSecrets(s, count);
    } finally {
      this.pending--;
    }
  }

  private async wrongSecrets(s: Sim, count: number) {
    for (let i = 0; i < count; i++) {
      const intruder = mqtt.connect(this.opts.url, { clientId: `intruder-${s.d.deviceId}-${i}-${Date.now()}`, username: s.d.deviceId, password: `not-${s.d.secret}`, reconnectPeriod: 0, connectTimeout: 5000 });
      await new Promise<void>((resolve) => {
        intruder.once('connect', () => resolve());
        intruder.once('error', () => {
          this.summary.authRefused++;
          resolve();
        });
        intruder.once('close', () => resolve());
      });
      intruder.end(true);
    }
  }

  /** `goodbye`: each device says offline first, as a device switched off properly does. */
  async stop(goodbye = true): Promise<FleetSummary> {
    this.stopped = true;
    this.time.clearTimeout(this.scenarioTimer);
    await Promise.all(
      this.sims.map(async (s) => {
        this.time.clearTimeout(s.timer);
        if (!s.client) return;
        // a clean goodbye first, so the gateway does not wait for a keepalive to notice
        if (goodbye && s.client.connected) s.client.publish(`${s.base}/status`, 'offline', { qos: 0 });
        // a gateway that never acknowledges would keep the end waiting for ever (and the summary
        // unsaid): after a few seconds what is still unacknowledged is given up
        const client = s.client;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([client.endAsync(), new Promise<void>((r) => (timer = setTimeout(r, 5000)))]).catch(() => {});
        clearTimeout(timer);
        if (!client.disconnected) await client.endAsync(true).catch(() => {});
      }),
    );
    return this.summary;
  }
}

/** The plant's values (by metric) as the device sends them: by point id. */
function byPoint(d: SimDevice, values: Record<string, Value>): Record<string, Value> {
  if (!d.points || d.points.every((p) => p.id === p.metric)) return values;
  const out: Record<string, Value> = {};
  for (const p of d.points) if (Object.hasOwn(values, p.metric)) out[p.id] = values[p.metric];
  return out;
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
