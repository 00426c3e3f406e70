import { compileExpression } from 'filtrex';
import type { Value } from '../domain/types.ts';

/**
 * Conditions over several points (`cooling_water_flow < 30 or cooling_water_pressure < 0.2`),
 * compiled once by filtrex: a small expression language with no access to anything but the
 * values given, no eval of user text, no loops. A point with no value yet makes the condition
 * false rather than guessing.
 */
export class ExpressionError extends Error {}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'if', 'then', 'else', 'mod', 'true', 'false', 'abs', 'ceil', 'floor', 'log', 'log2', 'log10', 'max', 'min', 'round', 'sqrt', 'exists', 'empty']);

export interface Condition {
  (values: Record<string, Value>): boolean;
  /** the point names the expression reads */
  names: string[];
}

const CONSTANTS = { true: true, false: false };

export function compileCondition(source: string): Condition {
  let fn: (data: object) => unknown;
  let lenient: (data: object) => unknown;
  // set by `lenient` when the condition read a name that has no value
  let missed = false;
  try {
    // no customProp: filtrex then reads own properties only. A hook costs two allocations per
    // name on every evaluation, so it is kept for values with a name missing.
    fn = compileExpression(source, { constants: CONSTANTS });
    // for values with a name missing: the name reads as NaN and is noted, and the condition is
    // false as with filtrex's error, which costs 1.4–6 µs to build (its stack trace). A device
    // that never sends a point its interlock names paid that on every reading, more than the
    // whole rule set of a device costs.
    lenient = compileExpression(source, {
      constants: CONSTANTS,
      customProp: (name: string, _get: unknown, obj: Record<string, unknown>) => (Object.hasOwn(obj, name) ? obj[name] : ((missed = true), NaN)),
    });
  } catch (e) {
    throw new ExpressionError(`cannot read the condition "${source}": ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
  }
  const names = [...new Set(source.replace(/"[^"]*"|'[^']*'/g, '').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])].filter((n) => !KEYWORDS.has(n));
  const cond = ((values: Record<string, Value>) => {
    let all = true;
    for (let i = 0; i < names.length && all; i++) all = values[names[i]] !== undefined;
    if (!all) {
      missed = false;
      const r = lenient(values);
      // `a or b` with `a` true never reads `b`: such a condition holds without it, as before
      return !missed && (r === true || r === 1);
    }
    // filtrex returns its errors (a name in quotes with no value): anything but true is false
    const r = fn(values);
    return r === true || r === 1;
  }) as Condition;
  cond.names = names;
  return cond;
}
