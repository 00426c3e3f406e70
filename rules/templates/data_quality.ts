import type { RuleInput } from '../schema.ts';

/**
 * Data quality is a safety signal (domain.md): every device gets these rules, whatever its
 * industry. A site overrides them by id (e.g. `{ id: device-offline, afterIntervals: 5 }`).
 */
export const dataQuality: RuleInput[] = [
  { id: 'device-offline', kind: 'offline', afterIntervals: 3, severity: 'major' },
  { id: 'impossible-value', kind: 'range', severity: 'warning' },
  { id: 'sensor-fault', kind: 'fault', severity: 'major' },
  // marking values `maintenance` hides them from every rule: only within an announced window
  { id: 'maintenance-unannounced', kind: 'maintenance', severity: 'major' },
  { id: 'readings-missing', kind: 'gaps', maxMissing: 10, windowS: 3600, severity: 'warning' },
  // power-use monitoring: a suspended enterprise drawing more than idle power is producing
  { id: 'power-while-suspended', kind: 'idle', metric: 'power_kw', abovePct: 20, severity: 'major' },
];
