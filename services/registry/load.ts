import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { z } from 'zod';
import { annotate, didYouMean, formatPath, readYamlDocument, zodProblems } from './problems.ts';
import { INDICATORS, isMetric } from '../../domain/indicators.ts';
import { ruleSchema, type RuleDef } from '../../rules/schema.ts';
import { TEMPLATES } from '../../rules/templates/index.ts';
import { REQUIRED_RULES } from '../../rules/templates/required.ts';
import { compileCondition } from '../../rules/expression.ts';
import { ruleMetrics } from '../../rules/kinds.ts';
import { deviceSchema, enterpriseSchema, maintenanceSchema, registrySchema, unitSchema, uplinkSchema, userSchema, type DeviceConfig, type RegistryFile } from './schema.ts';
import { followSecondLevel, furnacePoints, pointRules, standardDefaults, standardLimits, weakened } from './standards.ts';

/** A registry that failed validation: every problem, each named by its path. */
export class RegistryError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`registry ${source} refused:\n  ${problems.join('\n  ')}`);
    this.name = 'RegistryError';
  }
}

export { formatPath };

/** The largest registry file read (10 000 devices with every template's points: 4 MB) */
export const MAX_REGISTRY_BYTES = 16 * 2 ** 20;

export interface LoadedRegistry {
  file: RegistryFile;
  /** deviceId → the device's rules after templates and overrides */
  rules: Map<string, RuleDef[]>;
}

export async function readRegistryFile(path: string): Promise<unknown> {
  return readYaml((await readRegistryText(path)).text, path);
}

/**
 * The file's text and a digest of it: a reload that finds the file as it was need not read its
 * YAML again (2.5–3 s of the main thread for a file of 10 000 devices).
 */
export async function readRegistryText(path: string): Promise<{ text: string; digest: string }> {
  const cannot = (e: NodeJS.ErrnoException) => {
    throw new RegistryError(path, [e.code === 'ENOENT' ? `there is no file ${path}: set CONFIG (or --config) to the site registry` : `cannot read ${path}: ${e.code ?? e.message}`]);
  };
  // a registry of 10 000 devices is 4 MB; read, a 100 MB file took 4.6 GB and ended the service
  const { size } = await stat(path).catch(cannot);
  if (size > MAX_REGISTRY_BYTES) throw new RegistryError(path, [`(root): the file is ${Math.round(size / 2 ** 20)} MiB, more than the ${MAX_REGISTRY_BYTES / 2 ** 20} MiB a registry may be`]);
  const text = await readFile(path, 'utf8').catch(cannot);
  return { text, digest: createHash('sha256').update(text).digest('hex') };
}

export function parseRegistry(text: string, source = 'registry'): LoadedRegistry {
  return validateRegistry(readYaml(text, source), source);
}

export function readYaml(text: string, source: string): unknown {
  const { raw, errors } = readYamlDocument(text);
  if (errors.length) throw new RegistryError(source, errors);
  return raw;
}

/** Validate a registry already read from YAML (or built in code, as registered devices are added). */
export function validateRegistry(raw: unknown, source: string): LoadedRegistry {
  try {
    return validate(raw, source);
  } catch (e) {
    throw e instanceof RegistryError ? new RegistryError(source, annotate(e.problems, raw)) : e;
  }
}

function validate(raw: unknown, source: string): LoadedRegistry {
  const parsed = registrySchema.safeParse(raw ?? {});
  // every problem at once: what the well-formed rest of the file has is found too
  if (!parsed.success) throw new RegistryError(source, [...zodProblems([], parsed.error, registrySchema, raw), ...salvagedProblems(raw, source)]);
  const file = parsed.data;
  const problems = crossCheck(file);
  const rules = new Map<string, RuleDef[]>();
  file.enterprises.forEach((ent, e) =>
    ent.devices.forEach((dev, d) => {
      const resolved = resolveDeviceRules(dev, ['enterprises', e, 'devices', d]);
      problems.push(...resolved.problems);
      rules.set(dev.id, resolved.rules);
    }),
  );
  if (problems.length) throw new RegistryError(source, problems);
  return { file, rules };
}

/**
 * With the file not well formed: the problems the rest of it has (references, rules), found by
 * checking what is well formed, so that the operator sees every problem at once, not one stage
 * at a time. Items that are not well formed are left out; the others keep their positions.
 */
