/**
 * The secret pattern set of the redactor, and the key-name heuristics behind its entropy rule.
 *
 * Three layers, cheapest first:
 * - **Patterns** ({@link SECRET_PATTERNS}): credentials with a recognisable shape (JWTs, `Bearer`
 *   strings, PEM private keys, provider keys with fixed prefixes, credentials in URLs, `password=…`
 *   assignments). They are compiled into ONE regular expression and found anywhere in any string.
 * - **Secret key names** ({@link classifyKey} → `secret`): a value under `password`, `client_secret`,
 *   `api_key`, `access_token`, `private_key`… is replaced whole, whatever it looks like.
 * - **Entropy** (→ `maybe`): a value under a key that merely *might* hold a secret (`token`, `key`,
 *   `auth`, `session`…) is replaced when it is long, unbroken and random-looking
 *   ({@link looksLikeSecretValue}); identifiers such as dates, paths and URLs survive.
 *
 * The set follows the prefixes published by the providers and the rules of secret scanners such as
 * gitleaks and secretlint; see `docs/decision-log.md` for what it covers and what it does not.
 *
 * @module
 */

/** Names of the built-in patterns; each is also the `kind` in its placeholder `[REDACTED:<kind>]`. */
export type SecretPatternName =
  | 'private_key'
  | 'jwt'
  | 'bearer'
  | 'basic_auth'
  | 'url_credentials'
  | 'aws_access_key_id'
  | 'aws_secret_access_key'
  | 'github_token'
  | 'gitlab_token'
  | 'slack_token'
  | 'slack_webhook'
  | 'stripe_key'
  | 'anthropic_key'
  | 'openai_key'
  | 'google_api_key'
  | 'npm_token'
  | 'sendgrid_key'
  | 'secret_assignment'

/**
 * One pattern. `source` is JavaScript regular-expression syntax (inline `(?i:…)` allowed). A group
 * named `keep` is kept in front of the placeholder (e.g. `Bearer `) and a group named `tail` after it
 * (e.g. the `@` of a URL); everything else the pattern matches is replaced.
 */
export interface SecretPattern {
  /** The kind written in the placeholder. */
  readonly name: string
  /** What the pattern finds, for people. */
  readonly description: string
  /** Regular-expression source. No numbered back-references (patterns are combined). */
  readonly source: string
  /** Second check on the replaced part; `false` keeps the match as it was. */
  readonly validate?: (secret: string) => boolean
}

/** A user-supplied pattern (JSON-serialisable, from the configuration file). */
export interface CustomPatternOptions {
  /** Kind written in the placeholder: letters, digits, `_` and `-` only. */
  name: string
  /** Regular-expression source (JavaScript syntax). May name groups `keep` / `tail` as the built-ins do. No numbered back-references. */
  pattern: string
  /** `'i'` for a case-insensitive pattern. Default: case-sensitive. */
  flags?: '' | 'i'
}

const B64URL = 'A-Za-z0-9_-'

function decodes(text: string, encoding: 'base64' | 'base64url'): string | undefined {
  try {
    return Buffer.from(text, encoding).toString('latin1')
  } catch {
    return undefined
  }
}

