import type { RuleInput } from '../schema.ts';

/**
 * Dust-explosion enterprises (AQ 4273-2016 5.1.4): the collector's inlet temperature (the
 * isolation valve closes above 70 °C) and its hopper temperature are separate points; a spark
 * must be followed by the extinguisher or the isolation valve, as the site's system is built.
 */
export const dust: RuleInput[] = [
  {
    id: 'collector-temperature-high',
    kind: 'threshold',
    metric: 'collector_inlet_temperature',
    above: [{ severity: 'critical', value: 70 }],
    deadband: 3,
    message: '除尘器入口温度超过70°C，应联锁关闭隔爆阀并声光报警 (AQ 4273-2016 5.1.4) / collector inlet temperature above 70 °C',
  },
  // a smouldering deposit shows in the hopper first; 70 °C as at the inlet until the site says otherwise
  { id: 'hopper-temperature-high', kind: 'threshold', metric: 'hopper_temperature', above: [{ severity: 'major', value: 70 }], deadband: 3, forS: 10 },
  // wet collectors of aluminium or magnesium dust give off hydrogen (as combustible gas, GB/T 50493-2019 levels)
  { id: 'hydrogen-lel', kind: 'threshold', metric: 'hydrogen_lel', above: [{ severity: 'major', value: 20 }, { severity: 'critical', value: 40 }], deadband: 2 },
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
    // the extinguisher firing or the isolation valve closing, whichever of them the device has
    expect: { spark_extinguisher_active: true, isolation_valve_closed: true },
    expectAny: true,
    withinS: 2,
    message: '探测到火花后2秒内火花熄灭装置未动作、隔爆阀未关闭 / spark detected but neither the extinguisher nor the isolation valve acted within 2 s',
  },
  {
    id: 'hopper-temperature-interlock',
    kind: 'interlock',
    when: 'collector_inlet_temperature > 70',
    forS: 1,
    expect: { isolation_valve_closed: true },
    withinS: 5,
    message: '除尘器入口温度超过70°C后隔爆阀未在5秒内关闭 (AQ 4273-2016 5.1.4) / inlet above 70 °C but the isolation valve did not close within 5 s',
  },
);

/**
 * Dust concentration, when the site gives its dust's minimum explosible concentration
 * (`mec` on the point, g/m³): 25 % of it (major) and 50 % (critical), as combustible gas is held
 * to 25 / 50 % of its lower explosive limit.
 */
export const dustConcentration = (mecGm3: number): RuleInput => ({
  id: 'dust-concentration',
  kind: 'threshold',
  metric: 'dust_concentration',
  above: [
    { severity: 'major', value: Math.round(mecGm3 * 1000 * 0.25) },
    { severity: 'critical', value: Math.round(mecGm3 * 1000 * 0.5) },
  ],
  deadband: Math.round(mecGm3 * 1000 * 0.02),
});

/** Rules whose readings mean nothing while the collector stands still: guarded by it where the device reports it. */
export const WHILE_RUNNING = new Set(['filter-pressure-baseline', 'filter-pressure-stuck']);
