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

export function compileCondition(source: string): Condition {
  let fn: (data: object) => unknown;
  try {
    // no customProp: filtrex then reads own properties only, and answers a missing one with its
    // UnknownPropertyError (returned, not thrown), which is false below. A hook would cost two
    // allocations per name on every evaluation.
    fn = compileExpression(source, { constants: { true: true, false: false } });
  } catch (e) {
    throw new ExpressionError(`cannot read the condition "${source}": ${(e as Error).message.split('\n').slice(0, 3).join(' ')}`);
  }
  const names = [...new Set(source.replace(/"[^"]*"|'[^']*'/g, '').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])].filter((n) => !KEYWORDS.has(n));
  const cond = ((values: Record<string, Value>) => {
    try {
      const r = fn(values);
      return r === true || r === 1;
    } catch (e) {
      if ((e as { I18N_STRING?: string }).I18N_STRING === 'UNKNOWN_PROPERTY') return false;
      throw e;
    }
  }) as Condition;
  cond.names = names;
  return cond;
}
