/**
 * JSON Pointers (RFC 6901) into verified claim sets: how nested claims such as Keycloak's
 * `realm_access.roles` (`/realm_access/roles`), `resource_access.<client>.roles` or a tenant
 * inside an object reach `principal.claims` and `principal.tenant`.
 *
 * Only own properties are followed (never `__proto__` or inherited members), array members only by
 * a canonical index, and a pointer is bounded in length and depth.
 *
 * @module
 */

/** Longest pointer accepted, characters. */
export const MAX_POINTER_LENGTH = 512
/** Most reference tokens in one pointer. */
export const MAX_POINTER_DEPTH = 16

const ARRAY_INDEX = /^(0|[1-9][0-9]{0,8})$/

/**
 * Splits a JSON Pointer into its unescaped reference tokens (`~1` → `/`, `~0` → `~`).
 * Returns `undefined` when `pointer` is not a pointer to a member: empty (the whole document),
 * not starting with `/`, with an invalid `~` escape, too long or too deep.
 *
 * @example
 * ```ts
 * parsePointer('/realm_access/roles')            // ['realm_access', 'roles']
 * parsePointer('/https:~1~1example.com~1roles')  // ['https://example.com/roles']
 * parsePointer('roles')                          // undefined (not a pointer)
 * ```
 */
export function parsePointer(pointer: string): string[] | undefined {
  if (typeof pointer !== 'string' || !pointer.startsWith('/') || pointer.length > MAX_POINTER_LENGTH) return undefined
  if (/~(?![01])/.test(pointer)) return undefined
  const tokens = pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
  if (tokens.length > MAX_POINTER_DEPTH) return undefined
  return tokens
}

/**
 * The value `tokens` (from {@link parsePointer}) point at in `document`, or `undefined` when the
 * path does not exist. Follows own properties of plain objects and canonical indexes of arrays only.
 *
 * @example
 * ```ts
 * valueAt({ realm_access: { roles: ['admin'] } }, ['realm_access', 'roles']) // ['admin']
 * valueAt({ a: 1 }, ['__proto__'])                                         // undefined
 * ```
 */
export function valueAt(document: unknown, tokens: readonly string[]): unknown {
  let node: unknown = document
  for (const token of tokens) {
    if (Array.isArray(node)) {
      if (!ARRAY_INDEX.test(token)) return undefined
      node = node[Number(token)]
    } else if (node !== null && typeof node === 'object') {
      if (!Object.hasOwn(node, token)) return undefined
      node = (node as Record<string, unknown>)[token]
    } else {
      return undefined
    }
  }
  return node
}
