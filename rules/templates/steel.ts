import type { RuleInput } from '../schema.ts';

/** Steel and metallurgical gas (GB 6222 practice for CO). */
export const steel: RuleInput[] = [
  {
    id: 'co-high',
    kind: 'threshold',
    metric: 'co_ppm',
    above: [
      { severity: 'warning', value: 24 },
      { severity: 'critical', value: 160 },
    ],
    deadband: 2,
  },
  {
    id: 'o2-abnormal',
    kind: 'threshold',
    metric: 'o2_percent',
    below: [{ severity: 'major', value: 19.5 }],
    above: [{ severity: 'major', value: 23.5 }],
    deadband: 0.2,
  },
  { id: 'furnace-cooling-temperature-high', kind: 'threshold', metric: 'furnace_cooling_outlet_temperature', above: [{ severity: 'critical', value: 60 }], deadband: 2, forS: 5 },
  // a water-cooled element that loses water between inlet and outlet is leaking into the furnace
  { id: 'furnace-cooling-leak', kind: 'threshold', metric: 'furnace_cooling_flow_diff', above: [{ severity: 'critical', value: 2 }], deadband: 0.3, forS: 5 },
];
