import type { RuleInput } from '../schema.ts';

/** Device health, for every industry. */
export const common: RuleInput[] = [
  { id: 'battery-low', kind: 'threshold', metric: 'battery_percent', below: [{ severity: 'warning', value: 15 }], deadband: 5, forS: 60 },
];
