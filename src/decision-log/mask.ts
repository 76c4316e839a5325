/**
 * Configured masks, with the semantics of OPA's `system.log.mask`: a JSON pointer into the record's
 * `input` or `result` either erases the value (`"/input/action/arguments/password"`, or
 * `{ op: 'remove', path }`) or replaces / inserts one (`{ op: 'upsert', path, value }`). Erased and
 * upserted pointers are listed in the record's `erased` / `masked` fields; a pointer that matches
 * nothing is skipped silently and not listed. Pointers use RFC 6901 escaping (`~1` for `/`, `~0` for
 * `~`).
 *
 * Masks never modify the caller's objects: the containers along the path are copied.
 *
 * @module
 */

/** One mask: a JSON pointer string (erase) or an operation object. JSON-serialisable. */
export type MaskRule = string | { op?: 'remove' | 'upsert'; path: string; value?: unknown }

/** A validated mask. */
export interface CompiledMask {
  readonly op: 'remove' | 'upsert'
  /** The pointer as configured, e.g. `/input/action/arguments/password`. */
  readonly pointer: string
  /** `input` or `result`. */
  readonly root: 'input' | 'result'
  /** Unescaped segments below the root. */
  readonly segments: readonly string[]
  /** The upserted value. */
  readonly value: unknown
}

const MAX_SEGMENTS = 64

/**
 * Splits an RFC 6901 JSON pointer into unescaped segments.
 *
 * @throws {TypeError} when the pointer is malformed.
 * @example
 * ```ts
 * parsePointer('/input/a~1b/c~0d') // ['input', 'a/b', 'c~d']
 * ```
 */
export function parsePointer(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw new TypeError(`JSON pointer ${JSON.stringify(pointer)} must start with "/"`)
  return pointer
    .slice(1)
    .split('/')
    .map((s) => {
      if (/~(?![01])/.test(s)) throw new TypeError(`JSON pointer ${JSON.stringify(pointer)} has a "~" not followed by 0 or 1`)
      return s.replaceAll('~1', '/').replaceAll('~0', '~')
    })
}

/** Escapes one segment for a JSON pointer. */
export function escapePointerSegment(segment: string): string {
  return segment.includes('~') || segment.includes('/') ? segment.replaceAll('~', '~0').replaceAll('/', '~1') : segment
}

/**
 * Validates configured masks.
 *
 * @throws {TypeError} naming the option when a mask is malformed.
 * @example
 * ```ts
 * compileMasks(['/input/action/arguments/password', { op: 'upsert', path: '/input/principal/claims/email', value: '***' }])
 * ```
 */
