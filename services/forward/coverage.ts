import { ownEntry } from '../../domain/types.ts';
import { coversRegion, type Registry } from '../registry/registry.ts';
import type { UplinkConfig } from '../registry/schema.ts';
import type { PointCodes } from './items.ts';

/**
 * Whom an uplink covers and under which codes. A point goes up under its code for this uplink,
 * or its general code; an MQTT bridge also takes points with no code, under their metric name
 * (another broker of the same kind reads our metric names), an HTTP platform does not.
 */
export function coverage(u: UplinkConfig, registry: Registry): { enterprises: Set<string>; codes: PointCodes } {
  const enterprises = new Set<string>();
  const codes: PointCodes = new Map();
  for (const ent of registry.enterprises.values()) {
    if (!u.enterprises.includes(ent.id) && !coversRegion(u.regions, ent.region)) continue;
    enterprises.add(ent.id);
    for (const d of ent.devices) {
      const byMetric = new Map<string, string>();
      for (const p of d.points) {
        const code = ownEntry(p.codes, u.id) ?? p.code ?? (u.kind === 'mqtt' ? p.id : undefined);
        if (code !== undefined) byMetric.set(p.id, code);
      }
      if (byMetric.size) codes.set(d.id, byMetric);
    }
  }
  return { enterprises, codes };
}

/** Every enterprise some enabled uplink covers: whose readings go up at all. */
export function forwardedEnterprises(registry: Registry): Set<string> {
  const out = new Set<string>();
  for (const u of registry.file.uplinks) if (u.enabled) for (const id of coverage(u, registry).enterprises) out.add(id);
  return out;
}
