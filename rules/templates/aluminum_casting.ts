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

aluminumCasting.push(
  { id: 'cooling-pressure-falling', kind: 'rate', metric: 'cooling_water_pressure', fallingFaster: 0.05, windowS: 5, severity: 'major', ...whileCasting },
  { id: 'cooling-flow-stuck', kind: 'stuck', metric: 'cooling_water_flow', tolerance: 0.01, windowS: 1800, severity: 'warning', ...whileCasting },
  {
    id: 'casting-cooling-interlock',
    kind: 'interlock',
    guard: 'casting_active',
    when: 'cooling_water_flow < 30 or cooling_water_pressure < 0.2',
    forS: 1,
    expect: { quick_shutoff_valve_closed: true, emergency_discharge_open: true },
    withinS: 5,
    severity: 'critical',
  },
  {
    id: 'casting-melt-level-interlock',
    kind: 'interlock',
    guard: 'casting_active',
    when: 'melt_level > 750 or melt_level < 450',
    forS: 1,
    expect: { quick_shutoff_valve_closed: true },
    withinS: 5,
    severity: 'critical',
  },
  {
    id: 'casting-start-permissive',
    kind: 'permissive',
    on: 'casting_active',
    sensors: ['cooling_water_flow', 'cooling_water_pressure', 'melt_level'],
    ready: { quick_shutoff_valve_closed: false, emergency_discharge_open: false },
    severity: 'critical',
  },
);
