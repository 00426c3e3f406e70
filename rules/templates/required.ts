/**
 * Template rules a standard or the law requires, with what requires them. A site may tune them
 * (a setpoint within the standard, a longer offline interval) but not switch them off, lower
 * their severity, or, for an interlock, drop a feedback point or wait longer for it: concealing
 * or disabling monitoring is itself a violation (安全生产法 第三十六条: 不得关闭、破坏直接关系生产
 * 安全的监控、报警设备、设施，或者篡改、隐瞒、销毁其相关数据、信息).
 */
const LAW = '安全生产法 (2021) 第三十六条';
const ORDER_10 = '工贸企业重大事故隐患判定标准 (应急管理部令第10号)';

export const REQUIRED_RULES: ReadonlyMap<string, string> = new Map([
  // a point that stops reporting, reports faults, or is marked maintenance to hide it
  ['device-offline', LAW],
  ['sensor-fault', LAW],
  ['maintenance-unannounced', LAW],
  ['power-while-suspended', LAW],
  // combustible and toxic gas detection and alarm
  ['gas-lel', 'GB/T 50493-2019'],
  ['toxic-gas', 'GB/T 50493-2019'],
  // deep-well casting: cooling water and melt level alarms, and their interlocks
  ['cooling-pressure-low', `${ORDER_10}, 有色 (三)`],
  ['cooling-flow-low', `${ORDER_10}, 有色 (三)`],
  ['casting-cooling-interlock', `${ORDER_10}, 有色 (三)`],
  ['melt-level', `${ORDER_10}, 有色 (四)`],
  ['casting-melt-level-interlock', `${ORDER_10}, 有色 (五)(六)`],
  ['furnace-cooling-temperature-high', `${ORDER_10} (水冷元件)`],
  ['furnace-cooling-leak', `${ORDER_10} (水冷元件)`],
  // dust collectors: hopper temperature and the spark and temperature interlocks
  ['collector-temperature-high', 'AQ 4273-2016 5.1.4'],
  ['spark-isolation-interlock', 'AQ 4273-2016'],
  ['hopper-temperature-interlock', 'AQ 4273-2016 5.1.4'],
  ['furnace-cooling-leak-interlock', `${ORDER_10}, 冶金`],
  ['coal-mill-filter-temperature-high', `${ORDER_10} 第六条（一）`],
  ['coal-bin-temperature-high', `${ORDER_10} 第六条（一）`],
  ['coal-co-high', `${ORDER_10} 第六条（一）`],
  ['gas-main-pressure-low', `${ORDER_10} 第六条（五）`],
  ['gas-main-cutoff-interlock', `${ORDER_10} 第六条（五）`],
]);
