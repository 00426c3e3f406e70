import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { benchRegistry } from './fleet-registry.ts';
import { generate, rssKb, startService } from './processes.ts';

/**
 * Idle devices connected to the whole service: RSS per connected device (the growth over the
 * service with no device connected, same registry) at each step, and how fast devices connect
 * (MQTT CONNECT with a secret checked against the registry). A process here may hold at most
 * 20 000 open files (`ulimit -Hn`), so the last step stops just short of 20 000 devices.
 */
export interface ConnectionFigures {
  steps: { devices: number; rssMb: number; kbPerDevice: number; connectPerS: number }[];
  baselineMb: number;
}

export async function benchConnections(dir: string, steps: number[], log: (s: string) => void): Promise<ConnectionFigures> {
  const total = steps.at(-1)!;
  const { registry, clients } = benchRegistry(total);
  const config = join(dir, 'registry-connections.yaml');
  await writeFile(config, stringify({ ...registry, gateway: { maxConnectionsPerEnterprise: 1000, maxKeepaliveS: 3600 } }));
  const service = await startService({ CONFIG: config, DATA_DIR: join(dir, 'data-connections') });
  const holders: ReturnType<typeof generate>[] = [];
  try {
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = await rssKb(service.pid);
    const out: ConnectionFigures['steps'] = [];
    let connected = 0;
    for (const n of steps) {
      const g = generate({ host: '127.0.0.1', port: service.port, clients: clients.slice(connected, n), qos: 1, rate: 0, durationS: 0, holdOnly: true, connectConcurrency: 500 });
      holders.push(g);
      const c = await g.connected;
      connected += c.connected;
      // let the collector settle before reading memory
      await new Promise((r) => setTimeout(r, 3000));
      const rss = await rssKb(service.pid);
      const step = { devices: connected, rssMb: Math.round(rss / 1024), kbPerDevice: Math.round(((rss - baseline) / connected) * 10) / 10, connectPerS: Math.round(c.perS) };
      out.push(step);
      log(`  ${connected} devices connected (${c.refused} refused${c.failures.length ? `: ${c.failures[0]}` : ''}): RSS ${step.rssMb} MB, ${step.kbPerDevice} KB per device, ${step.connectPerS} connects/s`);
    }
    return { steps: out, baselineMb: Math.round(baseline / 1024) };
  } finally {
    for (const h of holders) await h.stop().catch(() => {});
    await service.stop();
  }
}
