import type { RuleInput } from '../schema.ts';

/** Fire and crowded small premises: a smoke alarm is critical at once. */
export const fire: RuleInput[] = [
  { id: 'smoke-alarm', kind: 'threshold', metric: 'smoke_alarm', above: [{ severity: 'critical', value: 1 }] },
  { id: 'fire-panel-fault', kind: 'threshold', metric: 'fire_panel_fault', above: [{ severity: 'major', value: 1 }], forS: 10 },
  { id: 'gas-alarm', kind: 'threshold', metric: 'gas_alarm', above: [{ severity: 'critical', value: 1 }] },
];
