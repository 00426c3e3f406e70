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
  /**
   * `kbPerDevice`: RSS growth over the service with none connected (after a first wave of devices
   * came and went), per device; `kbPerAdded`: since the step before, per device added: what one
   * more connection costs.
   */
  steps: { devices: number; rssMb: number; kbPerDevice: number; kbPerAdded: number; connectPerS: number }[];
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
    // the empty service as it is once it has worked: after loading the registry V8 held slack that
    // only the collections of real work gave back, and a step measured below the service with
    // nothing connected. A first wave of devices connects and leaves before the baseline is read.
    const wave = generate({ host: '127.0.0.1', port: service.port, clients: clients.slice(0, Math.min(total, 5000)), qos: 1, rate: 0, durationS: 0, holdOnly: true, connectConcurrency: 500 });
    await wave.connected;
    await wave.stop();
    const baseline = await idleRss(service.pid);
    const out: ConnectionFigures['steps'] = [];
    let connected = 0;
    for (const n of steps) {
      const g = generate({ host: '127.0.0.1', port: service.port, clients: clients.slice(connected, n), qos: 1, rate: 0, durationS: 0, holdOnly: true, connectConcurrency: 500 });
      holders.push(g);
      const c = await g.connected;
      connected += c.connected;
      const rss = await idleRss(service.pid);
      const before = out.at(-1);
      const added = connected - (before?.devices ?? 0);
      const kb = (x: number) => Math.round(x * 10) / 10;
      const step = { devices: connected, rssMb: Math.round(rss / 1024), kbPerDevice: kb((rss - baseline) / connected), kbPerAdded: kb((rss - (before ? before.rssMb * 1024 : baseline)) / Math.max(1, added)), connectPerS: Math.round(c.perS) };
      out.push(step);
      log(`  ${connected} devices connected (${c.refused} refused${c.failures.length ? `: ${c.failures[0]}` : ''}): RSS ${step.rssMb} MB, ${step.kbPerDevice} KB per device, ${step.kbPerAdded} KB per device added, ${step.connectPerS} connects/s`);
    }
    return { steps: out, baselineMb: Math.round(baseline / 1024) };
  } finally {
    for (const h of holders) await h.stop().catch(() => {});
    await service.stop();
  }
}

/**
 * The lowest RSS over a stretch of idling: what is left once the collector has run (V8's memory
 * reducer starts after 8 s without work). Read at once, the baseline held the start's garbage
 * (registry, rules and store opened for 19 500 devices): 1.1 GB with nothing connected, and once
 * the heap was kept tighter, 10 000 connected devices measured below it.
 */
async function idleRss(pid: number, seconds = 12): Promise<number> {
  let low = Infinity;
  for (let i = 0; i < seconds; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    low = Math.min(low, await rssKb(pid));
  }
  return low;
}
