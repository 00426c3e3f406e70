import type { Value } from '../domain/types.ts';
import { modelFor, type Model } from './models.ts';

/**
 * One simulated device as a small plant: the points that belong together move together. A
 * casting machine runs casts with a start and an end, its cooling water coming on before the
 * cast and staying on after it; a dust collector's filter pressure difference creeps up as the
 * bags clog and drops back after maintenance; a smoke detector alarms, rarely, on its own. Every
 * other point follows its own normal model (models.ts). `alarm` says the device would consider
 * itself in alarm: such devices report faster.
 */
export interface Plant {
  next(t: number): Record<string, Value>;
  alarm(values: Record<string, Value>): boolean;
}

export interface PlantOptions {
  /** seconds of a cast, and of the pause between casts */
  castS?: number;
  pauseS?: number;
  /** how likely a smoke detector is to alarm at any one reading (a real one: very rarely) */
  smokeChance?: number;
  /** filter bags clog by this many Pa an hour */
  clogPaPerHour?: number;
}

const WATER_LEAD_S = 60; // cooling water on this long before a cast starts
const WATER_TAIL_S = 120; // and kept on this long after it ends

export function createPlant(metrics: readonly string[], rand: () => number, o: PlantOptions = {}): Plant {
  const has = new Set(metrics);
  const models = new Map<string, Model>(metrics.map((m) => [m, modelFor(m)]));
  const castS = o.castS ?? 1800;
  const pauseS = o.pauseS ?? 900;
  const cycle = castS + pauseS;
  // machines of one plant are not in step: each starts somewhere in its cycle
  const phase = rand() * cycle;
  let flow = 0;
  let lastT: number | undefined;
  const clog = o.clogPaPerHour ?? 60 + rand() * 90;
  let bagsChangedAt: number | undefined;
  let smokeUntil = 0;

  return {
    next(t) {
      const values: Record<string, Value> = {};
      for (const [m, model] of models) values[m] = model.next(t, rand);
      const dt = lastT === undefined ? 0 : Math.max(0, (t - lastT) / 1000);
      lastT = t;

      if (has.has('casting_active')) {
        const at = (t / 1000 + phase) % cycle; // seconds into this machine's cycle
        const casting = at < castS;
        const water = casting || at > cycle - WATER_LEAD_S || at < castS + WATER_TAIL_S;
        values.casting_active = casting;
        // the flow follows its valve with a lag of about 20 s; standby flow keeps the mould wet
        const target = water ? 120 : 20;
        flow = dt === 0 ? target : flow + (target - flow) * Math.min(1, dt / 20);
        const noise = () => (rand() - 0.5) * 4;
        if (has.has('cooling_water_flow')) values.cooling_water_flow = round(flow + noise());
        if (has.has('cooling_water_pressure')) values.cooling_water_pressure = round(0.1 + (flow / 120) * 0.35 + (rand() - 0.5) * 0.02);
        if (has.has('cooling_water_temperature')) values.cooling_water_temperature = round(casting ? 30 + Math.min(6, at / 300) + (rand() - 0.5) : 24 + (rand() - 0.5));
        if (has.has('melt_level')) values.melt_level = casting ? values.melt_level : 0;
      }

      if (has.has('filter_pressure_diff')) {
        bagsChangedAt ??= t - rand() * 8 * 3_600_000;
        let dp = 900 + (clog * (t - bagsChangedAt)) / 3_600_000;
        // past about 1 800 Pa the bags are changed (or shaken clean) and the difference drops
        if (dp > 1800) {
          bagsChangedAt = t;
          dp = 900;
        }
        values.filter_pressure_diff = round(dp + (rand() - 0.5) * 20);
      }

      if (has.has('smoke_alarm')) {
        if (t >= smokeUntil && rand() < (o.smokeChance ?? 1e-7)) smokeUntil = t + 60_000;
        values.smoke_alarm = t < smokeUntil;
      }
      return values;
    },
    alarm(v) {
      return v.smoke_alarm === true || v.spark_detected === true || v.gas_alarm === true || (typeof v.gas_lel === 'number' && v.gas_lel >= 20) || (typeof v.co_ppm === 'number' && v.co_ppm >= 24);
    },
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;
