import type { RegisteredPanel } from '../../gateway/fire-panel/receiver.ts';
import type { Registry } from '../registry/registry.ts';

/** The registry's fire panels by their GB/T 26875.3 address, built once per registry in force. */
const built = new WeakMap<Registry, Map<number, RegisteredPanel>>();

export function panelAt(registry: Registry, address: number): RegisteredPanel | undefined {
  let panels = built.get(registry);
  if (!panels) {
    panels = new Map();
    for (const { device, enterprise } of registry.devices.values())
      if (device.panelAddress !== undefined)
        panels.set(Number(device.panelAddress), { enterpriseId: enterprise.id, deviceId: device.id, points: device.points, hosts: device.panelHosts });
    built.set(registry, panels);
  }
  return panels.get(address);
}