/** A JWT's first segment is a base64url JSON object naming an algorithm (`{"alg":…` / `{"enc":…`). */
function isJwt(token: string): boolean {
  const dot = token.indexOf('.')
  const header = decodes(token.slice(0, dot), 'base64url')
  return header !== undefined && /^\{\s*"/.test(header) && (header.includes('"alg"') || header.includes('"enc"') || header.includes('"typ"'))
}

/** `Basic` credentials decode to printable `user:password`. */
function isBasicCredential(encoded: string): boolean {
  const decoded = decodes(encoded, 'base64')
  return decoded !== undefined && decoded.includes(':') && /^[\x20-\x7e]+$/.test(decoded)
}

/** Generated keys mix upper case, lower case and digits; slugs such as `sk-learn-tutorial-notes` do not. */
function isMixedKey(key: string): boolean {
  return /[a-z]/.test(key) && /[A-Z]/.test(key) && /[0-9]/.test(key)
}

/**
 * The built-in pattern set, in priority order (when two match at the same place, the first wins).
 * Boundaries are lookarounds rather than `\b`, so tokens ending in `-` or `_` are matched whole.
 */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    name: 'private_key',
    description: 'PEM / OpenSSH / PGP private key blocks, BEGIN to END (or to the end of a truncated string)',
    source: '-----BEGIN[A-Z0-9 ]{0,32}PRIVATE KEY(?: BLOCK)?-----[\\s\\S]*?(?:-----END[A-Z0-9 ]{0,32}PRIVATE KEY(?: BLOCK)?-----|$)',
  },
  {
    name: 'jwt',
    description: 'JWS / JWE compact serialisations: base64url segments, the first decoding to a JOSE header ({"alg":…)',
    source: `(?<![${B64URL}])eyJ[${B64URL}]{6,}\\.[${B64URL}]*\\.[${B64URL}]*(?:\\.[${B64URL}]*\\.[${B64URL}]*)?`,
    validate: isJwt,
  },
  {
    name: 'bearer',
    description: '`Bearer <token>` (any case) where the token has a digit, as in Authorization headers pasted into arguments',
    source: '(?<keep>(?<![A-Za-z0-9])(?i:bearer)[ \\t]+)(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{8,}=*',
  },
  {
    name: 'basic_auth',
    description: '`Basic <base64>` whose value decodes to `user:password`',
    source: '(?<keep>(?<![A-Za-z0-9])(?i:basic)[ \\t]+)[A-Za-z0-9+/]{6,}={0,2}(?![A-Za-z0-9+/=])',
    validate: isBasicCredential,
  },
  {
    name: 'url_credentials',
    description: 'user:password in any scheme://user:password@host URL (the URL is kept, the credentials replaced)',
    source: `(?<keep>(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://)[^\\s/?#@:"'<>\\\\[\\]]*:[^\\s/?#"'<>\\\\]+(?<tail>@)`,
  },
  {
    name: 'aws_access_key_id',
    description: 'AWS access key ids (AKIA, ASIA, ABIA, ACCA, A3T… + 16 characters)',
    source: '(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])',
  },
  {
    name: 'aws_secret_access_key',
    description: 'a 40-character AWS secret key assigned to a name containing "aws" and "secret" (aws_secret_access_key=…)',
    source: `(?<keep>(?<![A-Za-z0-9])(?i:aws)[A-Za-z0-9_.-]{0,24}(?i:secret)[A-Za-z0-9_.-]{0,24}["']?[ \\t]*[:=][ \\t]*["']?)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])`,
  },
  {
    name: 'github_token',
    description: 'GitHub tokens: ghp_, gho_, ghu_, ghs_, ghr_ (classic) and github_pat_ (fine-grained)',
    source: '(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,247})(?![A-Za-z0-9_])',
  },
  {
    name: 'gitlab_token',
    description: 'GitLab personal access tokens (glpat-)',
    source: `(?<![${B64URL}])glpat-[${B64URL}]{20,}`,
  },
  {
    name: 'slack_token',
    description: 'Slack tokens xoxa-, xoxb-, xoxp-, xoxr-, xoxs- (containing a digit)',
    source: '(?<![A-Za-z0-9_-])xox[abprs]-[A-Za-z0-9-]{10,250}',
    validate: (s) => /[0-9]/.test(s),
  },
  {
    name: 'slack_webhook',
    description: 'Slack incoming-webhook URLs (hooks.slack.com/services|workflows|triggers/…)',
    source: '(?<keep>https?://hooks\\.slack\\.com/(?:services|workflows|triggers)/)[A-Za-z0-9_/+-]{20,}',
  },
  {
    name: 'stripe_key',
    description: 'Stripe secret and restricted keys (sk_live_, sk_test_, rk_live_, rk_test_); publishable pk_ keys are public and kept',
    source: '(?<![A-Za-z0-9_])[sr]k_(?:live|test)_[A-Za-z0-9]{16,247}(?![A-Za-z0-9])',
  },
  {
    name: 'anthropic_key',
    description: 'Anthropic API keys (sk-ant-api03-…, sk-ant-admin01-…)',
    source: `(?<![${B64URL}])sk-ant-[a-z]{2,10}[0-9]{2}-[${B64URL}]{20,}`,
  },
  {
    name: 'openai_key',
    description: 'OpenAI-style keys sk-…, sk-proj-…, sk-svcacct-…, sk-admin-… (20+ characters mixing cases and digits)',
    source: `(?<![${B64URL}])sk-(?:proj-|svcacct-|admin-)?[${B64URL}]{20,}`,
    validate: (s) => isMixedKey(s.slice(3)),
  },
  {
    name: 'google_api_key',
    description: 'Google API keys (AIza + 35 characters)',
    source: `(?<![${B64URL}])AIza[${B64URL}]{35}(?![${B64URL}])`,
  },
  {
    name: 'npm_token',
    description: 'npm access tokens (npm_ + 36 characters)',
    source: '(?<![A-Za-z0-9_])npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])',
  },
  {
    name: 'sendgrid_key',
    description: 'SendGrid API keys (SG.<22>.<43>)',
    source: `(?<![${B64URL}])SG\\.[${B64URL}]{22}\\.[${B64URL}]{43}(?![${B64URL}])`,
  },
  {
    name: 'secret_assignment',
    description: 'the value in password=…, secret: …, api_key=…, access_token=…, token=… (query strings, env lines, JSON text, connection strings)',
    source:
      '(?<keep>(?<![A-Za-z0-9])(?i:password|passwd|passphrase|client[_-]?secret|secret[_-]?key|secret|api[_-]?key|access[_-]?token|refresh[_-]?token|auth[_-]?token|token|account[_-]?key|shared[_-]?access[_-]?key|private[_-]?key)["\']?[ \\t]*[:=][ \\t]*["\']?)(?!\\[REDACTED)[^\\s"\'&;,<>]{4,}',
  },
]

