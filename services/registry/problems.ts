import { closest, distance } from 'fastest-levenshtein';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { METRICS } from '../../domain/indicators.ts';

/**
 * Registry problems as an operator can act on them: every one at once, each with the path, the
 * ids of the enterprise, device and point it is in, its line in the file, and the name meant when
 * a name is close to a known one ("did you mean").
 */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** The known name nearest to a misspelt one, when it is near enough to be what was meant. */
export function didYouMean(input: unknown, known: readonly string[]): string {
  if (typeof input !== 'string' || !input || !known.length) return '';
  const best = closest(input, [...known]);
  return distance(input.toLowerCase(), best.toLowerCase()) <= Math.max(2, Math.floor(input.length / 3)) && best !== input ? `; did you mean "${best}"?` : '';
}

// --- zod issues ------------------------------------------------------------------------------

type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; innerType?: z.ZodType; in?: z.ZodType; options?: z.ZodType[]; valueType?: z.ZodType };
const defOf = (s: z.ZodType) => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The schemas a path can reach (a union: each of its options). */
function schemasAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType[] {
  let here = [schema];
  const unwrap = (s: z.ZodType): z.ZodType[] => {
    const d = defOf(s);
    if (d.type === 'optional' || d.type === 'default' || d.type === 'nullable' || d.type === 'readonly' || d.type === 'catch') return unwrap(d.innerType!);
    if (d.type === 'pipe') return unwrap(d.in!);
    if (d.type === 'union') return d.options!.flatMap(unwrap);
    return [s];
  };
  for (const key of path) {
    here = here.flatMap(unwrap).flatMap((s) => {
      const d = defOf(s);
      if (d.type === 'object' && typeof key === 'string' && d.shape && Object.hasOwn(d.shape, key)) return [d.shape[key]];
      if (d.type === 'array' && typeof key === 'number') return [d.element!];
      if (d.type === 'record') return [d.valueType!];
      return [];
    });
  }
  return here.flatMap(unwrap);
}

/** The settings an object at this path takes. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return [...new Set(schemasAt(schema, path).flatMap((s) => (defOf(s).type === 'object' ? Object.keys(defOf(s).shape ?? {}) : [])))];
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const k of path) {
    if (v === null || typeof v !== 'object' || !Object.hasOwn(v, k)) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Zod's issues as problems, a misspelt setting or option with the one meant. */
export function zodProblems(prefix: readonly PropertyKey[], err: z.ZodError, schema: z.ZodType, raw: unknown): string[] {
  return err.issues.flatMap((i) => {
    const path = [...prefix, ...i.path];
    if (i.code === 'unrecognized_keys') {
      const known = keysAt(schema, i.path);
      return i.keys.map((k) => `${formatPath([...path, k])}: unknown setting "${k}"${didYouMean(k, known)}${known.length && !didYouMean(k, known) ? ` (known: ${known.join(', ')})` : ''}`);
    }
    const input = valueAt(raw, i.path);
    let hint = '';
    if (i.code === 'invalid_value') hint = didYouMean(input, i.values.map(String));
    else if (/unknown metric/.test(i.message)) hint = didYouMean(input, METRICS);
    return [`${formatPath(path) || '(root)'}: ${i.message}${hint}`];
  });
}

// --- where in the file -----------------------------------------------------------------------

/** What was read from a YAML file, with its lines, for the problems found in it. */
const sources = new WeakMap<object, { doc: Document; lines: LineCounter }>();

/** Every YAML error at once, each with its line, without the excerpt's dangling colon. */
export function readYamlDocument(text: string): { raw: unknown; errors: string[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length)
    return {
      raw: undefined,
      errors: doc.errors.map((e) => {
        const first = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
        return `line ${e.linePos?.[0].line ?? '?'}, column ${e.linePos?.[0].col ?? '?'}: not valid YAML: ${first}`;
      }),
    };
  let raw: unknown;
  try {
    // an alias bomb (aliases of aliases) is refused by the parser here, thrown: the file's problem
    raw = doc.toJS();
  } catch (e) {
    return { raw: undefined, errors: [`not valid YAML: ${(e as Error).message.split('\n')[0]}`] };
  }
  if (raw && typeof raw === 'object') sources.set(raw as object, { doc, lines });
  return { raw, errors: [] };
}

/** A copy made of what was read (devices registered through the API added) keeps its lines. */
export function sameSource(copy: unknown, original: unknown) {
  const s = original && typeof original === 'object' ? sources.get(original) : undefined;
  if (s && copy && typeof copy === 'object') sources.set(copy, s);
}

// a segment may hold spaces: a template's rule is placed at `templates.rule <id>`
const PATH = /^((?:[A-Za-z_$][\w$ -]*|\[\d+\])(?:\.[A-Za-z_$][\w$ -]*|\[\d+\])*)(?=: )/;

function parsePath(s: string): (string | number)[] {
  return [...s.matchAll(/\[(\d+)\]|([^.[\]]+)/g)].map((m) => (m[1] !== undefined ? Number(m[1]) : m[2]));
}

// a Map: path segments are the file's own keys ("constructor" among them)
const NAMED = new Map(Object.entries({ enterprises: 'enterprise', devices: 'device', points: 'point', units: 'unit', users: 'user', uplinks: 'uplink', rules: 'rule', providers: 'provider' }));

/** Each problem with its line in the file and the ids of what it is in. */
export function annotate(problems: string[], raw: unknown): string[] {
  const source = raw && typeof raw === 'object' ? sources.get(raw) : undefined;
  return problems.map((p) => {
    const m = PATH.exec(p);
    if (!m) return p;
    const path = parsePath(m[1]);
    const context: string[] = [];
    for (let i = 1; i < path.length; i++) {
      const kind = NAMED.get(String(path[i - 1]));
      if (kind && typeof path[i] === 'number') {
        const item = valueAt(raw, path.slice(0, i + 1)) as Record<string, unknown> | undefined;
        const name = item && (typeof item.id === 'string' ? item.id : typeof item.metric === 'string' ? item.metric : typeof item.name === 'string' ? item.name : undefined);
        if (name) context.push(`${kind} ${name}`);
      }
    }
    let line: number | undefined;
    if (source)
      for (let n = path.length; n > 0 && line === undefined; n--) {
        const node = source.doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
        if (node?.range) line = source.lines.linePos(node.range[0]).line;
      }
    const where = [line !== undefined ? `line ${line}` : '', context.join(', ')].filter(Boolean).join('; ');
    return where ? `${p} (${where})` : p;
  });
}
