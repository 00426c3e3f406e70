import { createHash } from 'node:crypto';
import type { Registry } from '../registry/registry.ts';
import { coversRegion } from '../registry/registry.ts';

/**
 * API callers from the registry's users. Tokens are kept as SHA-256 digests only (API tokens are
 * long random strings, so a fast hash is enough; a device secret gets scrypt).
 */
export type Role = 'operator' | 'regulator' | 'enterprise';

export interface Caller {
  name: string;
  role: Role;
  /** may this caller see that enterprise at all? */
  sees(enterpriseId: string): boolean;
  /** may this caller acknowledge and close that enterprise's alerts, and register its devices? */
  handles(enterpriseId: string): boolean;
  /** region prefixes for a regulator */
  regions: string[];
  enterpriseId?: string;
}

export const tokenDigest = (token: string) => createHash('sha256').update(token).digest('hex');

export function buildCallers(registry: Registry): Map<string, Caller> {
  const out = new Map<string, Caller>();
  for (const u of registry.file.users) {
    const digest = u.tokenHash ? u.tokenHash.slice('sha256$'.length) : tokenDigest(u.token!);
    const regionOf = (id: string) => registry.enterprises.get(id)?.region;
    let caller: Caller;
    if (u.role === 'operator')
      // operators also see the service's own alerts (pseudo-enterprise `_system`)
      caller = { name: u.name, role: u.role, regions: [], sees: (id) => id === '_system' || registry.enterprises.has(id), handles: (id) => id === '_system' || registry.enterprises.has(id) };
    else if (u.role === 'regulator') {
      const regions = u.regions;
      const sees = (id: string) => {
        const r = regionOf(id);
        return r !== undefined && coversRegion(regions, r);
      };
      caller = { name: u.name, role: u.role, regions, sees, handles: () => false };
    } else {
      const own = u.enterprise!;
      caller = { name: u.name, role: u.role, regions: [], enterpriseId: own, sees: (id) => id === own, handles: (id) => id === own };
    }
    out.set(digest, caller);
  }
  return out;
}