/** Shortest string any built-in pattern can match (`a://:b@`); shorter strings are not scanned. */
export const MIN_PATTERN_LENGTH = 7

/**
 * The placeholder that replaces a secret of the given kind.
 *
 * @example
 * ```ts
 * placeholder('jwt') // '[REDACTED:jwt]'
 * ```
 */
export function placeholder(kind: string): string {
  return `[REDACTED:${kind}]`
}

/** Finds and replaces secrets in strings with one combined regular expression. */
export interface StringScanner {
  /** The string with every secret replaced, and how many were; the same string when none were. */
  scan(text: string): { text: string; count: number; kinds: string[] }
  /** Shortest string worth scanning. */
  readonly minLength: number
}

const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Compiles patterns into one scanner.
 *
 * @throws {TypeError} when a custom pattern is malformed (the message names the option).
 * @example
 * ```ts
 * const scanner = compileScanner(SECRET_PATTERNS)
 * scanner.scan('curl -H "Authorization: Bearer abc123def456"').text
 * // 'curl -H "Authorization: Bearer [REDACTED:bearer]"'
 * ```
 */
export function compileScanner(patterns: readonly SecretPattern[], optionName = 'redaction.customPatterns'): StringScanner {
  if (patterns.length === 0) return { scan: (text) => ({ text, count: 0, kinds: [] }), minLength: Infinity }
  const parts: string[] = []
  patterns.forEach((p, i) => {
    if (/\\[1-9]/.test(p.source)) throw new TypeError(`${optionName}: pattern "${p.name}" must not use numbered back-references`)
    const source = p.source.replaceAll('(?<keep>', `(?<k${i}>`).replaceAll('(?<tail>', `(?<t${i}>`)
    parts.push(`(?<p${i}>${source})`)
  })
  let regex: RegExp
  try {
    regex = new RegExp(parts.join('|'), 'g')
  } catch (cause) {
    throw new TypeError(`${optionName}: a pattern is not a valid regular expression (${(cause as Error).message})`)
  }
  const groupNames = patterns.map((_, i) => [`p${i}`, `k${i}`, `t${i}`] as const)
  const minLength = patterns.some((p) => !SECRET_PATTERNS.includes(p)) ? 1 : MIN_PATTERN_LENGTH

  function scan(text: string): { text: string; count: number; kinds: string[] } {
    regex.lastIndex = 0
    if (!regex.test(text)) return { text, count: 0, kinds: [] }
    let count = 0
    const kinds: string[] = []
    const out = text.replace(regex, (match: string, ...args: unknown[]) => {
      const groups = args[args.length - 1] as Record<string, string | undefined>
      for (let i = 0; i < groupNames.length; i++) {
        const [whole, keepName, tailName] = groupNames[i] as readonly [string, string, string]
        if (groups[whole] === undefined) continue
        const pattern = patterns[i] as SecretPattern
        const keep = groups[keepName] ?? ''
        const tail = groups[tailName] ?? ''
        const secret = match.slice(keep.length, match.length - tail.length)
        if (pattern.validate !== undefined && !pattern.validate(secret)) return match
        count++
        kinds.push(pattern.name)
        return keep + placeholder(pattern.name) + tail
      }
      return match
    })
    return { text: out, count, kinds }
  }
  return { scan, minLength }
}

/**
 * Turns configured custom patterns into {@link SecretPattern}s.
 *
 * @throws {TypeError} naming the option when a pattern is malformed.
 * @example
 * ```ts
 * compileScanner([...SECRET_PATTERNS, ...customPatterns([{ name: 'acme_key', pattern: 'acme_[0-9a-f]{32}' }])])
 * ```
 */
