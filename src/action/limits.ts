/**
 * Bounds on an incoming JSON-RPC message, checked before and while it is parsed.
 *
 * @module
 */

/** Limits applied to every message. Every field is optional; defaults below. */
export interface MessageLimits {
  /** Largest message in bytes (UTF-8). Default 1 MiB (1_048_576). */
  maxBytes?: number
  /** Deepest nesting of arrays/objects. Default 64. */
  maxDepth?: number
  /** Longest string (key or value) in UTF-16 code units. Default 65_536. */
  maxStringLength?: number
  /** Most tool/prompt arguments (top-level keys of `params.arguments`). Default 256. */
  maxArguments?: number
}

/** The defaults of {@link MessageLimits}. */
export const DEFAULT_MESSAGE_LIMITS: Readonly<Required<MessageLimits>> = Object.freeze({
  maxBytes: 1_048_576,
  maxDepth: 64,
  maxStringLength: 65_536,
  maxArguments: 256,
})

const resolvedLimits = new WeakSet<object>([DEFAULT_MESSAGE_LIMITS])

/**
 * Fills in defaults and fails fast on nonsense values with a TypeError naming the option. A
 * resolved object is recognised on later calls and returned as is (no work per message).
 */
export function resolveLimits(limits: MessageLimits | undefined): Readonly<Required<MessageLimits>> {
  if (limits === undefined) return DEFAULT_MESSAGE_LIMITS
  if (resolvedLimits.has(limits)) return limits as Required<MessageLimits>
  const resolved = Object.freeze({ ...DEFAULT_MESSAGE_LIMITS, ...limits })
  for (const [name, value] of Object.entries(resolved)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new TypeError(`limits.${name} must be a positive integer`)
  }
  resolvedLimits.add(resolved)
  return resolved
}

/**
 * Nesting depth of a JSON text, scanning bytes outside strings; stops as soon as `max` is passed.
 * Run before JSON.parse so a deeply nested body costs O(n), not a stack overflow.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped char
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return false
}

/** Whether a parsed value nests deeper than `maxDepth` or holds a string longer than `maxString`. */
export function valueExceeds(value: unknown, maxDepth: number, maxString: number): 'depth' | 'string' | undefined {
  // The recursive walk allocates nothing; its depth is bounded by maxDepth, so deep limits take the loop.
  return maxDepth <= RECURSION_MAX ? exceeds(value, 0, maxDepth, maxString) : exceedsIteratively(value, maxDepth, maxString)
}

/** Deepest limit walked recursively. */
const RECURSION_MAX = 256

/**
 * The walk of {@link exceedsIteratively}, in the same order (an object's keys before its values,
 * children last to first), so both report the same bound when a value breaks two.
 */
function exceeds(v: unknown, d: number, maxDepth: number, maxString: number): 'depth' | 'string' | undefined {
  if (typeof v === 'string') return v.length > maxString ? 'string' : undefined
  if (v === null || typeof v !== 'object') return undefined
  if (d >= maxDepth) return 'depth'
  if (Array.isArray(v)) {
    for (let i = v.length - 1; i >= 0; i--) {
      const r = exceeds(v[i], d + 1, maxDepth, maxString)
      if (r !== undefined) return r
    }
    return undefined
  }
  const keys = Object.keys(v)
  for (const key of keys) if (key.length > maxString) return 'string'
  for (let i = keys.length - 1; i >= 0; i--) {
    const r = exceeds((v as Record<string, unknown>)[keys[i] as string], d + 1, maxDepth, maxString)
    if (r !== undefined) return r
  }
  return undefined
}

/** {@link valueExceeds} with an explicit stack, for any depth. */
export function exceedsIteratively(value: unknown, maxDepth: number, maxString: number): 'depth' | 'string' | undefined {
  const stack: Array<[unknown, number]> = [[value, 0]]
  while (stack.length > 0) {
    const [v, d] = stack.pop()!
    if (typeof v === 'string') {
      if (v.length > maxString) return 'string'
    } else if (v !== null && typeof v === 'object') {
      if (d >= maxDepth) return 'depth'
      if (Array.isArray(v)) for (const item of v) stack.push([item, d + 1])
      else
        for (const key of Object.keys(v)) {
          if (key.length > maxString) return 'string'
          stack.push([(v as Record<string, unknown>)[key], d + 1])
        }
    }
  }
  return undefined
}
