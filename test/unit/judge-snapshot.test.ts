import { deserialize, serialize } from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReadingJudge } from '../../services/pipeline/judge.ts';
import { validateRegistry } from '../../services/registry/load.ts';
import { testRegistry } from '../support/registry.ts';

/**
 * A cluster's worker that takes over a partition starts from the last snapshot of the judge and
 * reads the log after it: the outcomes from there on must be exactly those the judge that never
 * stopped gives. Property: any run of telemetry, links and ticks, cut anywhere, snapshotted
 * through V8's serializer (as it is kept in PostgreSQL), goes on identically.
 */
const registry = validateRegistry(testRegistry(), 'test');
const world = { maintenance: [], suspended: [] };
const T0 = Date.UTC(2026, 11, 1);

type Input = { kind: 'telemetry'; device: string; body: object; at: number } | { kind: 'link'; device: string; link: 'online' | 'offline'; at: number } | { kind: 'tick'; at: number };

const DEVICES: Record<string, () => fc.Arbitrary<Record<string, number | boolean>>> = {
  'gas-1': () =>
    fc.oneof(
      { weight: 1, arbitrary: fc.record({ gas_lel: fc.constantFrom(1, 15, 22, 45, 60), gas_shutoff_valve_closed: fc.boolean() }, { requiredKeys: ['gas_lel'] }) },
      // firmware that names gas_lel otherwise (gateway/misnamed-points.ts)
      { weight: 2, arbitrary: fc.record({ lel: fc.constantFrom(15, 45), gas_shutoff_valve_closed: fc.boolean() }) },
    ),
  'gas-2': () => fc.record({ gas_lel: fc.constantFrom(0, 21, 50) }),
  'caster-1': () =>
    fc.record({ casting_active: fc.boolean(), cooling_water_flow: fc.constantFrom(10, 29, 40, 80), cooling_water_pressure: fc.constantFrom(0.1, 0.3), quick_shutoff_valve_closed: fc.boolean(), emergency_discharge_open: fc.boolean() }, { requiredKeys: [] }),
  'smoke-1': () => fc.record({ smoke_alarm: fc.boolean() }),
  'collector-1': () => fc.record({ collector_inlet_temperature: fc.constantFrom(20, 65, 75, 90), spark_detected: fc.boolean(), isolation_valve_closed: fc.boolean() }, { requiredKeys: [] }),
};

/** a reading's own time: none, right, or from a clock hours ahead or years behind (rules/device-clock.ts) */
const CLOCKS = ['none', 'none', 'right', 'ahead', 'behind'] as const;
const clockTs = (clock: (typeof CLOCKS)[number], at: number) =>
  clock === 'none' ? {} : { ts: clock === 'right' ? at - 500 : clock === 'ahead' ? at + 8 * 3_600_000 : at - 2 * 365 * 86_400_000 };

const input = (step: number): fc.Arbitrary<Input> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(...Object.keys(DEVICES)).chain((device) =>
        // one message in four from firmware that sends seq as a string: refused whole (gateway/refused-readings.ts)
        fc.tuple(DEVICES[device](), fc.constantFrom(...CLOCKS), fc.constantFrom(false, false, false, true)).map(([values, clock, garbled]) => ({ kind: 'telemetry' as const, device, body: { seq: garbled ? String(step) : step, values, ...clockTs(clock, T0 + step * 1000) }, at: T0 + step * 1000 })),
      ),
    },
    { weight: 1, arbitrary: fc.record({ device: fc.constantFrom(...Object.keys(DEVICES)), link: fc.constantFrom('online' as const, 'offline' as const) }).map((l) => ({ kind: 'link' as const, ...l, at: T0 + step * 1000 })) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 400 }).map((s) => ({ kind: 'tick' as const, at: T0 + step * 1000 + s * 1000 })) },
  );