export function customPatterns(options: readonly CustomPatternOptions[] | undefined, optionName = 'redaction.customPatterns'): SecretPattern[] {
  if (options === undefined) return []
  if (!Array.isArray(options)) throw new TypeError(`${optionName} must be an array`)
  return options.map((o, i) => {
    const at = `${optionName}[${i}]`
    if (typeof o !== 'object' || o === null) throw new TypeError(`${at} must be an object`)
    if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) throw new TypeError(`${at}.name must be 1-64 letters, digits, "_" or "-"`)
    if (typeof o.pattern !== 'string' || o.pattern.length === 0) throw new TypeError(`${at}.pattern must be a non-empty string`)
    if (o.flags !== undefined && o.flags !== '' && o.flags !== 'i') throw new TypeError(`${at}.flags must be "" or "i"`)
    try {
      new RegExp(o.pattern, 'u')
    } catch {
      try {
        new RegExp(o.pattern)
      } catch (cause) {
        throw new TypeError(`${at}.pattern is not a valid regular expression: ${(cause as Error).message}`)
      }
    }
    return { name: o.name, description: 'custom pattern', source: o.flags === 'i' ? `(?i:${o.pattern})` : o.pattern }
  })
}

// ---------------------------------------------------------------------------------------------
// Key names

/** How a key's name bears on its value: `secret` (replace whole), `maybe` (entropy rule), `none`. */
export type KeyClass = 'secret' | 'maybe' | 'none'

/** Normalised names (lower case, no separators) whose values are always secrets, also as a suffix (`db_password`). */
const SECRET_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'passcode',
  'secret',
  'apikey',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'sessiontoken',
  'authtoken',
  'bearertoken',
  'privatekey',
  'secretkey',
  'accesskey',
  'signingkey',
  'encryptionkey',
  'masterkey',
  'authorization',
  'cookie',
  'credential',
  'connectionstring',
]

/** A last word that makes the key describe a secret rather than hold one (`api_key_id`, `password_hint`). */
const NOT_SECRET_LAST = new Set([
  'id', 'ids', 'type', 'types', 'name', 'names', 'url', 'uri', 'urls', 'endpoint', 'path', 'file', 'filename',
  'count', 'length', 'size', 'hint', 'method', 'methods', 'scheme', 'expiry', 'expires', 'expiration', 'ttl',
  'format', 'version', 'alg', 'algorithm', 'usage', 'kind', 'header', 'mode', 'policy', 'label', 'enabled',
  'required', 'at', 'in', 'location', 'provider', 'field', 'fields', 'index', 'status', 'prefix', 'suffix',
  'rotation', 'strength', 'reset', 'set', 'changed', 'valid', 'present', 'exists',
])

/** Qualifiers of "key" / "token" that name ordinary identifiers (`page_token`, `cache_key`, `public_key`). */
const NOT_SECRET_QUALIFIER = new Set([
  'page', 'next', 'prev', 'previous', 'continuation', 'cursor', 'pagination', 'max', 'min', 'num', 'total',
  'sort', 'partition', 'primary', 'foreign', 'idempotency', 'cache', 'dedup', 'dedupe', 'lookup', 'public',
  'pub', 'row', 'map', 'translation', 'i18n', 'commit', 'etag', 'request', 'trace', 'span', 'correlation',
  'object', 'bucket', 'sha', 'sha1', 'sha256', 'digest', 'checksum', 'routing', 'shard', 'sorting', 'group',
])

/** Words that mark a key as possibly holding a secret. */
const MAYBE_WORDS = new Set([
  'key', 'keys', 'token', 'tokens', 'secret', 'secrets', 'auth', 'credential', 'credentials', 'cred', 'creds',
  'private', 'signature', 'sig', 'pass', 'pwd', 'password', 'passwords', 'session', 'cookie', 'salt', 'otp',
  'totp', 'hash', 'apikey', 'bearer', 'jwt',
])
const MAYBE_COMPOUNDS = ['apikey', 'accesstoken', 'secretkey', 'privatekey', 'authtoken', 'password', 'passwd', 'passphrase']

/**
 * Splits a key name into lower-case words.
 *
 * @example
 * ```ts
 * keyWords('OAuthToken') // ['o', 'auth', 'token']
 * keyWords('x-api-key') // ['x', 'api', 'key']
 * ```
 */
export function keyWords(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0)
}

