import { compileExpression } from 'filtrex';
import jsep, { type Expression } from 'jsep';
import type { Value } from '../domain/types.ts';

/**
 * Conditions over several points (`cooling_water_flow < 30 or cooling_water_pressure < 0.2`) in
 * filtrex's language: a small expression language with no access to anything but the values
 * given, no eval of user text, no loops. filtrex says what is a condition (registry validation)
 * and what it means. A point with no value yet makes the condition false rather than guessing.
 *
 * What an interlock checks on every reading (names, numbers, true/false, comparisons, arithmetic,
 * and/or/not) runs as closures built once over jsep's syntax tree, because a filtrex evaluation
 * allocates about 250 bytes (its call table, a descriptor per name, a closure per comparison):
 * at ten thousand devices that garbage, not the comparisons, was most of what an interlock cost,
 * and in a large heap every collection of it costs more. Anything else (functions, `in`, `if`,
 * `mod`, `^`, chained comparisons) is evaluated by filtrex itself. The two answer alike:
 * test/unit/expression.test.ts checks them against each other on generated expressions.
 */
export class ExpressionError extends Error {}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'if', 'then', 'else', 'mod', 'of', 'true', 'false', 'abs', 'ceil', 'floor', 'log', 'log2', 'log10', 'max', 'min', 'round', 'sqrt', 'exists', 'empty']);

export interface Condition {
  (values: Record<string, Value>): boolean;
  /** the point names the expression reads */
  names: string[];
  /** evaluated by the closures built here, not by filtrex (see above) */
  direct: boolean;
}

const CONSTANTS = { true: true, false: false };

/**
 * What filtrex reads but a condition over a device's points may not hold: each either cannot
 * work on numbers and true/false (a condition with it never holds, silently), stalls the
 * pipeline, or means something other than what a person reads.
 */
