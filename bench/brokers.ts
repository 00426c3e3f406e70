import type { Job } from './generator.ts';
import { generate, startAedes, startMosquitto, type Running } from './processes.ts';

/**
 * Plain publish → subscribe through a broker: four publishers as fast as the broker takes them,
 * one subscriber on `v1/#` counting deliveries. Debian's mosquitto is the reference; bare aedes
 * shows what the gateway's broker costs before the gateway adds anything.
 */
export interface BrokerFigures {
  broker: string;
  qos: 0 | 1;
  published: number;
  delivered: number;
  deliveredPerS: number;
  publishedPerS: number;
  crashed: boolean;
}

const METRICS = ['gas_lel', 'toxic_gas_ppm', 'gas_shutoff_valve_closed'];
const publishers = (n: number): Job['clients'] => Array.from({ length: n }, (_, i) => ({ id: `pub-${i}`, topic: `v1/E${i}/d${i}/telemetry`, metrics: METRICS }));

export async function pubSub(name: string, start: () => Promise<Running | null>, qos: 0 | 1, durationS: number): Promise<BrokerFigures | null> {
  const broker = await start();
  if (!broker) return null;
  try {
    const run = generate({ host: '127.0.0.1', port: broker.port, clients: publishers(4), qos, rate: 0, durationS, inflight: 500, subscribe: 'v1/#' });
    await run.connected;
    const done = await run.done.catch(() => null);
    const alive = await fetchAlive(broker.pid);
    if (!done) return { broker: name, qos, published: 0, delivered: 0, deliveredPerS: 0, publishedPerS: 0, crashed: !alive };
    return { broker: name, qos, published: done.sentAtEnd, delivered: done.received, deliveredPerS: Math.round(done.received / done.elapsedS), publishedPerS: Math.round(done.sentPerS), crashed: !alive };
  } finally {
    await broker.stop();
  }
}

async function fetchAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function benchBrokers(dir: string, durationS: number) {
  const out: BrokerFigures[] = [];
  for (const qos of [0, 1] as const) {
    const ref = await pubSub('mosquitto', () => startMosquitto(dir), qos, durationS);
    if (ref) out.push(ref);
    const aedes = await pubSub('aedes', startAedes, qos, durationS);
    if (aedes) out.push(aedes);
  }
  return out;
}
