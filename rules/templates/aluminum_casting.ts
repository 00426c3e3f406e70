import type { RuleInput } from '../schema.ts';

/**
 * Aluminium deep-well casting (MEM Order No. 10, non-ferrous clauses): melt level, cooling-water
 * flow, pressure and temperature are monitored while a casting run is in progress.
 */
const whileCasting = { guard: 'casting_active' } as const;

export const aluminumCasting: RuleInput[] = [
  { id: 'cooling-pressure-low', kind: 'threshold', metric: 'cooling_water_pressure', below: [{ severity: 'critical', value: 0.2 }], deadband: 0.02, forS: 1, ...whileCasting },
  { id: 'cooling-flow-low', kind: 'threshold', metric: 'cooling_water_flow', below: [{ severity: 'critical', value: 30 }], deadband: 2, forS: 1, ...whileCasting },
  { id: 'cooling-temperature-high', kind: 'threshold', metric: 'cooling_water_temperature', above: [{ severity: 'major', value: 45 }], deadband: 2, forS: 10, ...whileCasting },
  {
    id: 'melt-level',
    kind: 'threshold',
    metric: 'melt_level',
    above: [{ severity: 'critical', value: 750 }],
    below: [{ severity: 'critical', value: 450 }],
    deadband: 10,
    forS: 1,
    ...whileCasting,
  },
];
