import type { RuleInput } from '../schema.ts';

/**
 * GB/T 50493-2019: combustible gas first-level setpoint ≤ 25 %LEL, second level ≤ 50 %LEL;
 * toxic gas first level ≤ 100 % OEL, second ≤ 200 % OEL. The template uses 20 / 40 %LEL. A toxic
 * point that names its gas (`gas: H2S`) gets that gas's limits from domain/toxic-gases.ts in its
 * own unit (services/registry/standards.ts); 10 / 20 ppm below is only for points of the first
 * round that name none.
 */
export const gasLel: RuleInput = {
  id: 'gas-lel',
  kind: 'threshold',
  metric: 'gas_lel',
  above: [
    { severity: 'major', value: 20 },
    { severity: 'critical', value: 40 },
  ],
  deadband: 2,
};

/** A second-level gas alarm must close the emergency shut-off valve (interlock feedback). */
export const gasShutoff: RuleInput = {
  id: 'gas-shutoff-interlock',
  kind: 'interlock',
  when: 'gas_lel >= 40',
  expect: { gas_shutoff_valve_closed: true },
  withinS: 5,
  severity: 'critical',
};

export const hazchem: RuleInput[] = [
  gasLel,
  gasShutoff,
  {
    id: 'toxic-gas',
    kind: 'threshold',
    metric: 'toxic_gas_ppm',
    above: [
      { severity: 'major', value: 10 },
      { severity: 'critical', value: 20 },
    ],
    deadband: 1,
  },
  {
    id: 'tank-level',
    kind: 'threshold',
    metric: 'tank_level',
    above: [
      { severity: 'major', value: 85 },
      { severity: 'critical', value: 95 },
    ],
    below: [{ severity: 'major', value: 10 }],
    deadband: 2,
    forS: 5,
  },
];

export const gasUser: RuleInput[] = [
  gasLel,
  gasShutoff,
  { id: 'gas-alarm', kind: 'threshold', metric: 'gas_alarm', above: [{ severity: 'critical', value: 1 }] },
  // a stand-alone gas alarm (a switch, no concentration) must close the shut-off valve too
  { id: 'gas-alarm-shutoff-interlock', kind: 'interlock', when: 'gas_alarm', expect: { gas_shutoff_valve_closed: true }, withinS: 5, severity: 'critical' },
];
