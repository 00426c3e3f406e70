import type { Value } from '../rules/types.ts';

/**
 * Fault scenarios: for a while, some points of matching devices follow a script instead of their
 * normal model. `at` is seconds after the scenario starts; each step holds until the next.
 */
export interface ScenarioStep {
  at: number;
  values: Record<string, Value>;
  /** the device goes quiet (power or network lost) until a later step says otherwise */
  silent?: boolean;
}

export interface Scenario {
  name: string;
  description: string;
  /** which devices: those having all these points */
  needs: string[];
  steps: ScenarioStep[];
  /** how many matching devices (default 1) */
  devices?: number;
}

export const SCENARIOS: Record<string, Scenario> = {
  'gas-leak': {
    name: 'gas-leak',
    description: 'combustible gas rises through the first level to above the second; the shut-off valve closes; it is ventilated away',
    needs: ['gas_lel'],
    steps: [
      { at: 0, values: { gas_lel: 12 } },
      { at: 2, values: { gas_lel: 24 } },
      { at: 4, values: { gas_lel: 46 } },
      { at: 6, values: { gas_lel: 62, gas_shutoff_valve_closed: true } },
      { at: 30, values: { gas_lel: 15 } },
      { at: 40, values: { gas_lel: 2, gas_shutoff_valve_closed: false } },
    ],
  },
  'gas-leak-no-shutoff': {
    name: 'gas-leak-no-shutoff',
    description: 'combustible gas above the second level and the emergency shut-off valve never closes',
    needs: ['gas_lel', 'gas_shutoff_valve_closed'],
    steps: [
      { at: 0, values: { gas_lel: 48, gas_shutoff_valve_closed: false } },
      { at: 30, values: { gas_lel: 2 } },
    ],
  },
  'cooling-loss': {
    name: 'cooling-loss',
    description: 'mould cooling water is lost during a casting run; the interlock closes the shut-off valve and opens the discharge in time',
    needs: ['cooling_water_flow', 'casting_active', 'quick_shutoff_valve_closed', 'emergency_discharge_open'],
    steps: [
      { at: 0, values: { casting_active: true, cooling_water_flow: 110, quick_shutoff_valve_closed: false, emergency_discharge_open: false } },
      { at: 2, values: { cooling_water_flow: 18, cooling_water_pressure: 0.12 } },
      { at: 4, values: { quick_shutoff_valve_closed: true, emergency_discharge_open: true } },
      { at: 15, values: { casting_active: false, cooling_water_flow: 110, cooling_water_pressure: 0.45 } },
    ],
  },
  'cooling-loss-no-interlock': {
    name: 'cooling-loss-no-interlock',
    description: 'mould cooling water is lost during a casting run and the valves never move: interlock failure',
    needs: ['cooling_water_flow', 'casting_active', 'quick_shutoff_valve_closed'],
    steps: [
      { at: 0, values: { casting_active: true, cooling_water_flow: 110, quick_shutoff_valve_closed: false, emergency_discharge_open: false } },
      { at: 2, values: { cooling_water_flow: 18, cooling_water_pressure: 0.12 } },
      { at: 20, values: { casting_active: false, cooling_water_flow: 110, cooling_water_pressure: 0.45 } },
    ],
  },
  'spark-no-isolation': {
    name: 'spark-no-isolation',
    description: 'a spark is detected in the dust duct and the isolation valve does not close',
    needs: ['spark_detected', 'isolation_valve_closed'],
    steps: [
      { at: 0, values: { spark_detected: true, isolation_valve_closed: false } },
      { at: 10, values: { spark_detected: false } },
    ],
  },
  'sensor-offline': {
    name: 'sensor-offline',
    description: 'the device stops reporting for 15 s while its connection stays up (a hung data logger), then resumes',
    needs: [],
    steps: [
      { at: 0, values: {}, silent: true },
      { at: 15, values: {}, silent: false },
    ],
  },
  'stuck-sensor': {
    name: 'stuck-sensor',
    description: 'the dust collector pressure-difference sensor freezes at one value',
    needs: ['filter_pressure_diff'],
    steps: [{ at: 0, values: { filter_pressure_diff: 1234.5 } }, { at: 30, values: {} }],
  },
  'hopper-overheat': {
    name: 'hopper-overheat',
    description: 'dust collector hopper temperature climbs past 70 °C',
    needs: ['collector_inlet_temperature'],
    steps: [
      { at: 0, values: { collector_inlet_temperature: 55 } },
      { at: 3, values: { collector_inlet_temperature: 74 } },
      { at: 30, values: { collector_inlet_temperature: 40 } },
    ],
  },
  smoke: {
    name: 'smoke',
    description: 'a smoke detector alarms for 20 s',
    needs: ['smoke_alarm'],
    steps: [
      { at: 0, values: { smoke_alarm: true } },
      { at: 20, values: { smoke_alarm: false } },
    ],
  },
  'co-leak': {
    name: 'co-leak',
    description: 'carbon monoxide at a blast-furnace platform rises past 160 ppm',
    needs: ['co_ppm'],
    steps: [
      { at: 0, values: { co_ppm: 30 } },
      { at: 3, values: { co_ppm: 180 } },
      { at: 25, values: { co_ppm: 5 } },
    ],
  },
};

/** The script in force `elapsedS` after the start, or null once it is over. */
export function scriptAt(s: Scenario, elapsedS: number): { values: Record<string, Value>; silent: boolean } | null {
  const last = s.steps.at(-1)!;
  if (elapsedS > last.at + 5) return null;
  const values: Record<string, Value> = {};
  let silent = false;
  for (const step of s.steps) {
    if (step.at > elapsedS) break;
    Object.assign(values, step.values);
    if (step.silent !== undefined) silent = step.silent;
  }
  return { values, silent };
}
