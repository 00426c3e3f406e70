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

/** AQ 4273-2016 5.1.4: filter pressure difference against the baseline after bag replacement. */
dust.push(
  { id: 'filter-pressure-baseline', kind: 'baseline', metric: 'filter_pressure_diff', deviationPct: 20, deadbandPct: 2, forS: 60, severity: 'major' },
  { id: 'filter-pressure-stuck', kind: 'stuck', metric: 'filter_pressure_diff', tolerance: 1, windowS: 6 * 3600, severity: 'warning' },
  {
    id: 'spark-isolation-interlock',
    kind: 'interlock',
    when: 'spark_detected',
    expect: { isolation_valve_closed: true },
    withinS: 2,
    message: '探测到火花后隔爆阀未在2秒内关闭 / spark detected but the isolation valve did not close within 2 s',
  },
  {
    id: 'hopper-temperature-interlock',
    kind: 'interlock',
    when: 'collector_inlet_temperature > 70',
    forS: 1,
    expect: { isolation_valve_closed: true },
    withinS: 5,
    message: '灰斗温度超过70°C后隔爆阀未在5秒内关闭 (AQ 4273-2016) / hopper above 70 °C but the isolation valve did not close within 5 s',
  },
);
