/**
 * Values crossing the WASM boundary for builtins the runtime provides in JavaScript. Arguments
 * arrive as JSON text (`opa_json_dump`); results go back as Rego value text (`opa_value_parse`),
 * so a builtin can return a set. Integers beyond 2^53 (nanosecond timestamps) travel as `bigint`
 * in both directions, so no digit is lost the way `JSON.parse` would lose it.
 *
 * @module
 */

/** A Rego set returned by a builtin (arrays stay arrays). */
export class RegoSet {
  readonly items: unknown[]
  constructor(items: Iterable<unknown>) {
    this.items = [...items]
  }
}

/** A number given as its exact decimal text (e.g. `0.0010000000` from `units.parse`). */
export class RawNumber {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** A JSON/Rego value as builtins see it: numbers that are exact integers beyond 2^53 are bigints. */
export type Value = null | boolean | number | bigint | string | Value[] | { [key: string]: Value }

/** The third argument of a `JSON.parse` reviver (Node ≥ 21: the source text of primitives). */
interface ReviverContext {
  source?: string
}

const INTEGER = /^-?\d+$/

/** Parses JSON text, keeping integers that a double cannot hold exactly as `bigint`. */
export function parseValue(text: string): Value {
  return JSON.parse(text, function (this: unknown, _key: string, value: unknown, context?: ReviverContext) {
    if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && INTEGER.test(context.source)) return BigInt(context.source)
    return value
  } as (this: unknown, key: string, value: unknown) => unknown) as Value
}

/** Serialises a builtin's result as Rego value text (JSON plus sets and bigints). Throws on values Rego cannot hold. */
export function toRegoText(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError('not a finite number')
      return JSON.stringify(value)
    case 'bigint':
      return value.toString()
    case 'string':
      return JSON.stringify(value)
    case 'object': {
      if (value instanceof RawNumber) return value.text
      if (value instanceof RegoSet) return value.items.length === 0 ? 'set()' : `{${value.items.map(toRegoText).join(',')}}`
      if (Array.isArray(value)) return `[${value.map(toRegoText).join(',')}]`
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${toRegoText(v)}`).join(',')}}`
    }
    default:
      throw new TypeError(`a builtin returned a ${typeof value}`)
  }
}

/** A builtin's operand error: the call is undefined, as in OPA (builtin errors are not fatal by default). */
export class OperandError extends Error {}

export function str(v: unknown, pos: number): string {
  if (typeof v !== 'string') throw new OperandError(`operand ${pos} must be string`)
  return v
}

export function num(v: unknown, pos: number): number | bigint {
  if (typeof v !== 'number' && typeof v !== 'bigint') throw new OperandError(`operand ${pos} must be number`)
  return v
}

/** An integer operand (OPA's IntOperand: a number with no fractional part). */
export function int(v: unknown, pos: number): bigint {
  const n = num(v, pos)
  if (typeof n === 'bigint') return n
  if (!Number.isInteger(n)) throw new OperandError(`operand ${pos} must be integer`)
  return BigInt(n)
}

/** A small integer operand (fits a JavaScript number exactly). */
export function smallInt(v: unknown, pos: number): number {
  const n = int(v, pos)
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new OperandError(`operand ${pos} is too large`)
  return Number(n)
}

/** Strings of an array or set operand (sets arrive as arrays). */
export function strings(v: unknown, pos: number): string[] {
  if (typeof v === 'string') return [v]
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new OperandError(`operand ${pos} must be string, array of strings or set of strings`)
  return v as string[]
}

/** Returns a normal number when the bigint fits exactly, else the bigint (results keep every digit). */
export function exact(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n
}
