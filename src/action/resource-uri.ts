/**
 * Resource identifiers in the form the MCP server resolves them.
 *
 * `McpServer` (`@modelcontextprotocol/sdk`) looks a resource up after WHATWG URL parsing:
 * `new URL(params.uri).toString()` is the key of its resource table and the string its templates
 * are matched against. Two strings that differ (`NOTES://a/x`, `notes://a/b/../x`,
 * `notes://a/%2e%2e/x`, `notes://a:/x`, `notes://a/\tx`) may therefore name one resource. So that a
 * policy cannot be passed with one spelling and the resource served with another, every resource
 * identifier is decided in that same canonical form (`new URL(raw).href`) and the handler receives
 * exactly the string that was decided.
 *
 * Refused (JSON-RPC -32602 Invalid params) rather than canonicalised, because the canonical form
 * would not be an honest reading of what was sent:
 * - `unparsable` — not an absolute URL (`new URL` throws, as the SDK would);
 * - `stripped_characters` — tab, line feed or carriage return anywhere, or C0 controls / spaces at
 *   either end: URL parsing drops them silently, so the string the client shows is not the one served;
 * - `userinfo` — `user[:password]@` in the authority: credentials have no place in a resource name
 *   (they would reach the decision log), and `notes://public@private/` misleads readers;
 * - `not_idempotent` — the serialisation does not parse back to itself (WHATWG has such corner
 *   cases), so the server might resolve yet another string;
 * - `too_long` — the canonical form (percent-encoding expands) is longer than the message's string
 *   limit;
 * - `bad_template` — a completion reference whose `{…}` expressions are unbalanced, or would be
 *   moved or dropped by canonicalisation (e.g. inside a dot segment).
 *
 * Completion references (`completion/complete`, `ref/resource`) name a URI *template* (or a fixed
 * URI), which the SDK compares as a string with the templates it registered. Their literal parts are
 * canonicalised with the same algorithm and the `{…}` expressions kept verbatim.
 *
 * @module
 */

/** Why a resource identifier was refused (stable codes). */
export type ResourceUriProblem = 'unparsable' | 'stripped_characters' | 'userinfo' | 'not_idempotent' | 'too_long' | 'bad_template'

/** The canonical identifier, or the reason it has none. */
export type CanonicalResourceUri = { ok: true; uri: string } | { ok: false; problem: ResourceUriProblem; message: string }

/** Options of {@link canonicalResourceIdentifier}. */
export interface CanonicalOptions {
  /** Longest canonical form accepted, in UTF-16 code units. Default 65_536 (the message string limit). */
  maxLength?: number
}

const DEFAULT_MAX_LENGTH = 65_536

const PROBLEM_MESSAGES: Record<ResourceUriProblem, string> = {
  unparsable: 'is not an absolute URI',
  stripped_characters: 'contains tab, newline or leading/trailing control characters that URL parsing strips',
  userinfo: 'carries userinfo (user:password@)',
  not_idempotent: 'has no stable canonical form',
  too_long: 'is too long once canonical',
  bad_template: 'is not a well-formed URI template',
}

function refuse(problem: ResourceUriProblem): CanonicalResourceUri {
  return { ok: false, problem, message: PROBLEM_MESSAGES[problem] }
}

// What WHATWG URL parsing removes without a trace: ASCII tab / LF / CR anywhere, C0 controls and
// space at either end.
const STRIPPED = /[\t\n\r]|^[\u0000-\u0020]|[\u0000-\u0020]$/

/**
 * The canonical form of a resource URI: what `McpServer` computes (`new URL(raw).href`) before it
 * looks the resource up, or the reason the URI is refused.
 *
 * @example
 * ```ts
 * canonicalResourceIdentifier('NOTES://a/public/%2e%2e/private/x') // { ok: true, uri: 'notes://a/private/x' }
 * canonicalResourceIdentifier('notes://a/\tx').ok                  // false (stripped_characters)
 * ```
 */
export function canonicalResourceIdentifier(raw: string, options: CanonicalOptions = {}): CanonicalResourceUri {
  const maxLength = options.maxLength ?? DEFAULT_MAX_LENGTH
  if (typeof raw !== 'string' || raw.length === 0) return refuse('unparsable')
  if (STRIPPED.test(raw)) return refuse('stripped_characters')
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return refuse('unparsable')
  }
  if (url.username !== '' || url.password !== '') return refuse('userinfo')
  const href = url.href
  if (href.length > maxLength) return refuse('too_long')
  let again: string
  try {
    again = new URL(href).href
  } catch {
    return refuse('not_idempotent')
  }
  if (again !== href) return refuse('not_idempotent')
  return { ok: true, uri: href }
}

// Placeholders for template expressions: lowercase letters and digits survive every URL component
// unchanged (hosts are lowercased and IDNA-mapped, which is the identity on them).
const PLACEHOLDER = 'mcpauthzexpr'
const EXPRESSION = /\{[^{}]*\}/g

/**
 * The canonical form of a `ref/resource` completion reference: a URI template (RFC 6570) whose
 * literal parts are canonicalised like {@link canonicalResourceIdentifier} and whose `{…}`
 * expressions are kept verbatim; a reference without expressions is a plain resource URI.
 *
 * @example
 * ```ts
 * canonicalResourceTemplate('NOTES://a/./{id}') // { ok: true, uri: 'notes://a/{id}' }
 * canonicalResourceTemplate('notes://a/{id')    // { ok: false, problem: 'bad_template', … }
 * ```
 */
export function canonicalResourceTemplate(raw: string, options: CanonicalOptions = {}): CanonicalResourceUri {
  if (typeof raw !== 'string') return refuse('unparsable')
  if (!raw.includes('{') && !raw.includes('}')) return canonicalResourceIdentifier(raw, options)
  if (raw.toLowerCase().includes(PLACEHOLDER)) return refuse('bad_template')
  const expressions: string[] = []
  const literal = raw.replace(EXPRESSION, (expression) => `${PLACEHOLDER}${expressions.push(expression) - 1}z`)
  if (literal.includes('{') || literal.includes('}')) return refuse('bad_template')
  const canonical = canonicalResourceIdentifier(literal, options)
  if (!canonical.ok) return canonical
  // Each expression must come back exactly once and in order, or canonicalisation moved it.
  const found = [...canonical.uri.matchAll(/mcpauthzexpr(\d+)z/g)].map((m) => Number(m[1]))
  if (found.length !== expressions.length || found.some((n, i) => n !== i)) return refuse('bad_template')
  const uri = canonical.uri.replace(/mcpauthzexpr(\d+)z/g, (_, n: string) => expressions[Number(n)] as string)
  if (uri.length > (options.maxLength ?? DEFAULT_MAX_LENGTH)) return refuse('too_long')
  return { ok: true, uri }
}
