import type { RuleDef } from '../../rules/schema.ts';
import type { LoadedRegistry } from './load.ts';
import type { EnterpriseConfig, RegistryFile } from './schema.ts';

type FileRest = Omit<RegistryFile, 'enterprises'>;

/**
 * What a registry is told of the next: the whole of it, or only what changed. A registration
 * changes one enterprise and keeps every other part of the registry (the same objects), yet the
 * whole went to the pipeline thread at each: at 10 000 devices copying it held the main thread
 * 250–320 ms and the pipeline thread about 0.5 s more. An edit of the file is read and checked on a
 * thread of its own (check-thread.ts), which tells the service what it changed the same way.
 */
export type RegistryChange =
  | { whole: LoadedRegistry }
  | {
      /** the number of the registry it changes, which the receiver must hold (else it is sent whole) */
      from: number;
      /** the parts of the file beside its enterprises that changed (units, routing, users...) */
      rest: Partial<FileRest>;
      /** the ids of the enterprises, in the new registry's order */
      order: string[];
      /** enterprises new or changed (a device more, one less, its rules redefined) */
      changed: EnterpriseConfig[];
      /** the rules of the changed enterprises' devices */
      rules: [deviceId: string, rules: RuleDef[]][];
    };

/**
 * How `next` differs from `base`, the registry the receiver holds (numbered `from`). A registry is
 * never changed once built: an unchanged part is the same object. (An edited file, read again, is
 * all new objects: its check thread compares by digests, file-check.ts.)
 */
export function registryChange(base: LoadedRegistry, next: LoadedRegistry, from: number): RegistryChange {
  const whole = { whole: next };
  const { enterprises: _b, ...baseRest } = base.file;
  const { enterprises: _n, ...nextRest } = next.file;
  const keys = Object.keys(nextRest) as (keyof FileRest)[];
  if (keys.length !== Object.keys(baseRest).length || keys.some((k) => !Object.hasOwn(baseRest, k))) return whole;
  const rest: Partial<FileRest> = {};
  for (const k of keys) if (baseRest[k] !== nextRest[k]) Object.assign(rest, { [k]: nextRest[k] });
  const before = new Map(base.file.enterprises.map((e) => [e.id, e]));
  const changed: EnterpriseConfig[] = [];
  const rules: [string, RuleDef[]][] = [];
  let devices = 0;
  for (const e of next.file.enterprises) {
    devices += e.devices.length;
    const was = before.get(e.id);
    if (was === e && e.devices.every((d) => next.rules.get(d.id) === base.rules.get(d.id))) continue;
    changed.push(e);
    for (const d of e.devices) rules.push([d.id, next.rules.get(d.id) ?? []]);
  }
  // rules of a device in no enterprise would be lost on the way: the whole, then (none are made so)
  if (next.rules.size !== devices) return whole;
  return { from, rest, order: next.file.enterprises.map((e) => e.id), changed, rules };
}

/** The registry a change makes of `base`: its unchanged parts stay the objects `base` has. */
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
  return { file: { ...base.file, ...change.rest, enterprises }, rules };
}
