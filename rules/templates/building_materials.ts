import type { RuleInput } from '../schema.ts';

/**
 * Building materials (建材), 工贸企业重大事故隐患判定标准 (应急管理部令第10号) 第六条:
 * (一) the coal mill's bag filter and the coal powder bin: temperature and fixed CO monitoring
 * and alarms; (五) a premixed gas-fired kiln's gas main: pressure alarm interlocked with the
 * emergency cut-off; (六) hydrogen stations and gas mixing rooms: combustible gas (the gas_lel
 * rule). The temperature and pressure levels are the site's to set: these defaults are a start.
 */
const CLAUSE = '工贸企业重大事故隐患判定标准 第六条';

export const buildingMaterials: RuleInput[] = [
  { id: 'coal-mill-filter-temperature-high', kind: 'threshold', metric: 'coal_mill_filter_temperature', above: [{ severity: 'major', value: 75 }, { severity: 'critical', value: 85 }], deadband: 2, forS: 10 },
  { id: 'coal-bin-temperature-high', kind: 'threshold', metric: 'coal_bin_temperature', above: [{ severity: 'major', value: 65 }, { severity: 'critical', value: 75 }], deadband: 2, forS: 10 },
  // smouldering coal shows as CO before it shows as heat
  { id: 'coal-co-high', kind: 'threshold', metric: 'co_ppm', above: [{ severity: 'major', value: 100 }, { severity: 'critical', value: 400 }], deadband: 5, forS: 10 },
  { id: 'gas-main-pressure-low', kind: 'threshold', metric: 'gas_main_pressure', below: [{ severity: 'critical', value: 2 }], deadband: 0.2, forS: 2 },
  {
    id: 'gas-main-cutoff-interlock',
    kind: 'interlock',
    when: 'gas_main_pressure < 2',
    forS: 2,
    expect: { gas_shutoff_valve_closed: true },
    withinS: 5,
    severity: 'critical',
    message: `燃气总管压力低后紧急切断阀未在5秒内关闭（${CLAUSE}（五））/ gas main pressure low and the emergency cut-off did not close within 5 s`,
  },
  { id: 'gas-lel', kind: 'threshold', metric: 'gas_lel', above: [{ severity: 'major', value: 20 }, { severity: 'critical', value: 40 }], deadband: 2 },
];
