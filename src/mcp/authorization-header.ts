/**
 * The `Authorization` request header, read in linear time: the header arrives before any
 * credential check, so whoever can open a connection chooses it. The length is bounded first, then
 * one left-to-right scan splits the scheme from the credential — no regular expression, so no
 * backtracking on a header of 16 KiB of spaces.
 *
 * @module
 */

/** Longest `Authorization` header value read, in UTF-16 code units. A longer value is an empty bearer credential (no usable credential). */
export const MAX_AUTHORIZATION_LENGTH = 16_384

const SPACE = 0x20
const TAB = 0x09

function isWhitespace(code: number): boolean {
  return code === SPACE || code === TAB
}

/** `true` when `value` starts at `from` with "bearer", compared ASCII case-insensitively. */
function isBearerScheme(value: string, from: number, to: number): boolean {
  if (to - from !== 6) return false
  for (let i = 0; i < 6; i++) {
    // `| 0x20` lower-cases ASCII letters; "bearer" has no character it would confuse.
    if ((value.charCodeAt(from + i) | 0x20) !== 'bearer'.charCodeAt(i)) return false
  }
  return true
}

/**
 * The bearer token of an `Authorization` header, as sent (the verifier judges its syntax):
 * `undefined` when there is no header or it is of another scheme (no bearer credential, RFC 6750
 * § 3.1); `''` for `Bearer` with nothing after it, and for any header longer than
 * {@link MAX_AUTHORIZATION_LENGTH}, checked before anything else (both are no usable credential:
 * 401 with a bare challenge). Spaces and tabs around
 * the scheme and the token are ignored. Runs in time linear in the header length.
 *
 * @example
 * ```ts
 * bearerToken('Bearer eyJhbGciOi…') // 'eyJhbGciOi…'
 * bearerToken('Basic dXNlcjpwYXNz') // undefined
 * ```
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined
  const end = authorization.length
  if (end > MAX_AUTHORIZATION_LENGTH) return ''
  let start = 0
  while (start < end && isWhitespace(authorization.charCodeAt(start))) start++
  let schemeEnd = start
  while (schemeEnd < end && !isWhitespace(authorization.charCodeAt(schemeEnd))) schemeEnd++
  if (!isBearerScheme(authorization, start, schemeEnd)) return undefined
  let tokenStart = schemeEnd
  while (tokenStart < end && isWhitespace(authorization.charCodeAt(tokenStart))) tokenStart++
  let tokenEnd = end
  while (tokenEnd > tokenStart && isWhitespace(authorization.charCodeAt(tokenEnd - 1))) tokenEnd--
  return authorization.slice(tokenStart, tokenEnd)
}
