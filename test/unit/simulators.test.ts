import { describe, expect, it } from 'vitest';
import { isMetric } from '../../domain/indicators.ts';
import { createPlant } from '../../simulators/plant.ts';
import type { Value } from '../../domain/types.ts';
import { effectAt, loadScenarios, scenarioSchema, type Fault } from '../../simulators/scenario.ts';

/** The simulators' plant models and fault scenarios, as plain functions over time. */
describe('fault scenarios', () => {
  it('loads every file in simulators/scenarios/, each naming real points', () => {
    const all = loadScenarios();
    expect(all.size).toBeGreaterThanOrEqual(15);
    for (const s of all.values()) {
      for (const m of s.needs) expect(isMetric(m), `${s.name}: ${m}`).toBe(true);
      for (const f of s.faults) if (f.kind === 'set' || f.kind === 'spike') for (const m of Object.keys(f.values)) expect(isMetric(m), `${s.name}: ${m}`).toBe(true);
    }
    const kinds = new Set([...all.values()].flatMap((s) => s.faults.map((f) => f.kind)));
    expect([...kinds].sort()).toEqual(['credentials', 'flapping', 'malformed', 'offline', 'outage', 'ramp', 'set', 'silent', 'spike', 'stuck']);
  });

  it('refuses a scenario with an unknown fault kind or a ramp without a duration', () => {
    expect(scenarioSchema.safeParse({ name: 'x', description: 'x', faults: [{ kind: 'explode', at: 0 }] }).success).toBe(false);
    expect(scenarioSchema.safeParse({ name: 'x', description: 'x', faults: [{ kind: 'ramp', at: 0, metric: 'gas_lel', from: 0, to: 1 }] }).success).toBe(false);
  });

  it('composes faults: values hold, ramps climb, spikes and one-off actions happen once, the end comes', () => {
    const faults: Fault[] = [
      { kind: 'set', at: 0, for: 10, values: { gas_lel: 30 } },
      { kind: 'ramp', at: 2, for: 4, metric: 'co_ppm', from: 0, to: 100 },
      { kind: 'spike', at: 3, values: { toxic_gas_ppm: 50 } },
      { kind: 'stuck', at: 5, for: 5, metrics: ['o2_percent'] },
      { kind: 'flapping', at: 0, for: 8, metric: 'smoke_alarm', low: false, high: true, everyS: 2 },
      { kind: 'outage', at: 6, for: 2 },
      { kind: 'malformed', at: 1, count: 4 },
      { kind: 'credentials', at: 1, count: 2 },
    ];
    const e1 = effectAt(faults, 1, 0);
    expect(e1).toMatchObject({ values: { gas_lel: 30, smoke_alarm: true }, malformed: 4, credentials: 2, outage: false, done: false });
    expect(effectAt(faults, 1.5, 1)).toMatchObject({ malformed: 0, credentials: 0 });
    expect(effectAt(faults, 3, 2.5).values).toMatchObject({ co_ppm: 25, toxic_gas_ppm: 50, smoke_alarm: false });
    expect(effectAt(faults, 4, 3).values.toxic_gas_ppm).toBeUndefined();
    expect(effectAt(faults, 6.5, 6)).toMatchObject({ outage: true, stuck: ['o2_percent'] });
    expect(effectAt(faults, 11, 10).values).toEqual({});
    expect(effectAt(faults, 16, 15).done).toBe(true);
  });
});

describe('plant models', () => {
  const seeded = () => {
    let a = 7;
    return () => ((a = (a * 16807) % 2147483647) / 2147483647);
  };
  const casting = ['casting_active', 'cooling_water_flow', 'cooling_water_pressure', 'cooling_water_temperature', 'melt_level'];

  it('a casting machine casts and pauses; its cooling water is on before the cast starts and after it ends', () => {
    const plant = createPlant(casting, seeded(), { castS: 600, pauseS: 600 });
    const t0 = 1_800_000_000_000;
    const series: Record<string, Value>[] = Array.from({ length: 2400 }, (_, i) => plant.next(t0 + i * 1000));
    const starts = series.filter((s, i) => i > 0 && s.casting_active && !series[i - 1].casting_active);
    const ends = series.filter((s, i) => i > 0 && !s.casting_active && series[i - 1].casting_active);
    expect(starts.length).toBeGreaterThanOrEqual(1);
    expect(ends.length).toBeGreaterThanOrEqual(1);
    for (const s of starts) expect(s.cooling_water_flow as number).toBeGreaterThan(80);
    for (const s of series.filter((x) => x.casting_active)) {
      expect(s.cooling_water_flow as number).toBeGreaterThan(30);
      expect(s.cooling_water_pressure as number).toBeGreaterThan(0.2);
      expect(s.melt_level as number).toBeGreaterThan(450);
    }
    // long into a pause the water is on standby and the mould is empty
    // (the middle of a pause: past the water's tail after a cast, before its lead to the next)
    const idle = series.filter((s, i) => !s.casting_active && i > 300 && i < series.length - 100 && series.slice(i - 200, i + 100).every((p) => !p.casting_active));
    expect(idle.length).toBeGreaterThan(0);
    for (const s of idle) expect(s).toMatchObject({ melt_level: 0 });
    expect(Math.max(...idle.map((s) => s.cooling_water_flow as number))).toBeLessThan(30);
  });

  it("a dust collector's pressure difference creeps up as the bags clog and drops after they are changed", () => {
    const plant = createPlant(['filter_pressure_diff'], seeded(), { clogPaPerHour: 600 });
    const t0 = 1_800_000_000_000;
    const dp = Array.from({ length: 24 * 60 }, (_, i) => plant.next(t0 + i * 60_000).filter_pressure_diff as number);
    const drops = dp.filter((v, i) => i > 0 && dp[i - 1] - v > 500).length;
    expect(drops).toBeGreaterThanOrEqual(5);
    expect(Math.max(...dp)).toBeLessThan(1850);
    expect(dp[10]).toBeGreaterThan(dp[0] - 30);
  });

  it('smoke detectors alarm rarely on their own; a device in alarm knows it', () => {
    const never = createPlant(['smoke_alarm'], seeded(), { smokeChance: 0 });
    const always = createPlant(['smoke_alarm'], seeded(), { smokeChance: 1 });
    expect(Array.from({ length: 100 }, (_, i) => never.next(i * 1000).smoke_alarm).some(Boolean)).toBe(false);
    const v = always.next(1000);
    expect(v.smoke_alarm).toBe(true);
    expect(always.alarm(v)).toBe(true);
    expect(createPlant(['gas_lel'], seeded()).alarm({ gas_lel: 25 })).toBe(true);
    expect(createPlant(['gas_lel'], seeded()).alarm({ gas_lel: 3 })).toBe(false);
  });
});
