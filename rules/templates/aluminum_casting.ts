import type { RuleInput } from '../schema.ts';

/**
 * Aluminium deep-well casting, 工贸企业重大事故隐患判定标准 (MEM Order No. 10), non-ferrous clauses:
 * (二) water-cooled elements of the furnace: outlet temperature and inlet–outlet flow difference;
 * (三) mould cooling water: inlet pressure and flow alarms interlocked with the quick shut-off, the
 * emergency discharge and the launder disconnect (fixed furnace) or the tilt control (tilting);
 * (四) melt level at the outlet launder and at the launder-to-mould junction;
 * (五)(六) the junction level interlocked with the quick shut-off and the emergency discharge
 * (fixed) or the tilt-back and the quick shut-off (tilting). The interlocks below are the first
 * round's (a device that does not say its furnace); `FURNACE_FEEDBACK` gives each kind's.
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
    // (五)(六): the level where the launder meets the mould
    at: 'junction',
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

/** (二): the furnace's water-cooled elements, as for metallurgy. */
aluminumCasting.push(
  { id: 'furnace-cooling-temperature-high', kind: 'threshold', metric: 'furnace_cooling_outlet_temperature', above: [{ severity: 'critical', value: 60 }], deadband: 2, forS: 5 },
  { id: 'furnace-cooling-leak', kind: 'threshold', metric: 'furnace_cooling_flow_diff', above: [{ severity: 'critical', value: 2 }], deadband: 0.3, forS: 5 },
);

/** The feedback each interlock expects of each kind of casting furnace (Order No. 10 (三)(五)(六)). */
export const FURNACE_FEEDBACK: Record<'fixed' | 'tilting', Record<'casting-cooling-interlock' | 'casting-melt-level-interlock', Record<string, boolean>>> = {
  fixed: {
    'casting-cooling-interlock': { quick_shutoff_valve_closed: true, emergency_discharge_open: true, launder_disconnected: true },
    'casting-melt-level-interlock': { quick_shutoff_valve_closed: true, emergency_discharge_open: true },
  },
  tilting: {
    'casting-cooling-interlock': { furnace_tilted_back: true, quick_shutoff_valve_closed: true },
    'casting-melt-level-interlock': { furnace_tilted_back: true, quick_shutoff_valve_closed: true },
  },
};