const ITEMS = { units: unitSchema, enterprises: enterpriseSchema, users: userSchema, uplinks: uplinkSchema, maintenance: maintenanceSchema } as const;

function salvagedProblems(raw: unknown, source: string): string[] {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return [];
  const kept: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const positions = new Map<string, number[]>();
  for (const [key, schema] of Object.entries(ITEMS)) {
    const list = kept[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) {
      delete kept[key];
      continue;
    }
    const at: number[] = [];
    const good: unknown[] = [];
    list.forEach((item, i) => {
      // an enterprise is kept with its well-formed devices
      const candidate = key === 'enterprises' ? withGoodDevices(item, i, positions) : item;
      if ((schema as z.ZodType).safeParse(candidate).success) (at.push(i), good.push(candidate));
    });
    kept[key] = good;
    positions.set(key, at);
  }
  for (const key of ['routing', 'gateway', 'limits', 'messaging'] as const)
    if (kept[key] !== undefined && !(registrySchema.shape[key] as z.ZodType).safeParse(kept[key]).success) delete kept[key];
  try {
    validate(kept, source);
    return [];
  } catch (e) {
    if (!(e instanceof RegistryError)) return [];
    return e.problems.map((p) => back(p, positions)).filter((p): p is string => p !== null);
  }
}

function withGoodDevices(ent: unknown, e: number, positions: Map<string, number[]>): unknown {
  const devices = (ent as { devices?: unknown } | null)?.devices;
  if (!ent || typeof ent !== 'object' || !Array.isArray(devices)) return ent;
  const at: number[] = [];
  const good = devices.filter((d, i) => deviceSchema.safeParse(d).success && at.push(i) > 0);
  positions.set(`enterprises.${e}.devices`, at);
  return { ...(ent as object), devices: good };
}

/** A problem found in the kept items, at its position in the file (null: not placeable). */
function back(problem: string, positions: Map<string, number[]>): string | null {
  let out = problem.replace(/^(units|enterprises|users|uplinks|maintenance)\[(\d+)\]/, (_, key: string, k: string) => `${key}[${positions.get(key)?.[Number(k)] ?? '?'}]`);
  out = out.replace(/^enterprises\[(\d+)\]\.devices\[(\d+)\]/, (_, e: string, d: string) => `enterprises[${e}].devices[${positions.get(`enterprises.${e}.devices`)?.[Number(d)] ?? '?'}]`);
  return out.includes('[?]') ? null : out;
}

