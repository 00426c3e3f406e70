import type { Registry } from '../registry/registry.ts';
import type { Silences } from './silences.ts';

/**
 * The registry's maintenance windows hold notifications like silences do: each registry in force
 * gives the silences its windows, and each window a reload adds goes in the audit trail, as
 * silences do (those of the file at start came with the registry, audited before).
 */
export function maintenanceWindows(silences: Pick<Silences, 'useRegistry'>, audited: (actor: string, action: string, subject: string, detail: unknown) => void) {
  let known = false;
  return (next: Registry) => {
    const added = silences.useRegistry(next.file.maintenance);
    if (known)
      for (const w of added) audited(w.by, 'maintenance.registered', w.id, { enterpriseId: w.enterpriseId, deviceId: w.deviceId, reason: w.reason, from: new Date(w.from).toISOString(), until: new Date(w.until).toISOString() });
    known = true;
  };
}
