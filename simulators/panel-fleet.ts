import type { PanelComponent } from './fire-panel.ts';
import { FirePanelSimulator } from './fire-panel.ts';

/**
 * The registry's fire panels, simulated: each connects to FIRE_PANEL_PORT and sends heartbeats
 * (half its reporting interval, at most every 30 s). With `demo`, each panel then shows what the
 * receiver does: a fire on its first component and its recovery, a fault, and a frame with a bad
 * checksum (denied).
 */
export interface SimPanel {
  deviceId: string;
  address: number;
  reportIntervalS: number;
  /** components named exactly by the registry's points */
  components: (PanelComponent & { point: string })[];
}

export function simPanelsFrom(registry: { devices: ReadonlyMap<string, { device: { id: string; panelAddress?: string; reportIntervalS: number; points: readonly { id: string; panel?: { systemType?: number; systemAddress?: number; componentType?: number; componentAddress?: number } }[] } }> }): SimPanel[] {
  const out: SimPanel[] = [];
  for (const { device } of registry.devices.values()) {
    if (device.panelAddress === undefined) continue;
    const components = device.points.flatMap((p) =>
      p.panel?.componentType !== undefined ? [{ point: p.id, systemType: p.panel.systemType, systemAddress: p.panel.systemAddress, componentType: p.panel.componentType, componentAddress: p.panel.componentAddress ?? 1 }] : [],
    );
    out.push({ deviceId: device.id, address: Number(device.panelAddress), reportIntervalS: device.reportIntervalS, components });
  }
  return out;
}

export async function runPanels(panels: SimPanel[], o: { host: string; port: number; demoAfterS?: number; log(m: string): void }): Promise<{ stop(): void; connected: number }> {
  const timers: NodeJS.Timeout[] = [];
  const sims: FirePanelSimulator[] = [];
  let connected = 0;
  for (const p of panels) {
    const sim = new FirePanelSimulator({ host: o.host, port: o.port, address: p.address });
    try {
      await sim.connect();
    } catch (e) {
      o.log(`panel ${p.deviceId}: cannot connect to ${o.host}:${o.port} (${(e as Error).message}); is FIRE_PANEL_PORT set on the service?`);
      continue;
    }
    connected++;
    sims.push(sim);
    const beat = async () => {
      const a = await sim.heartbeat();
      if (a === 'denied') o.log(`panel ${p.deviceId}: heartbeat ${a}`);
    };
    await beat();
    timers.push(setInterval(() => void beat(), Math.min(30, p.reportIntervalS / 2) * 1000));
    const [first, second] = p.components;
    if (o.demoAfterS !== undefined && first) {
      const step = (afterS: number, what: string, fn: () => Promise<string>) => timers.push(setTimeout(() => void fn().then((a) => o.log(`panel ${p.deviceId}: ${what} → ${a}`)), afterS * 1000));
      step(o.demoAfterS, `fire at ${first.point}`, () => sim.fire(first));
      step(o.demoAfterS + 2, 'a frame with a bad checksum', () => sim.badChecksum(first));
      step(o.demoAfterS + 20, `${first.point} back to normal`, () => sim.recover(first));
      if (second) {
        step(o.demoAfterS + 5, `fault at ${second.point}`, () => sim.fault(second));
        step(o.demoAfterS + 25, `${second.point} back to normal`, () => sim.recover(second));
      }
    }
  }
  return {
    connected,
    stop() {
      for (const t of timers) clearTimeout(t), clearInterval(t);
      for (const s of sims) s.close();
    },
  };
}