/** References between parts of the registry that a schema of one part cannot see. */
function crossCheck(file: RegistryFile): string[] {
  const problems: string[] = [];
  const unitIds = new Set<string>();
  file.units.forEach((u, i) => {
    if (unitIds.has(u.id)) problems.push(`units[${i}].id: duplicate unit id "${u.id}"`);
    unitIds.add(u.id);
    if (u.kind !== 'enterprise' && u.regions.length === 0) problems.push(`units[${i}].regions: a ${u.kind} unit needs the regions it covers`);
  });
  const providers = new Set(file.messaging.providers.map((p) => p.id));
  file.units.forEach((u, i) => {
    for (const k of ['sms', 'voice'] as const) {
      const choice = u[k];
      if (typeof choice === 'string' && !providers.has(choice)) problems.push(`units[${i}].${k}: no provider "${choice}" in messaging.providers`);
    }
  });
  const entIds = new Set<string>();
  const deviceIds = new Map<string, string>();
  const panels = new Map<string, string>();
  file.enterprises.forEach((ent, e) => {
    const at = `enterprises[${e}]`;
    if (entIds.has(ent.id)) problems.push(`${at}.id: duplicate enterprise id "${ent.id}"`);
    entIds.add(ent.id);
    ent.units.forEach((u, i) => {
      if (!unitIds.has(u)) problems.push(`${at}.units[${i}]: no unit "${u}"${didYouMean(u, [...unitIds])}`);
    });
    ent.devices.forEach((dev, d) => {
      // the device id is the MQTT username, so it must be unique across the whole registry
      const other = deviceIds.get(dev.id);
      if (other) problems.push(`${at}.devices[${d}].id: device id "${dev.id}" is already used in ${other}`);
      deviceIds.set(dev.id, `${at}.devices[${d}]`);
      if (dev.panelAddress !== undefined) {
        const address = String(Number(dev.panelAddress));
        const taken = panels.get(address);
        if (taken) problems.push(`${at}.devices[${d}].panelAddress: panel address ${address} is already used in ${taken}`);
        panels.set(address, `${at}.devices[${d}]`);
      }
      const seen = new Set<string>();
      dev.points.forEach((p, i) => {
        const where = `${at}.devices[${d}].points[${i}]`;
        if (seen.has(p.id)) problems.push(p.id === p.metric ? `${where}.metric: metric "${p.metric}" listed twice; give each of its points an id` : `${where}.id: point id "${p.id}" listed twice`);
        seen.add(p.id);
        // an id that names another metric would read as that metric everywhere
        if (p.id !== p.metric && isMetric(p.id)) problems.push(`${where}.id: "${p.id}" is the name of another metric; choose another id`);
        if (p.panel && dev.panelAddress === undefined) problems.push(`${where}.panel: only a device with a panelAddress (a fire panel) has points on a panel`);
        if (p.panel && isMetric(p.metric) && INDICATORS[p.metric].type !== 'boolean') problems.push(`${where}.panel: a panel reports alarms and faults: the point's metric must be a yes/no one (smoke_alarm, gas_alarm, fire_panel_fault)`);
      });
    });
    if (ent.alarmDevice && !ent.devices.some((d) => d.id === ent.alarmDevice))
      problems.push(`${at}.alarmDevice: no device "${ent.alarmDevice}" in this enterprise`);
  });
  file.users.forEach((u, i) => {
    if (u.role === 'enterprise' && u.enterprise && !entIds.has(u.enterprise)) problems.push(`users[${i}].enterprise: no enterprise "${u.enterprise}"${didYouMean(u.enterprise, [...entIds])}`);
  });
  problems.push(...checkUplinks(file, entIds));
  file.maintenance.forEach((m, i) => {
    if (!entIds.has(m.enterprise)) problems.push(`maintenance[${i}].enterprise: no enterprise "${m.enterprise}"${didYouMean(m.enterprise, [...entIds])}`);
    if (Date.parse(m.to) <= Date.parse(m.from)) problems.push(`maintenance[${i}].to: must be after from`);
    else if (Date.parse(m.to) - Date.parse(m.from) > file.limits.maxSilenceH * 3_600_000)
      problems.push(`maintenance[${i}].to: a maintenance window may last at most ${file.limits.maxSilenceH} h (limits.maxSilenceH); register the next one when it comes`);
  });
  return problems;
}

/** Uplinks name enterprises that exist, cover someone, and points name uplinks that exist. */
function checkUplinks(file: RegistryFile, entIds: Set<string>): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  file.uplinks.forEach((u, i) => {
    if (ids.has(u.id)) problems.push(`uplinks[${i}].id: duplicate uplink id "${u.id}"`);
    ids.add(u.id);
    u.enterprises.forEach((e, j) => {
      if (!entIds.has(e)) problems.push(`uplinks[${i}].enterprises[${j}]: no enterprise "${e}"${didYouMean(e, [...entIds])}`);
    });
    if (!u.enterprises.length && !u.regions.length) problems.push(`uplinks[${i}]: say which enterprises it covers (enterprises or regions)`);
    if (u.kind !== 'mqtt')
      for (const e of Object.keys(u.enterpriseCodes)) if (!entIds.has(e)) problems.push(`uplinks[${i}].enterpriseCodes.${e}: no enterprise "${e}"`);
  });
  file.enterprises.forEach((ent, e) =>
    ent.devices.forEach((dev, d) =>
      dev.points.forEach((p, k) => {
        for (const u of Object.keys(p.codes ?? {}))
          if (!ids.has(u)) problems.push(`enterprises[${e}].devices[${d}].points[${k}].codes.${u}: no uplink "${u}"`);
      }),
    ),
  );
  return problems;
}

/**
 * Templates give a device the rules of its industry for the points it has (the data-quality
 * rules apply to every device); the device's own entries override a template rule by id (field
 * by field) or add an inline rule.
 */
