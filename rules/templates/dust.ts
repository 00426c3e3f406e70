import type { RuleInput } from '../schema.ts';

/** Dust-explosion enterprises (AQ 4273-2016 5.1.4 for the hopper temperature). */
export const dust: RuleInput[] = [
  {
    id: 'collector-temperature-high',
    kind: 'threshold',
    metric: 'collector_inlet_temperature',
    above: [{ severity: 'critical', value: 70 }],
    deadband: 3,
    message: '除尘器灰斗温度超过70°C，应联锁关闭隔爆阀并声光报警 (AQ 4273-2016) / hopper temperature above 70 °C',
  },
  { id: 'spark-detected', kind: 'threshold', metric: 'spark_detected', above: [{ severity: 'critical', value: 1 }] },
  { id: 'ash-valve-fault', kind: 'threshold', metric: 'ash_valve_fault', above: [{ severity: 'major', value: 1 }], forS: 5 },
  // practice: wet collectors are set up per site; these defaults catch a dry tank or a stopped pump
  { id: 'water-tank-low', kind: 'threshold', metric: 'water_tank_level', below: [{ severity: 'major', value: 300 }], deadband: 20, forS: 10 },
  { id: 'water-flow-low', kind: 'threshold', metric: 'water_circulation_flow', below: [{ severity: 'major', value: 5 }], deadband: 0.5, forS: 10 },
];
