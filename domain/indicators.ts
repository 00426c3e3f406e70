/**
 * The indicator catalogue (../shared/domain.md): the metric names devices may use on the wire,
 * their unit, whether they are analogue or a switch, and the physical range a sensor of that
 * kind can report. Registry validation, rule templates and simulators all read this one table.
 */
export type Industry = 'dust' | 'aluminum_casting' | 'steel' | 'hazchem' | 'gas_user' | 'fire' | 'building_materials';
export const INDUSTRIES: readonly Industry[] = ['dust', 'aluminum_casting', 'steel', 'hazchem', 'gas_user', 'fire', 'building_materials'];

export interface Indicator {
  unit: string;
  type: 'number' | 'boolean';
  /** Physical range of a typical sensor; a point may narrow it in the registry. */
  range?: readonly [number, number];
  zh: string;
  en: string;
}

const num = (unit: string, range: [number, number], zh: string, en: string): Indicator => ({ unit, type: 'number', range, zh, en });
const bool = (zh: string, en: string): Indicator => ({ unit: '', type: 'boolean', zh, en });

export const INDICATORS = {
  // dust-explosion enterprises
  dust_concentration: num('mg/m³', [0, 10000], '粉尘浓度', 'dust concentration'),
  // AQ 4273-2016 5.1.4: the inlet temperature (isolation above 70 °C) and the hopper's are two points
  collector_inlet_temperature: num('°C', [-40, 300], '除尘器入口温度', 'dust collector inlet temperature'),
  hopper_temperature: num('°C', [-40, 300], '除尘器灰斗温度', 'dust collector hopper temperature'),
  collector_running: bool('除尘器运行', 'dust collector running'),
  hydrogen_lel: num('%LEL', [0, 100], '湿式除尘氢气浓度', 'hydrogen (wet collector)'),
  filter_pressure_diff: num('Pa', [0, 10000], '除尘器进出口压差', 'filter pressure difference'),
  ash_valve_fault: bool('锁气卸灰故障', 'ash discharge valve fault'),
  spark_detected: bool('火花探测', 'spark detected'),
  spark_extinguisher_active: bool('火花熄灭装置动作', 'spark extinguisher active'),
  isolation_valve_closed: bool('隔爆阀关闭', 'isolation valve closed'),
  water_tank_level: num('mm', [0, 5000], '湿式除尘水箱液位', 'wet collector water tank level'),
  water_circulation_flow: num('m³/h', [0, 500], '湿式除尘循环水流量', 'wet collector circulation flow'),
  // aluminium deep-well casting
  casting_active: bool('铸造进行中', 'casting active'),
  cooling_water_pressure: num('MPa', [0, 2.5], '结晶器冷却水压力', 'mould cooling-water pressure'),
  cooling_water_flow: num('m³/h', [0, 500], '结晶器冷却水流量', 'mould cooling-water flow'),
  cooling_water_temperature: num('°C', [0, 120], '冷却水出水温度', 'cooling-water outlet temperature'),
  melt_level: num('mm', [0, 2000], '铝液液位', 'melt level'),
  quick_shutoff_valve_closed: bool('快速切断阀关闭', 'quick shut-off valve closed'),
  emergency_discharge_open: bool('紧急排放阀打开', 'emergency discharge valve open'),
  launder_disconnected: bool('流槽断开（隔离）装置动作', 'launder disconnect device acted'),
  furnace_tilted_back: bool('倾动炉回倾到位', 'tilting furnace tilted back'),
  // steel and metallurgical gas
  co_ppm: num('ppm', [0, 2000], '一氧化碳浓度', 'carbon monoxide'),
  o2_percent: num('%vol', [0, 30], '氧气浓度', 'oxygen'),
  furnace_cooling_outlet_temperature: num('°C', [0, 150], '炉体冷却出水温度', 'furnace cooling outlet temperature'),
  furnace_cooling_flow_diff: num('m³/h', [-50, 50], '炉体冷却进出水流量差', 'furnace cooling flow difference'),
  oxygen_lance_raised: bool('氧枪提升到位', 'oxygen lance raised'),
  furnace_power_off: bool('电炉断电', 'furnace power cut'),
  // building materials (建材): coal mill and kiln gas
  coal_mill_filter_temperature: num('°C', [-40, 300], '煤磨袋式收尘器温度', 'coal mill bag filter temperature'),
  coal_bin_temperature: num('°C', [-40, 300], '煤粉仓温度', 'coal powder bin temperature'),
  gas_main_pressure: num('kPa', [0, 1000], '燃气总管压力', 'gas main pressure'),
  // hazardous chemicals and gas users
  gas_lel: num('%LEL', [0, 100], '可燃气体浓度', 'combustible gas'),
  toxic_gas_ppm: num('ppm', [0, 1000], '有毒气体浓度', 'toxic gas'),
  gas_shutoff_valve_closed: bool('燃气紧急切断阀关闭', 'gas emergency shut-off valve closed'),
  tank_level: num('%', [0, 100], '储罐液位', 'tank level'),
  tank_pressure: num('MPa', [-0.1, 10], '储罐压力', 'tank pressure'),
  tank_temperature: num('°C', [-60, 200], '储罐温度', 'tank temperature'),
  gas_alarm: bool('燃气泄漏报警', 'gas leak alarm'),
  // fire and crowded small premises
  smoke_alarm: bool('烟感火灾报警', 'smoke alarm'),
  fire_panel_fault: bool('火灾报警控制器故障', 'fire panel fault'),
  // all industries
  power_kw: num('kW', [0, 100000], '用电功率', 'electric power'),
  battery_percent: num('%', [0, 100], '电池电量', 'battery'),
  signal_dbm: num('dBm', [-140, 0], '信号强度', 'signal strength'),
} as const satisfies Record<string, Indicator>;

export type Metric = keyof typeof INDICATORS;
export const METRICS = Object.keys(INDICATORS) as Metric[];

export function isMetric(name: string): name is Metric {
  return Object.hasOwn(INDICATORS, name);
}

/** a switch (a valve closed, a smoke alarm), sent as yes or no */
export const isSwitchMetric = (name: string) => isMetric(name) && INDICATORS[name].type === 'boolean';

/** A stored value as the device sent it: a store keeps a switch as 1 or 0. `metric` is the point's catalogue metric. */
export const storedAsSent = <V>(metric: string | undefined, value: V): V | boolean => (metric !== undefined && isSwitchMetric(metric) && typeof value === 'number' ? value === 1 : value);
