import { RegistryError, validateRegistry } from './load.ts';
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
 * The registry in force with one more registered device. `inForce` are the registered devices the
 * registry in force holds, so the file with them validated: a problem now is the new device's, and
 * it is refused with it. Validated once: `composeRegistry` finds which registered devices still fit
 * a changed file by validating the registry once per registered device, and a registration the
 * registry refused ran that search (at 2 000 devices and six registered, one refused registration
 * held the main thread, and every alarm, 3.2 s; at 500 registered it would have been minutes).
 */
export function composeWithDevice(raw: unknown, inForce: readonly RegisteredDevice[], entry: RegisteredDevice, source: string): Registry {
  const { raw: merged, skipped } = withRegisteredDevices(raw, [...inForce, entry]);
  const off = skipped.find((s) => s.id === entry.device.id);
  if (off) throw new RegistryError(source, [off.why]);
  // not given the file's lines: the problem is in the device registered, which has none there
  return new Registry(validateRegistry(merged, source));
}
