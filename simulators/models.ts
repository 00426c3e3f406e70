import { INDICATORS, type Metric } from '../domain/indicators.ts';
import type { Value } from '../domain/types.ts';

/**
 * Plausible normal behaviour per indicator: a level, noise, and for switches how often they are
 * true. Values are kept well inside the template alarm levels so a normal plant raises nothing.
 */
export interface Model {
  next(t: number, rand: () => number): Value;
}

const analogue = (base: number, noise: number, min = -Infinity, max = Infinity): Model => {
  let v = base;
  return {
    next(_t, rand) {
      // a mean-reverting random walk: noise that never drifts off
      v += (base - v) * 0.2 + (rand() - 0.5) * noise;
      return Math.round(Math.min(max, Math.max(min, v)) * 1000) / 1000;
    },
  };
};
const constant = (value: Value): Model => ({ next: () => value });

export const NORMAL: Record<Metric, () => Model> = {
  dust_concentration: () => analogue(3, 1, 0),
  collector_inlet_temperature: () => analogue(38, 1.5),
  hopper_temperature: () => analogue(35, 1.2),
  collector_running: () => constant(true),
  hydrogen_lel: () => analogue(1, 0.5, 0),
  filter_pressure_diff: () => analogue(1200, 30, 0),
  ash_valve_fault: () => constant(false),
  spark_detected: () => constant(false),
  spark_extinguisher_active: () => constant(false),
  isolation_valve_closed: () => constant(false),
  water_tank_level: () => analogue(800, 10, 0),
  water_circulation_flow: () => analogue(12, 0.5, 0),
  casting_active: () => constant(true),
  cooling_water_pressure: () => analogue(0.45, 0.02, 0),
  cooling_water_flow: () => analogue(120, 4, 0),
  cooling_water_temperature: () => analogue(32, 0.8),
  melt_level: () => analogue(600, 6),
  quick_shutoff_valve_closed: () => constant(false),
  emergency_discharge_open: () => constant(false),
  launder_disconnected: () => constant(false),
  furnace_tilted_back: () => constant(false),
  co_ppm: () => analogue(4, 1.5, 0),
  o2_percent: () => analogue(20.9, 0.1),
  furnace_cooling_outlet_temperature: () => analogue(38, 1),
  furnace_cooling_flow_diff: () => analogue(0.2, 0.2),
  oxygen_lance_raised: () => constant(false),
  furnace_power_off: () => constant(false),
  coal_mill_filter_temperature: () => analogue(58, 2),
  coal_bin_temperature: () => analogue(40, 1.5),
  gas_main_pressure: () => analogue(8, 0.3),
  gas_lel: () => analogue(1, 0.8, 0),
  toxic_gas_ppm: () => analogue(0.5, 0.4, 0),
  gas_shutoff_valve_closed: () => constant(false),
  tank_level: () => analogue(55, 0.5, 0, 100),
  tank_pressure: () => analogue(0.3, 0.01),
  tank_temperature: () => analogue(22, 0.3),
  gas_alarm: () => constant(false),
  smoke_alarm: () => constant(false),
  fire_panel_fault: () => constant(false),
  power_kw: () => analogue(450, 20, 0),
  battery_percent: () => analogue(90, 0.2, 0, 100),
  signal_dbm: () => analogue(-70, 3, -140, 0),
};

export function modelFor(metric: string): Model {
  const make = NORMAL[metric as Metric];
  if (make) return make();
  return constant(INDICATORS[metric as Metric]?.type === 'boolean' ? false : 0);
}