const REFUSED: readonly (readonly [RegExp, string])[] = [
  [/["']/, 'text in quotes: a point is named bare (cooling_water_flow), and its value is a number or true/false'],
  [/~=/, '"~=" matches text, and a point holds a number or true/false (a pattern can also take minutes to match, holding every reading)'],
  [/\$/, '"$" is no part of a point\'s name'],
  // filtrex reads `power_kw.`, `power_kw.1` and `a.b` as names of their own
  [/[A-Za-z_][A-Za-z0-9_]*\./, 'a name with a dot: points are named without one'],
  [/\bof\b/, '"of" reads a property, and a point\'s value has none'],
  // filtrex writes the number into JavaScript as it is, where 040 is octal: 32
  [/(?<![\w.])0\d/, 'a number with a leading zero (filtrex would read 040 as 32): write 40'],
];

/** Conditions compiled so far, by source: a fleet's devices share their templates' conditions. */
const compiled = new Map<string, Condition>();
const MAX_COMPILED = 10_000;

export function compileCondition(source: string): Condition {
  let c = compiled.get(source);
  if (!c) {
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(source, (c = compile(source)));
  }
  return c;
}

function compile(source: string): Condition {
  for (const [pattern, why] of REFUSED) if (pattern.test(source)) throw new ExpressionError(`the condition "${source}" is not taken: ${why}`);
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
  const direct = built(source);
  const cond = (
    direct
      ? (values: Record<string, Value>) => {
          const r = direct(values);
          return r === true || r === 1;
        }
      : (values: Record<string, Value>) => {
          let all = true;
          for (let i = 0; i < names.length && all; i++) all = values[names[i]] !== undefined;
          if (!all) {
            missed = false;
            const r = lenient(values);
            // `a or b` with `a` true never reads `b`: such a condition holds without it, as before
            return !missed && (r === true || r === 1);
          }
          // filtrex returns its errors (a value of a type its operator does not take): anything but true is false
          const r = fn(values);
          return r === true || r === 1;
        }
  ) as Condition;
  cond.names = names;
  cond.direct = direct !== null;
  return cond;
}

/**
 * What a part of a condition evaluates to, or UNDECIDED: it read a name with no value, or a value
 * of a type its operator does not take. filtrex answers both with an error (or, for a missing
 * name, a value noted as missed) and the condition is false; here UNDECIDED carries that to the
 * top. An operator that never reads a part (`a or b` with `a` true) is not undecided by it.
 */
type Part = (values: Record<string, Value>) => unknown;
const UNDECIDED: unknown = Object.freeze({ undecided: true });

// filtrex's words for the logical operators, at the precedence its `or` and `and` have
jsep.addBinaryOp('or', 1);
jsep.addBinaryOp('and', 2);
jsep.addUnaryOp('not');

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SWALLOWING_KEYWORD = /(?:and|or|not|in|of|if|then|else|mod)[^\w\s]/;
const RELATIONS = new Set(['==', '!=', '<', '<=', '>', '>=']);

/** The condition as closures, or null when it uses anything outside the part built here. */
function built(source: string): Part | null {
  // filtrex's keywords take the character after them with them: `not-a` is `not a` to filtrex
  if (SWALLOWING_KEYWORD.test(source)) return null;
  let tree: Expression;
  try {
    tree = jsep(source);
  } catch {
    return null;
  }
  return part(tree);
}

function part(e: Expression): Part | null {
  switch (e.type) {
    case 'Identifier': {
      const name = e.name as string;
      if (!NAME.test(name) || KEYWORDS.has(name)) return null;
      // own values only: `toString` is no point of a plain object
      return (v) => {
        const x = v[name];
        return x !== undefined && Object.hasOwn(v, name) ? x : UNDECIDED;
      };
    }
    case 'Literal': {
      const c = e.value;
      if (!(typeof c === 'boolean' || (typeof c === 'number' && Number.isFinite(c)))) return null;
      return () => c;
    }
    case 'UnaryExpression': {
      const a = part(e.argument as Expression);
      if (!a) return null;
      if (e.operator === 'not')
        return (v) => {
          const x = a(v);
          return typeof x === 'boolean' ? !x : UNDECIDED;
        };
      if (e.operator === '-')
        return (v) => {
          const x = a(v);
          return typeof x === 'number' ? -x : UNDECIDED;
        };
      return null;
    }
    case 'BinaryExpression':
      return binary(e.operator as string, e.left as Expression, e.right as Expression);
    default:
      return null;
  }
}

const isRelation = (e: Expression) => e.type === 'BinaryExpression' && RELATIONS.has(e.operator as string);

function binary(op: string, left: Expression, right: Expression): Part | null {
  // filtrex reads `a < b == c` as a chain (`a < b and b == c`); jsep's tree cannot tell it from
  // `(a < b) == c`, so both are left to filtrex
  if (RELATIONS.has(op) && (isRelation(left) || isRelation(right))) return null;
  const l = part(left);
  const r = part(right);
  if (!l || !r) return null;
  switch (op) {
    case 'and':
      return (v) => {
        const x = l(v);
        if (typeof x !== 'boolean') return UNDECIDED;
        if (!x) return false;
        const y = r(v);
        return typeof y === 'boolean' ? y : UNDECIDED;
      };
    case 'or':
      return (v) => {
        const x = l(v);
        if (typeof x !== 'boolean') return UNDECIDED;
        if (x) return true;
        const y = r(v);
        return typeof y === 'boolean' ? y : UNDECIDED;
      };
    case '==':
      return (v) => {
        const x = l(v);
        const y = x === UNDECIDED ? x : r(v);
        return y === UNDECIDED ? y : x === y;
      };
    case '!=':
      return (v) => {
        const x = l(v);
        const y = x === UNDECIDED ? x : r(v);
        return y === UNDECIDED ? y : x !== y;
      };
    case '<':
      return numbers(l, r, (x, y) => x < y);
    case '<=':
      return numbers(l, r, (x, y) => x <= y);
    case '>':
      return numbers(l, r, (x, y) => x > y);
    case '>=':
      return numbers(l, r, (x, y) => x >= y);
    case '+':
      return numbers(l, r, (x, y) => x + y);
    case '-':
      return numbers(l, r, (x, y) => x - y);
    case '*':
      return numbers(l, r, (x, y) => x * y);
    case '/':
      return numbers(l, r, (x, y) => x / y);
    default:
      return null;
  }
}

/** An operator over two numbers (filtrex's `+` also joins text, which no condition here holds). */
function numbers(l: Part, r: Part, op: (x: number, y: number) => unknown): Part {
  return (v) => {
    const x = l(v);
    if (typeof x !== 'number') return UNDECIDED;
    const y = r(v);
    return typeof y === 'number' ? op(x, y) : UNDECIDED;
  };
}
