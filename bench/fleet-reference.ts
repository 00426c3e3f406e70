import { benchRegistry } from './fleet-registry.ts';
import { generate, startMosquitto } from './processes.ts';

/**
 * Debian's mosquitto taking the same fleet the pipeline takes (the same device connections,
 * payloads and QoS, as fast as it acknowledges): the reference for the pipeline's figures.
 */
export async function fleetReference(dir: string, devices: number, durationS: number) {
  const { clients } = benchRegistry(devices);
  const out: { qos: 0 | 1; perS: number }[] = [];
  for (const qos of [1, 0] as const) {
    const broker = await startMosquitto(dir);
    if (!broker) return out;
    try {
      const g = generate({ host: '127.0.0.1', port: broker.port, clients, qos, rate: 0, durationS, inflight: 20, connectConcurrency: 300 });
      await g.connected;
      const d = await g.done;
      out.push({ qos, perS: Math.round((qos ? d.acked : d.sentAtEnd) / d.elapsedS) });
    } finally {
      await broker.stop();
    }
  }
  return out;
}
