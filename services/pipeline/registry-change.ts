import type { RuleDef } from '../../rules/schema.ts';
import type { LoadedRegistry } from '../registry/load.ts';
import type { EnterpriseConfig } from '../registry/schema.ts';

/**
 * What the pipeline thread is sent of a new registry: the whole of it, or only the enterprises
 * that changed. A registration changes one enterprise and keeps every other part of the registry
 * (the same objects), yet the whole registry went across at each: at 10 000 devices copying it
 * held the main thread 250–320 ms and the pipeline thread about 0.5 s more, with every reading
 * behind it. A registry is never changed once built, so an unchanged part is the same object.
 */
export type RegistryChange =
  | { whole: LoadedRegistry }
  | {
      /** the number of the registry it changes, which the thread must hold (else it is sent whole) */
      from: number;
      /** the ids of the enterprises, in the new registry's order */
      order: string[];
      /** enterprises new or changed (a device more, one less, its rules redefined) */
      changed: EnterpriseConfig[];
      /** the rules of the changed enterprises' devices */
      rules: [deviceId: string, rules: RuleDef[]][];
    };

/** How `next` differs from `base`, the registry the thread holds (numbered `from`). */
export function registryChange(base: LoadedRegistry, next: LoadedRegistry, from: number): RegistryChange {
  const whole = { whole: next };
  const { enterprises: _b, ...baseRest } = base.file;
  const { enterprises: _n, ...nextRest } = next.file;
  const keys = Object.keys(nextRest) as (keyof typeof nextRest)[];
  if (keys.length !== Object.keys(baseRest).length || keys.some((k) => !Object.hasOwn(baseRest, k) || baseRest[k] !== nextRest[k])) return whole;
  const before = new Map(base.file.enterprises.map((e) => [e.id, e]));
  const changed: EnterpriseConfig[] = [];
  const rules: [string, RuleDef[]][] = [];
  let devices = 0;
  for (const e of next.file.enterprises) {
    devices += e.devices.length;
    const same = before.get(e.id) === e && e.devices.every((d) => next.rules.get(d.id) === base.rules.get(d.id));
    if (same) continue;
    changed.push(e);
    for (const d of e.devices) rules.push([d.id, next.rules.get(d.id) ?? []]);
  }
  // rules of a device in no enterprise would be lost on the way: the whole, then (none are made so)
  if (next.rules.size !== devices) return whole;
  return { from, order: next.file.enterprises.map((e) => e.id), changed, rules };
}

/** The registry a change makes of `base` (on the thread: unchanged parts stay the objects it had). */
export function applyRegistryChange(base: LoadedRegistry, change: RegistryChange): LoadedRegistry {
  if ('whole' in change) return change.whole;
  const changed = new Map(change.changed.map((e) => [e.id, e]));
  const before = new Map(base.file.enterprises.map((e) => [e.id, e]));
  const given = new Map(change.rules);
  const rules = new Map<string, RuleDef[]>();
  const enterprises = change.order.map((id) => {
    const e = changed.get(id) ?? before.get(id);
    if (!e) throw new Error(`registry change: enterprise ${id} is neither changed nor known`);
    const from = changed.has(id) ? given : base.rules;
    for (const d of e.devices) rules.set(d.id, from.get(d.id) ?? []);
    return e;
  });
  return { file: { ...base.file, enterprises }, rules };
}
