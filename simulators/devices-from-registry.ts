import type { Registry } from '../services/registry/registry.ts';
import type { SimDevice } from './fleet.ts';

/** The registry's devices that have a plain (demo) secret, as simulated devices. */
export function simDevicesFrom(registry: Registry): SimDevice[] {
  const out: SimDevice[] = [];
  for (const { device, enterprise } of registry.devices.values()) {
    if (!device.secret) continue;
    out.push({ enterpriseId: enterprise.id, deviceId: device.id, secret: device.secret, metrics: device.points.map((p) => p.metric), reportIntervalS: device.reportIntervalS });
  }
  return out;
}
