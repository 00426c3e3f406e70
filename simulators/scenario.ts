import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Value } from '../domain/types.ts';

/**
 * Fault scenarios, one YAML file each in simulators/scenarios/: which devices, and a list of
 * faults in time (seconds after the scenario starts), any of which may overlap. A run may take
 * several scenarios at once (`--scenario a,b`): faults compose.
 *
 *   set          points hold these values for `for` seconds (a sustained exceedance, a valve
 *                that does or does not follow)
 *   spike        one reading with these values
 *   ramp         a point goes from `from` to `to` over `for` seconds
 *   stuck        points freeze at their last value
 *   flapping     a point alternates between `low` and `high` every `everyS`
 *   silent       the device stays connected but stops reporting (a hung data logger)
 *   offline      the connection drops (the last will says offline) and comes back after `for`
 *   outage       the network is gone: the device keeps measuring into a buffer and, when it is
 *                back, sends the buffer in one message with the original timestamps
 *   malformed    `count` bad payloads: broken JSON, wrong types, unknown points, no values
 *   credentials  `count` logins as the device with a wrong secret
 */
const values = z.record(z.string(), z.union([z.number(), z.boolean()]));
const timing = { at: z.number().min(0), for: z.number().positive().optional() };
const fault = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('set'), ...timing, values }).strict(),
  z.object({ kind: z.literal('spike'), at: z.number().min(0), values }).strict(),
  z.object({ kind: z.literal('ramp'), ...timing, for: z.number().positive(), metric: z.string(), from: z.number(), to: z.number() }).strict(),
  z.object({ kind: z.literal('stuck'), ...timing, metrics: z.array(z.string()).min(1) }).strict(),
  z.object({ kind: z.literal('flapping'), ...timing, metric: z.string(), low: z.union([z.number(), z.boolean()]), high: z.union([z.number(), z.boolean()]), everyS: z.number().positive().default(2) }).strict(),
  z.object({ kind: z.literal('silent'), ...timing }).strict(),
  z.object({ kind: z.literal('offline'), ...timing, for: z.number().positive() }).strict(),
  z.object({ kind: z.literal('outage'), ...timing, for: z.number().positive() }).strict(),
  z.object({ kind: z.literal('malformed'), at: z.number().min(0), count: z.number().int().positive().default(4) }).strict(),
  z.object({ kind: z.literal('credentials'), at: z.number().min(0), count: z.number().int().positive().default(3) }).strict(),
]);
export const scenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/),
    description: z.string().min(1),
    /** the devices it applies to: those having all these points, this many of them */
    needs: z.array(z.string()).default([]),
    devices: z.number().int().positive().default(1),
    /** faulted devices report this often while the scenario runs (devices in alarm report faster) */
    intervalS: z.number().positive().default(1),
    faults: z.array(fault).min(1),
  })
  .strict();
export type Scenario = z.infer<typeof scenarioSchema>;
export type Fault = z.infer<typeof fault>;

export const SCENARIO_DIR = fileURLToPath(new URL('./scenarios/', import.meta.url));

/** Every scenario file in the folder, validated; a bad file is named with its problem. */
export function loadScenarios(dir = SCENARIO_DIR): Map<string, Scenario> {
  const out = new Map<string, Scenario>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const parsed = scenarioSchema.safeParse(parseYaml(readFileSync(join(dir, file), 'utf8')));
    if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    out.set(parsed.data.name, parsed.data);
  }
  return out;
}

/** What the faults in force ask of one reading `elapsedS` into the scenario. */
export interface Effect {
  values: Record<string, Value>;
  /** points to hold at their last value */
  stuck: string[];
  silent: boolean;
  offline: boolean;
  outage: boolean;
  /** one-off actions that fall due between the previous reading and this one */
  malformed: number;
  credentials: number;
  /** the scenario is over: the device goes back to normal */
  done: boolean;
}

const active = (f: { at: number; for?: number }, s: number, last: number) => s >= f.at && s < (f.for === undefined ? last + 1 : f.at + f.for);

/** Pure: the combined effect of every fault at `elapsedS`; `prevS` is the previous reading's time. */
export function effectAt(faults: readonly Fault[], elapsedS: number, prevS: number): Effect {
  const end = Math.max(...faults.map((f) => f.at + ('for' in f && f.for ? f.for : 0)));
  const e: Effect = { values: {}, stuck: [], silent: false, offline: false, outage: false, malformed: 0, credentials: 0, done: elapsedS > end + 5 };
  const due = (at: number) => at > prevS && at <= elapsedS;
  for (const f of [...faults].sort((a, b) => a.at - b.at)) {
    switch (f.kind) {
      case 'set':
        if (active(f, elapsedS, end)) Object.assign(e.values, f.values);
        break;
      case 'spike':
        if (due(f.at)) Object.assign(e.values, f.values);
        break;
      case 'ramp':
        if (active(f, elapsedS, end)) e.values[f.metric] = Math.round((f.from + ((f.to - f.from) * (elapsedS - f.at)) / f.for) * 1000) / 1000;
        break;
      case 'stuck':
        if (active(f, elapsedS, end)) e.stuck.push(...f.metrics);
        break;
      case 'flapping':
        if (active(f, elapsedS, end)) e.values[f.metric] = Math.floor((elapsedS - f.at) / f.everyS) % 2 === 0 ? f.high : f.low;
        break;
      case 'silent':
        if (active(f, elapsedS, end)) e.silent = true;
        break;
      case 'offline':
        if (active(f, elapsedS, end)) e.offline = true;
        break;
      case 'outage':
        if (active(f, elapsedS, end)) e.outage = true;
        break;
      case 'malformed':
        if (due(f.at)) e.malformed += f.count;
        break;
      case 'credentials':
        if (due(f.at)) e.credentials += f.count;
        break;
    }
  }
  return e;
}