function resolveDeviceRules(dev: DeviceConfig, at: PropertyKey[]): { rules: RuleDef[]; problems: string[] } {
  const points = new Set(dev.points.map((p) => p.metric));
  const byId = new Map<string, Record<string, unknown>>();
  /** the template's rule as the device gets it, before the site's override */
  const fromTemplate = new Map<string, RuleDef>();
  for (const t of ['data_quality', ...dev.templates, 'points'] as const) {
    for (const rule of t === 'points' ? pointRules(dev) : TEMPLATES[t]) {
      const parsed = ruleSchema.safeParse({ ...rule, ...standardDefaults(rule, dev) });
      const fits = parsed.success && ruleMetrics(parsed.data).metrics.every((m) => points.has(m));
      if (fits && !byId.has(rule.id)) {
        const cite = REQUIRED_RULES.get(rule.id);
        byId.set(rule.id, { ...(cite ? { description: `依据 / required by ${cite}` } : {}), ...rule, ...standardDefaults(rule, dev) });
        fromTemplate.set(rule.id, parsed.data);
      }
    }
  }
  const problems: string[] = furnacePoints(dev).map((p) => `${formatPath(at)}${p}`);
  const origin = new Map<string, PropertyKey[]>();
  dev.rules.forEach((entry, i) => {
    byId.set(entry.id, { ...byId.get(entry.id), ...entry });
    origin.set(entry.id, [...at, 'rules', i]);
  });
  followSecondLevel(byId, new Set(dev.rules.map((r) => r.id)));
  const rules: RuleDef[] = [];
  for (const [ruleId, candidate] of byId) {
    const path = origin.get(ruleId) ?? [...at, 'templates', `rule ${ruleId}`];
    const parsed = ruleSchema.safeParse(candidate);
    if (!parsed.success) {
      problems.push(...zodProblems(path, parsed.error, ruleSchema, candidate));
      continue;
    }
    const rule = parsed.data;
    const template = fromTemplate.get(ruleId);
    const found = [...checkRule(rule, points, dev), ...(template ? weakened(template, rule).map((p) => `: ${p}`) : [])].map((p) => `${formatPath(path)}${p}`);
    problems.push(...found);
    if (!found.length) rules.push(rule);
  }
  return { rules, problems };
}

/**
 * A rule's points must be the device's, its guards switches, its condition readable. A rule runs
 * once per point of the metric it judges; the other metrics it reads (guard, switch, feedback of
 * a condition) must each have one point, or which one it means is not said.
 */
function checkRule(rule: RuleDef, points: Set<string>, dev: DeviceConfig): string[] {
  const problems: string[] = [];
  if (rule.kind === 'interlock') {
    try {
      compileCondition(rule.when);
    } catch (e) {
      return [`.when: ${(e as Error).message}`];
    }
  }
  const { metrics, switches } = ruleMetrics(rule);
  const field = (m: string) => ('metric' in rule && rule.metric === m ? '.metric' : 'guard' in rule && rule.guard === m ? '.guard' : '');
  for (const m of metrics) {
    if (!isMetric(m)) problems.push(`${field(m)}: unknown metric "${m}"`);
    else if (!points.has(m)) problems.push(`${field(m)}: the device has no point "${m}"`);
  }
  for (const m of switches) if (isMetric(m) && INDICATORS[m].type !== 'boolean') problems.push(`${field(m)}: "${m}" is not a switch (boolean metric)`);
  const count = (m: string) => dev.points.filter((p) => p.metric === m).length;
  const judged = 'metric' in rule && typeof rule.metric === 'string' ? [rule.metric] : rule.kind === 'interlock' ? compileCondition(rule.when).names : [];
  const several = judged.filter((m) => count(m) > 1);
  if (rule.kind === 'interlock' && several.length > 1) problems.push(`.when: the condition reads ${several.join(' and ')}, each with several points: a rule runs per point of one metric`);
  for (const m of switches) if (count(m) > 1) problems.push(`${field(m)}: "${m}" has several points on this device; a guard or switch must be one`);
  if ('point' in rule && rule.point !== undefined) {
    const p = dev.points.find((x) => x.id === rule.point);
    if (!p) problems.push(`.point: the device has no point "${rule.point}"`);
    else if ('metric' in rule && p.metric !== rule.metric) problems.push(`.point: point "${rule.point}" measures ${p.metric}, not ${String(rule.metric)}`);
  }
  problems.push(...standardLimits(rule, dev.points).map((p) => `: ${p}`));
  return problems;
}

