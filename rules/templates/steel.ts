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

/**
 * A leaking water-cooled element must stop the heat going into the water: the oxygen lance lifted
 * (converter) or the furnace's power cut (electric furnace), whichever the device reports
 * (工贸企业重大事故隐患判定标准 (应急管理部令第10号), 冶金: 水冷元件 leakage interlocked).
 */
steel.push({
  id: 'furnace-cooling-leak-interlock',
  kind: 'interlock',
  when: 'furnace_cooling_flow_diff > 2',
  forS: 5,
  expect: { oxygen_lance_raised: true, furnace_power_off: true },
  expectAny: true,
  withinS: 10,
  severity: 'critical',
  message: '炉体冷却水泄漏后10秒内氧枪未提升、电炉未断电（工贸企业重大事故隐患判定标准 冶金）/ cooling water leaking and neither the lance lifted nor the power cut within 10 s',
});