/**
 * Classifies a key name.
 *
 * @example
 * ```ts
 * classifyKey('db_password') // 'secret'
 * classifyKey('sessionKey') // 'maybe'
 * classifyKey('api_key_id') // 'none'
 * classifyKey('nextPageToken') // 'none'
 * ```
 */
export function classifyKey(key: string, extraSecretKeys: ReadonlySet<string> = EMPTY_SET): KeyClass {
  if (key.includes('[REDACTED:')) return 'none'
  const words = keyWords(key)
  if (words.length === 0) return 'none'
  const norm = words.join('')
  if (extraSecretKeys.has(norm)) return 'secret'
  for (const suffix of SECRET_SUFFIXES) {
    if (norm.endsWith(suffix) || norm.endsWith(`${suffix}s`)) return 'secret'
  }
  if (NOT_SECRET_LAST.has(words[words.length - 1] as string)) return 'none'
  if (words.some((w) => NOT_SECRET_QUALIFIER.has(w))) return 'none'
  if (words.some((w) => MAYBE_WORDS.has(w)) || MAYBE_COMPOUNDS.some((c) => norm.includes(c))) return 'maybe'
  return 'none'
}
const EMPTY_SET: ReadonlySet<string> = new Set()

/**
 * Normalises a configured key name the way {@link classifyKey} compares them.
 *
 * @example
 * ```ts
 * normaliseKeyName('X-Hub-Signature') === normaliseKeyName('xHubSignature') // true
 * ```
 */
export function normaliseKeyName(key: string): string {
  return keyWords(key).join('')
}

// ---------------------------------------------------------------------------------------------
// Entropy

const counts = new Int32Array(256)

/**
 * Shannon entropy of a string, in bits per character (UTF-16 code unit).
 *
 * @example
 * ```ts
 * shannonEntropy('aaaa') // 0
 * shannonEntropy('abcd') // 2
 * ```
 */
export function shannonEntropy(text: string): number {
  const n = text.length
  if (n === 0) return 0
  let wide: Map<number, number> | undefined
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c < 256) counts[c]!++
    else {
      wide ??= new Map()
      wide.set(c, (wide.get(c) ?? 0) + 1)
    }
  }
  let h = 0
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c >= 256) continue
    const k = counts[c]!
    if (k === 0) continue
    const p = k / n
    h -= p * Math.log2(p)
    counts[c] = 0
  }
  if (wide !== undefined) {
    for (const k of wide.values()) {
      const p = k / n
      h -= p * Math.log2(p)
    }
  }
  return h
}

/** Options of the entropy rule. */
export interface EntropyOptions {
  /** Shortest value the rule considers. Default `20`. */
  minLength?: number
  /** Minimum Shannon entropy, bits per character. Default `3`. */
  threshold?: number
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/
const URL_LIKE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//
const PATH_LIKE = /^(?:\/|\.{1,2}\/|~\/|[A-Za-z]:\\)/

/**
 * Whether a value under a `maybe` key looks like a generated secret: long, unbroken, mixing at least
 * two of lower case / upper case / digits, random enough, and not a date, URL, file path or a name
 * made of words and numbers (`session:user:12345:profile`).
 *
 * @example
 * ```ts
 * looksLikeSecretValue('f3Jx9Qp2LmZt7Rv1Kc8Wn4Ys') // true
 * looksLikeSecretValue('2025-11-25T10:00:00Z') // false
 * ```
 */
export function looksLikeSecretValue(value: string, minLength = 20, threshold = 3): boolean {
  if (value.length < minLength || value.length > 16_384) return false
  if (/\s/.test(value)) return false
  if (ISO_DATE.test(value) || URL_LIKE.test(value) || PATH_LIKE.test(value)) return false
  const classes = (/[a-z]/.test(value) ? 1 : 0) + (/[A-Z]/.test(value) ? 1 : 0) + (/[0-9]/.test(value) ? 1 : 0)
  if (classes < 2) return false
  if (isStructuredName(value)) return false
  return shannonEntropy(value) >= threshold
}

/**
 * `session:user:12345:profile`, `projects/acme/keyRings/ring1`, `cache.v2.users`: names built from
 * words, numbers and short parts. Generated secrets have long mixed runs between separators.
 */
function isStructuredName(value: string): boolean {
  const parts = value.split(/[/:._@-]+/).filter((p) => p.length > 0)
  return parts.length >= 2 && parts.every((p) => p.length <= 6 || /^[A-Za-z]+$/.test(p) || /^[0-9]+$/.test(p))
}