const run = (judge: ReadingJudge, inputs: Input[]) =>
  inputs.flatMap((i) => {
    if (i.kind === 'tick') return judge.tick(i.at);
    if (i.kind === 'link') return judge.link(i.device, i.link, i.at);
    const bytes = Buffer.from(JSON.stringify(i.body));
    const j = judge.telemetry([{ deviceId: i.device, at: i.at, offset: 0, length: bytes.length }], bytes);
    return [...j.answers.map((a) => ({ rejects: a.rejects.map((r) => r.code), accepted: a.accepted })), ...j.outcomes];
  });

const fresh = () => new ReadingJudge({ registry, world, now: T0 }, (part, err) => {
  throw new Error(`${part}: ${err.message}`);
});

describe('a judge restored from a snapshot', () => {
  it('goes on exactly as the one that never stopped, wherever it was cut', () => {
    let raised = 0;
    let clockChanges = 0;
    let refusedChanges = 0;
    let misnamedChanges = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 60 }).chain((n) => fc.tuple(fc.tuple(...Array.from({ length: n }, (_, k) => input(k + 1))), fc.integer({ min: 0, max: n }))),
        ([inputs, cut]) => {
          const whole = fresh();
          const before = run(whole, inputs.slice(0, cut));
          const kept = deserialize(serialize(whole.snapshot()));
          const restored = fresh();
          restored.restore(kept);
          const after = run(whole, inputs.slice(cut));
          expect(run(restored, inputs.slice(cut))).toEqual(after);
          raised += [...before, ...after].filter((o) => 'change' in o && o.change === 'raise').length;
          clockChanges += [...before, ...after].filter((o) => 'ruleId' in o && o.ruleId === 'device-clock').length;
          refusedChanges += [...before, ...after].filter((o) => 'ruleId' in o && o.ruleId === 'readings-refused').length;
          misnamedChanges += [...before, ...after].filter((o) => 'ruleId' in o && o.ruleId === 'points-misnamed').length;
        },
      ),
      { numRuns: 150 },
    );
    // the runs do raise alerts (the property is about something)
    expect(raised).toBeGreaterThan(100);
    // and wrong clocks raise and clear their alerts across the cuts too
    expect(clockChanges).toBeGreaterThan(20);
    expect(refusedChanges).toBeGreaterThan(5);
    // and so do points sent under other names
    expect(misnamedChanges).toBeGreaterThan(5);
  });

  it('keeps the seq windows: a resend after the cut is still a duplicate', () => {
    const judge = fresh();
    const body = Buffer.from(JSON.stringify({ seq: 7, ts: T0, values: { gas_lel: 45 } }));
    const item = [{ deviceId: 'gas-1', at: T0 + 10, offset: 0, length: body.length }];
    expect(judge.telemetry(item, body).answers[0].accepted).toBe(1);
    const restored = fresh();
    restored.restore(deserialize(serialize(judge.snapshot())));
    expect(restored.telemetry(item, body).answers[0].rejects.map((r) => r.code)).toEqual(['DUPLICATE_SEQ']);
    // and values keyed by names from outside come back without a prototype
    expect(Object.getPrototypeOf(restored.snapshot().engine.devices[0][1].latest)).toBeNull();
  });
});

describe('a judge started after a restart', () => {
  it("takes the store's last values back as the devices sent them: a switch with an id of its own is yes or no, not 1", () => {
    const raw = testRegistry();
    (raw.enterprises[0].devices as object[]).push({ id: 'valves-1', secret: 'secret-valves-1', points: [{ id: 'v1', metric: 'gas_shutoff_valve_closed' }, { metric: 'gas_lel' }] });
    const judge = new ReadingJudge({ registry: validateRegistry(raw, 'test'), world, now: T0 }, (part, err) => {
      throw new Error(`${part}: ${err.message}`);
    });
    judge.remember([
      { deviceId: 'valves-1', metric: 'v1', value: 1, ts: T0 },
      { deviceId: 'valves-1', metric: 'gas_lel', value: 1, ts: T0 },
    ]);
    const { lastValues } = judge.seen.get('valves-1');
    expect(lastValues.v1.value).toBe(true);
    expect(lastValues.gas_lel.value).toBe(1);
  });
});
