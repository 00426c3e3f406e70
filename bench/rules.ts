import { Session } from 'node:inspector/promises';
import { performance } from 'node:perf_hooks';
import { compileRules, evaluate, newEngineState, tick } from '../rules/engine.ts';
import { INDICATORS, type Metric } from '../domain/indicators.ts';
import { ruleSchema, type RuleDef } from '../rules/schema.ts';
import { TEMPLATES, type TemplateName } from '../rules/templates/index.ts';
import { bareFieldsOf, type Reading, type Value } from '../domain/types.ts';
import { ruleMetrics } from '../rules/kinds.ts';
import { modelFor } from '../simulators/models.ts';

/**
 * Rule evaluation cost per reading with every template loaded. The fleet has one device kind per
 * industry template, each with every point its template reads, so every rule of every template
 * is live; readings follow the simulators' normal models, and one in a hundred carries an
 * excursion that moves a rule. The reference is a hand-written loop that compares each value of
 * the same readings with one fixed threshold: the least any rules engine must do.
 */
export interface RulesFigures {
  devices: number;
  rules: number;
  readings: number;
  /** the median of five passes over the readings; the machine's noise shows in the spread */
  nsPerReading: number;
  /** the fastest and slowest pass */
  nsPerReadingSpread: [number, number];
  referenceNsPerReading: number;
  ratio: number;
  outcomesPerThousand: number;
  tickNsPerDevice: number;
  /** bytes the engine allocates per reading (garbage, nearly all of it), by V8's sampling heap profiler */
  bytesPerReading: number;
}

export function deviceKinds() {
  return (Object.keys(TEMPLATES) as TemplateName[])
    .filter((t) => t !== 'data_quality')
    .map((t) => {
      const rules: RuleDef[] = [...TEMPLATES.data_quality, ...TEMPLATES[t]].map((r) => ruleSchema.parse(r));
      const metrics = [...new Set(rules.flatMap((r) => ruleMetrics(r).metrics))] as Metric[];
      return { template: t, rules, metrics };
    });
}

export async function benchRules(devices = 1200, readings = 300_000): Promise<RulesFigures> {
  const kinds = deviceKinds();
  const fleet = Array.from({ length: devices }, (_, i) => ({ id: `d${i}`, kind: kinds[i % kinds.length] }));
  const set = compileRules(fleet.map((d, i) => ({ enterpriseId: `E${i % 100}`, deviceId: d.id, rules: d.kind.rules, reportIntervalS: 10 })));
  const totalRules = fleet.reduce((n, d) => n + d.kind.rules.length, 0);
  const state = newEngineState(0);

  // readings made ahead, so the loop measures the engine and nothing else
  const models = fleet.map((d) => d.kind.metrics.map((m) => [m, modelFor(m)] as const));
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const made: Reading[] = [];
  for (let i = 0; i < 50_000; i++) {
    const d = i % devices;
    const pairs: (string | Value)[] = models[d].flatMap(([m, model]) => [m, model.next(i, rand)]);
    if (i % 100 === 50) {
      const at = 2 * Math.floor(rand() * models[d].length);
      const ind = INDICATORS[pairs[at] as Metric];
      pairs[at + 1] = ind.type === 'boolean' ? true : ind.range![1] * 0.9;
    }
    // as decode makes them (gateway/decode.ts)
    const values = bareFieldsOf<Value>(pairs);
    made.push({ enterpriseId: `E${d % 100}`, deviceId: fleet[d].id, ts: 0, seq: 0, values });
  }
  // times as devices send them: epoch milliseconds, beyond the small integers V8 keeps unboxed
  // (kept in a typed array: a number variable shared with the closure would be a new box per reading)
  const clock = new Float64Array([Date.UTC(2026, 0, 1)]);
  // each device numbers its own readings, one after another (as a device does)
  const seqs = new Array<number>(devices).fill(0);
  const feed = (n: number, count: { outcomes: number }) => {
    for (let i = 0; i < n; i++) {
      const r = made[i % made.length];
      const ts = (clock[0] += 10);
      r.ts = ts;
      r.seq = ++seqs[(i % made.length) % devices];
      count.outcomes += evaluate(set, state, r, ts).length;
    }
  };
  feed(50_000, { outcomes: 0 }); // warm up

  const counted = { outcomes: 0 };
  const passes: number[] = [];
  let t = 0;
  for (let p = 0; p < 5; p++) {
    t = performance.now();
    feed(readings / 5, counted);
    passes.push(((performance.now() - t) * 1e6) / (readings / 5));
  }
  passes.sort((a, b) => a - b);
  const nsPerReading = passes[2];

  let sink = 0;
  t = performance.now();
  for (let i = 0; i < readings; i++) {
    const values = made[i % made.length].values;
    for (const k in values) {
      const v = values[k];
      if (typeof v === 'number' ? v > 50 : v) sink++;
    }
  }
  const referenceNsPerReading = ((performance.now() - t) * 1e6) / readings;
  if (sink < 0) console.log(sink);

  const bytesPerReading = Math.round((await allocatedBy(() => feed(readings / 5, counted))) / (readings / 5));

  t = performance.now();
  const ticks = 20;
  for (let i = 0; i < ticks; i++) tick(set, state, clock[0] + i * 1000);
  const tickNsPerDevice = ((performance.now() - t) * 1e6) / ticks / devices;

  return {
    devices,
    rules: totalRules,
    readings,
    nsPerReading: Math.round(nsPerReading),
    nsPerReadingSpread: [Math.round(passes[0]), Math.round(passes[4])],
    referenceNsPerReading: Math.round(referenceNsPerReading * 10) / 10,
    ratio: Math.round((nsPerReading / referenceNsPerReading) * 10) / 10,
    outcomesPerThousand: Math.round((counted.outcomes / readings) * 10000) / 10,
    tickNsPerDevice: Math.round(tickNsPerDevice),
    bytesPerReading,
  };
}

/** Bytes allocated while `fn` runs, collected since or not: V8's sampling heap profiler, one sample per 512 bytes on average. */
async function allocatedBy(fn: () => void): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    fn();
    const { profile } = await session.post('HeapProfiler.stopSampling');
    const sum = (n: typeof profile.head): number => n.selfSize + n.children.reduce((a, c) => a + sum(c), 0);
    return sum(profile.head);
  } finally {
    session.disconnect();
  }
}