export function compileMasks(rules: readonly MaskRule[] | undefined, optionName = 'masks'): CompiledMask[] {
  if (rules === undefined) return []
  if (!Array.isArray(rules)) throw new TypeError(`${optionName} must be an array`)
  return rules.map((rule, i) => {
    const at = `${optionName}[${i}]`
    let op: 'remove' | 'upsert' = 'remove'
    let pointer: unknown
    let value: unknown
    if (typeof rule === 'string') pointer = rule
    else if (typeof rule === 'object' && rule !== null) {
      pointer = rule.path
      if (rule.op !== undefined) {
        if (rule.op !== 'remove' && rule.op !== 'upsert') throw new TypeError(`${at}.op must be "remove" or "upsert"`)
        op = rule.op
      }
      if (op === 'upsert') {
        if (!Object.hasOwn(rule, 'value')) throw new TypeError(`${at}.value is required when op is "upsert"`)
        try {
          value = structuredClone(rule.value)
        } catch {
          throw new TypeError(`${at}.value must be JSON-serialisable`)
        }
      }
    } else throw new TypeError(`${at} must be a JSON pointer string or { op, path, value }`)
    if (typeof pointer !== 'string') throw new TypeError(`${at}.path must be a string`)
    let segments: string[]
    try {
      segments = parsePointer(pointer)
    } catch (cause) {
      throw new TypeError(`${at}: ${(cause as Error).message}`)
    }
    const root = segments[0]
    if (root !== 'input' && root !== 'result') throw new TypeError(`${at} must start with /input or /result (got ${JSON.stringify(pointer)})`)
    if (segments.length > MAX_SEGMENTS) throw new TypeError(`${at} has more than ${MAX_SEGMENTS} segments`)
    return { op, pointer, root, segments: segments.slice(1), value }
  })
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function arrayIndex(segment: string, length: number): number | undefined {
  if (!/^(?:0|[1-9][0-9]{0,9})$/.test(segment)) return undefined
  const i = Number(segment)
  return i < length ? i : undefined
}

/** Sets an own property, even one named `__proto__`. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
  else target[key] = value
}

function withChild(node: Record<string, unknown> | unknown[], segment: string, child: unknown): Record<string, unknown> | unknown[] {
  if (Array.isArray(node)) {
    const copy = node.slice()
    copy[Number(segment)] = child
    return copy
  }
  const copy = { ...node }
  setOwn(copy, segment, child)
  return copy
}

const NOT_APPLIED = Symbol('not applied')

function removeAt(node: unknown, segments: readonly string[], i: number): unknown {
  const segment = segments[i] as string
  if (i === segments.length - 1) {
    if (Array.isArray(node)) {
      const index = arrayIndex(segment, node.length)
      if (index === undefined) return NOT_APPLIED
      const copy = node.slice()
      copy.splice(index, 1)
      return copy
    }
    if (isObject(node) && Object.hasOwn(node, segment)) {
      const copy = { ...node }
      delete copy[segment]
      return copy
    }
    return NOT_APPLIED
  }
  let child: unknown
  if (Array.isArray(node)) {
    const index = arrayIndex(segment, node.length)
    if (index === undefined) return NOT_APPLIED
    child = node[index]
  } else if (isObject(node) && Object.hasOwn(node, segment)) child = node[segment]
  else return NOT_APPLIED
  const replaced = removeAt(child, segments, i + 1)
  return replaced === NOT_APPLIED ? NOT_APPLIED : withChild(node as Record<string, unknown> | unknown[], segment, replaced)
}

function upsertAt(node: unknown, segments: readonly string[], i: number, value: unknown): unknown {
  const segment = segments[i] as string
  const last = i === segments.length - 1
  if (Array.isArray(node)) {
    const index = arrayIndex(segment, node.length)
    if (index === undefined) return NOT_APPLIED
    const child = last ? value : upsertAt(node[index], segments, i + 1, value)
    return child === NOT_APPLIED ? NOT_APPLIED : withChild(node, segment, child)
  }
  if (!isObject(node)) return NOT_APPLIED
  // Like OPA, missing intermediate objects are created.
  const child = last ? value : upsertAt(Object.hasOwn(node, segment) ? node[segment] : {}, segments, i + 1, value)
  return child === NOT_APPLIED ? NOT_APPLIED : withChild(node, segment, child)
}

/** What {@link applyMasks} returns. */
export interface MaskOutcome {
  /** `input` after the masks; `undefined` when it was absent or erased whole. */
  input: unknown
  /** `result` after the masks. */
  result: unknown
  /** Pointers erased, in mask order. */
  erased: string[]
  /** Pointers upserted, in mask order. */
  masked: string[]
}

/**
 * Applies masks to an input and a result without modifying them.
 *
 * @example
 * ```ts
 * const masks = compileMasks(['/input/action/arguments/password'])
 * const out = applyMasks(masks, { action: { arguments: { user: 'al', password: 'pw' } } }, { allow: true })
 * // out.input → { action: { arguments: { user: 'al' } } }, out.erased → ['/input/action/arguments/password']
 * ```
 */
export function applyMasks(masks: readonly CompiledMask[], input: unknown, result: unknown): MaskOutcome {
  const outcome: MaskOutcome = { input, result, erased: [], masked: [] }
  for (const mask of masks) {
    const current = outcome[mask.root]
    if (current === undefined) continue
    let next: unknown
    if (mask.segments.length === 0) next = mask.op === 'remove' ? undefined : mask.value
    else next = mask.op === 'remove' ? removeAt(current, mask.segments, 0) : upsertAt(current, mask.segments, 0, mask.value)
    if (next === NOT_APPLIED) continue
    outcome[mask.root] = next
    ;(mask.op === 'remove' ? outcome.erased : outcome.masked).push(mask.pointer)
  }
  return outcome
}
