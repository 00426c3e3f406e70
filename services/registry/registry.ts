import type { RuleDef } from '../../rules/schema.ts';
import type { LoadedRegistry } from './load.ts';
import type { DeviceConfig, EnterpriseConfig, PointConfig, RegistryFile, UnitConfig, UnitKind } from './schema.ts';

export interface DeviceEntry {
  device: DeviceConfig;
  enterprise: EnterpriseConfig;
  /** by point id (a point without an id is known by its metric) */
  points: Map<string, PointConfig>;
  rules: RuleDef[];
}

const NO_RULES: RuleDef[] = [];

/** The validated registry with the look-ups the rest of the service needs. Read-only once built. */
export class Registry {
  readonly enterprises = new Map<string, EnterpriseConfig>();
  readonly devices = new Map<string, DeviceEntry>();
  readonly units = new Map<string, UnitConfig>();

  /**
   * `previous`: a registry this one follows, whose entries are kept where device, enterprise and
   * rules are the same objects (a registration changes one enterprise: the pipeline thread's
   * compiled rules are kept by entry, and at 10 000 devices every one was compiled again).
   */
  constructor(
    readonly loaded: LoadedRegistry,
    previous?: Registry,
  ) {
    for (const u of loaded.file.units) this.units.set(u.id, u);
    for (const ent of loaded.file.enterprises) {
      this.enterprises.set(ent.id, ent);
      for (const device of ent.devices) {
        const rules = loaded.rules.get(device.id) ?? NO_RULES;
        const kept = previous?.devices.get(device.id);
        this.devices.set(
          device.id,
          kept && kept.device === device && kept.enterprise === ent && kept.rules === rules ? kept : { device, enterprise: ent, points: new Map(device.points.map((p) => [p.id, p])), rules },
        );
      }
    }
  }

  get file(): RegistryFile {
    return this.loaded.file;
  }

  /**
   * How many MQTT connections the enterprise's devices may hold at once: as the registry's
   * `gateway` section says, or else twice its devices and at least 500. A plant's devices coming
   * back after a network blip under new client ids, before their old links have timed out, must
   * all get in: a device kept out is a monitoring gap.
   */
  connectionLimitOf(enterpriseId: string): number {
    return this.file.gateway.maxConnectionsPerEnterprise ?? Math.max(500, 2 * (this.enterprises.get(enterpriseId)?.devices.length ?? 0));
  }

  /**
   * The units responsible for an enterprise, of the given kinds: its own units as listed, plus
   * every township, regulator or fire unit whose regions cover the enterprise's region.
   */
  unitsFor(enterpriseId: string, kinds: readonly UnitKind[]): UnitConfig[] {
    const ent = this.enterprises.get(enterpriseId);
    if (!ent) return [];
    const wanted = new Set(kinds);
    const out = new Map<string, UnitConfig>();
    for (const id of ent.units) {
      const u = this.units.get(id);
      if (u && wanted.has(u.kind)) out.set(u.id, u);
    }
    for (const u of this.units.values()) {
      if (u.kind !== 'enterprise' && wanted.has(u.kind) && coversRegion(u.regions, ent.region)) out.set(u.id, u);
    }
    return [...out.values()];
  }
}

/** A region code covers itself and every code below it (a prefix). */
export function coversRegion(regions: readonly string[], region: string): boolean {
  return regions.some((r) => region.startsWith(r));
}
