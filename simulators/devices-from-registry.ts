import type { SimDevice } from './fleet.ts';

/** What simulators need of a registry: its devices with their enterprise (the service's fits). */
export interface DeviceList {
  devices: ReadonlyMap<string, { device: { id: string; secret?: string; points: readonly { id: string; metric: string }[]; reportIntervalS: number }; enterprise: { id: string } }>;
}

/** The registry's devices that have a plain (demo) secret, as simulated devices. */
export function simDevicesFrom(registry: DeviceList): SimDevice[] {
  const out: SimDevice[] = [];
  for (const { device, enterprise } of registry.devices.values()) {
    if (!device.secret) continue;
    out.push({ enterpriseId: enterprise.id, deviceId: device.id, secret: device.secret, metrics: [...new Set(device.points.map((p) => p.metric))], points: device.points.map((p) => ({ id: p.id, metric: p.metric })), reportIntervalS: device.reportIntervalS });
  }
  return out;
}
