import { createHash } from 'node:crypto';
import type { RuleDef } from '../../rules/schema.ts';
import type { RegistryChange } from './change.ts';
import { composeRegistry } from './compose.ts';
import { RegistryError, readYaml, type LoadedRegistry } from './load.ts';
import type { RegisteredDevice } from './registered-devices.ts';

/** A registry as digests of its parts: the file beside its enterprises, key by key; each enterprise with its devices' rules. */
export interface RegistryParts {
  rest: Map<string, string>;
  enterprises: Map<string, string>;
}

export interface FileCheckAsk {
  text: string;
  source: string;
  registered: RegisteredDevice[];
  /** the parts of the registry the service holds as it came from the file (registrations since aside); none: the whole is answered */
  before?: RegistryParts;
  /**
   * enterprises the service changed since `before` (devices registered): answered whatever their
   * digest. A device registered since, which the file now sets aside (its id the file's, in another
   * enterprise), left its enterprise as `before` had it, and the service kept its copy with the device
   */
  touched?: string[];
}

export type FileCheckAnswer =
  | {
      ok: true;
      /** the file as read (a registration is checked against it) */
      raw: unknown;
      /** what changed since `before`; the whole without it */
      change: RegistryChange;
      /** this registry's parts: the next check's `before` */
      parts: RegistryParts;
      /** registered devices the file no longer fits, with the reason */
      skipped: { id: string; why: string }[];
    }
  | { ok: false; problems: string[] };

/**
 * An edited registry file read and checked whole: its YAML, the schema, the templates, and the
 * registered devices against it. At 10 000 devices that is 4–6 s of a core, done off the main
 * thread (check-thread.ts), where the MQTT edge and the alarms run. The answer is what changed
 * since the registry the service holds, found by digests of its parts: the service takes only
 * that, and keeps its own objects for the rest (what follows the registry keeps what they carry).
 * `keep`: only the parts, of the file the service read at its start, for the first edit to
 * compare with.
 */
export function checkFile(ask: FileCheckAsk, keep = false): FileCheckAnswer | { ok: true; parts: RegistryParts } {
  let raw: unknown;
  let composed: ReturnType<typeof composeRegistry>;
  try {
    raw = readYaml(ask.text, ask.source);
    composed = composeRegistry(raw, ask.registered, ask.source);
  } catch (e) {
    if (e instanceof RegistryError) return { ok: false, problems: e.problems };
    throw e;
  }
  const loaded = composed.registry.loaded;
  const parts = partsOf(loaded);
  if (keep) return { ok: true, parts };
  const change = ask.before ? changeSince(ask.before, loaded, parts, new Set(ask.touched)) : { whole: loaded };
  return { ok: true, raw, change, parts, skipped: composed.skipped };
}

const digest = (v: unknown) => createHash('sha256').update(JSON.stringify(v) ?? '').digest('base64');

export function partsOf(loaded: LoadedRegistry): RegistryParts {
  const { enterprises, ...rest } = loaded.file;
  return {
    rest: new Map(Object.entries(rest).map(([k, v]) => [k, digest(v)])),
    enterprises: new Map(enterprises.map((e) => [e.id, digest([e, e.devices.map((d) => loaded.rules.get(d.id) ?? null)])])),
  };
}

/**
 * What `loaded` changed since the registry whose parts are `before`. Parts that digest alike are
 * the same: the service keeps its own objects for them.
 */
export function changeSince(before: RegistryParts, loaded: LoadedRegistry, parts = partsOf(loaded), touched: ReadonlySet<string> = new Set()): RegistryChange {
  const whole = { whole: loaded };
  if (parts.rest.size !== before.rest.size || [...parts.rest.keys()].some((k) => !before.rest.has(k))) return whole;
  const { enterprises, ...fileRest } = loaded.file;
  const rest: Partial<typeof fileRest> = {};
  for (const k of Object.keys(fileRest) as (keyof typeof fileRest)[]) if (before.rest.get(k) !== parts.rest.get(k)) Object.assign(rest, { [k]: fileRest[k] });
  const changed = enterprises.filter((e) => touched.has(e.id) || before.enterprises.get(e.id) !== parts.enterprises.get(e.id));
  // rules of a device in no enterprise would be lost on the way: the whole, then (none are made so)
  if (loaded.rules.size !== enterprises.reduce((n, e) => n + e.devices.length, 0)) return whole;
  const rules = changed.flatMap((e) => e.devices.map((d): [string, RuleDef[]] => [d.id, loaded.rules.get(d.id) ?? []]));
  // `from`: the holder applies it to the registry it holds (the pipeline's numbering is its own)
  return { from: 0, rest, order: enterprises.map((e) => e.id), changed, rules };
}
