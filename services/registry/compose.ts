import { RegistryError, validateRegistry, type LoadedRegistry } from './load.ts';
import { sameSource } from './problems.ts';
import { withRegisteredDevices, type RegisteredDevice } from './registered-devices.ts';
import { Registry } from './registry.ts';

/**
 * The registry in force: the operator's file plus the devices enterprises registered through the
 * API. The file decides: a registered device that no longer fits it (its id now in the file, its
 * enterprise gone, a template it named removed) is set aside and reported, and never makes the
 * operator's registry, or the next start, fail.
 */
export interface ComposedRegistry {
  registry: Registry;
  /** registered devices left out, with the reason */
  skipped: { id: string; why: string }[];
}

export function composeRegistry(raw: unknown, extra: readonly RegisteredDevice[], source: string): ComposedRegistry {
  const { raw: merged, skipped } = withRegisteredDevices(raw, extra);
  sameSource(merged, raw);
  try {
    return { registry: new Registry(validateRegistry(merged, source)), skipped };
  } catch (e) {
    if (!(e instanceof RegistryError) || !extra.length) throw e;
    // is it the file itself? then its own problems are the answer
    const alone = new Registry(validateRegistry(raw, source));
    // the file is fine: keep each registered device that still fits, one at a time
    let kept: RegisteredDevice[] = [];
    let registry = alone;
    for (const d of extra) {
      const { raw: trial, skipped: off } = withRegisteredDevices(raw, [...kept, d]);
      if (off.some((o) => o.id === d.device.id)) continue;
      try {
        registry = new Registry(validateRegistry(trial, source));
        kept = [...kept, d];
      } catch (err) {
        skipped.push({ id: d.device.id, why: err instanceof RegistryError ? err.problems.join('; ') : (err as Error).message });
      }
    }
    return { registry, skipped };
  }
}

/**
 * The registry in force with one more registered device, checked without checking everything
 * again. `current` validated, so the new device's problems are all that can be found: the device
 * is checked as the only one of its enterprise (checkOnItsOwn) and joins that enterprise as
 * `current` holds it. Should `current` not hold the enterprise as the file and the registrations in
 * force make it (or hold the id already), the file is validated with every enterprise but the
 * device's emptied of devices (all their references kept), and the result takes that enterprise's
 * place. At 10 000 devices a registration validated the whole registry on the main thread, where
 * the alarms are handled: 2–4 s each. The outcome is the whole validation's (a test compares them).
 */
export function composeWithDevice(current: Registry, raw: unknown, inForce: readonly RegisteredDevice[], entry: RegisteredDevice, source: string): Registry {
  const file = raw as { enterprises?: { id?: unknown; devices?: unknown[]; alarmDevice?: unknown }[] };
  const enterprises = Array.isArray(file?.enterprises) ? file.enterprises : [];
  const e = enterprises.findIndex((x) => x?.id === entry.enterpriseId);
  if (e < 0) throw new RegistryError(source, [`enterprise ${entry.enterpriseId} is no longer in the registry`]);
  const own = enterprises[e];
  const devices = [...(own.devices ?? []), ...inForce.filter((d) => d.enterpriseId === entry.enterpriseId).map((d) => d.device), entry.device];
  const checked = checkOnItsOwn(file, enterprises, e, entry, devices.length - 1, source);
  // its enterprise as `current` holds it, validated, with the device after its others: nothing a
  // registered device carries can clash with the others but its id (the enterprise's alarm device
  // and panel addresses are the file's), so the enterprise need not be checked again. At 500
  // devices of 256 points that check held the main thread 0.4–0.5 s, 30 times a minute per token
  const before = current.file.enterprises.find((e) => e.id === entry.enterpriseId);
  const asBefore = before && before.devices.length === devices.length - 1 && before.devices.every((d, i) => d.id === (devices[i] as { id?: unknown } | undefined)?.id);
  if (asBefore && !before.devices.some((d) => d.id === entry.device.id)) {
    const [device] = checked.file.enterprises.find((e) => e.id === entry.enterpriseId)!.devices;
    const rules = new Map(current.loaded.rules).set(device.id, checked.rules.get(device.id) ?? []);
    return withEnterprise(current, { ...before, devices: [...before.devices, device] }, rules);
  }
  const alone = {
    ...file,
    enterprises: enterprises.map((x) => {
      if (x === own) return { ...x, devices };
      // an alarm device names one of its enterprise's own devices: not there to be found now
      const { alarmDevice: _, ...rest } = x;
      return { ...rest, devices: [] };
    }),
  };
  const whole = validateRegistry(alone, source);
  const ent = whole.file.enterprises.find((e) => e.id === entry.enterpriseId)!;
  const rules = new Map(current.loaded.rules);
  for (const d of ent.devices) rules.set(d.id, whole.rules.get(d.id) ?? []);
  return withEnterprise(current, ent, rules);
}

/** `current` with one enterprise in another's place; the other enterprises' entries are kept as they were: what follows the registry knows them */
function withEnterprise(current: Registry, ent: LoadedRegistry['file']['enterprises'][number], rules: LoadedRegistry['rules']): Registry {
  return new Registry({ file: { ...current.file, enterprises: current.file.enterprises.map((e) => (e.id === ent.id ? ent : e)) }, rules }, current);
}

/**
 * The device first, the only one in its enterprise: what a registration can get wrong is its own
 * (a point id listed twice, a point a template's rule cannot take; a body the API's shapes refuse
 * never comes here), and it then costs the device, not the enterprise's hundreds (0.3–0.5 s of the
 * main thread at 500 devices of 256 points). With fewer devices beside it the check finds no
 * problem the whole one would not (its alarm device, which names another, is left out); the
 * problems are named where the whole check names them, at the device's place `at` in enterprise `e`.
 */
function checkOnItsOwn(file: object, enterprises: readonly { alarmDevice?: unknown }[], e: number, entry: RegisteredDevice, at: number, source: string): LoadedRegistry {
  const alone = { ...file, enterprises: enterprises.map(({ alarmDevice: _, ...rest }, i) => ({ ...rest, devices: i === e ? [entry.device] : [] })) };
  try {
    return validateRegistry(alone, source);
  } catch (err) {
    if (!(err instanceof RegistryError)) throw err;
    const here = `enterprises[${e}].devices[0]`;
    throw new RegistryError(source, err.problems.map((p) => (p.startsWith(here) ? `enterprises[${e}].devices[${at}]${p.slice(here.length)}` : p)));
  }
}
