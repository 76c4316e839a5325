/**
 * Whether a value can never change: frozen all the way down, with data properties only (a frozen
 * object may still have getters that answer differently each time). The verifier's memo hands
 * principals out deeply frozen and shared (`src/verify/memo.ts`); for such a principal its identity
 * stands for its contents, so what is derived from it once — its serialised policy input, its
 * decisions (`src/authz/table.ts`) — holds for as long as the object lives.
 *
 * @module
 */

/** Values found immutable (a frozen object stays frozen, so the answer never goes stale). */
const known = new WeakSet<object>()

/** Most objects and arrays walked for one value; a larger one is treated as mutable. */
export const IMMUTABLE_WALK_MAX = 4096

/**
 * Whether `value` is deeply frozen with data properties only. The first answer for an object is
 * remembered, so asking again costs one `WeakSet` lookup.
 *
 * @example
 * ```ts
 * isDeepFrozen(Object.freeze({ scopes: Object.freeze(['a']) })) // true
 * isDeepFrozen(Object.freeze({ scopes: ['a'] }))                 // false: the array can change
 * ```
 */
export function isDeepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function'
  if (known.has(value)) return true
  if (!Object.isFrozen(value)) return false
  const seen = new Set<object>()
  const stack: object[] = [value]
  while (stack.length > 0) {
    const o = stack.pop() as object
    if (known.has(o) || seen.has(o)) continue
    if (!Object.isFrozen(o) || seen.size >= IMMUTABLE_WALK_MAX) return false
    // Plain objects and arrays only: a class instance may answer through getters on its prototype.
    const proto = Object.getPrototypeOf(o)
    if (Array.isArray(o) ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) return false
    seen.add(o)
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key) as PropertyDescriptor
      if (!('value' in d)) return false
      const v: unknown = d.value
      if (typeof v === 'function') return false
      if (v !== null && typeof v === 'object') stack.push(v)
    }
  }
  for (const o of seen) known.add(o)
  return true
}
