/**
 * The redactor: walks a JSON-like value and returns a copy fit for a log.
 *
 * - Keys that carry transport credentials (`headers`, `authorization`, `cookie`, …) are removed.
 * - Every string value and every key is scanned for secrets ({@link SECRET_PATTERNS}); a match is
 *   replaced by `[REDACTED:<kind>]`.
 * - Values under secret key names (`password`, `client_secret`, `Private-Key`, …) are replaced
 *   whole, whatever their type: strings, numbers, objects, arrays, binaries (only `null`, booleans
 *   and empty strings, which hold nothing, are kept). Long random-looking values under keys that
 *   might hold secrets (`token`, `key`, …) are replaced too.
 * - A private JWK (an object with `kty` and a private member `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`,
 *   `k` or `priv`) is replaced whole wherever it sits, whatever its key; in JSON text that mentions
 *   `"kty"`, the values of those members are replaced.
 * - `Error` objects are logged as their text (`name: message`, then up to three causes), redacted
 *   like any string, never as `{}`.
 * - Depth, node count and string sizes are bounded: what is beyond is replaced by `[TRUNCATED]`.
 *   Cycles become `[CIRCULAR]`. It never throws and never recurses deeper than `maxDepth`.
 * - Copy-on-write: the input is never modified, and a value with nothing to redact is returned as
 *   the same reference, so the common case allocates nothing but the result object.
 *
 * @module
 */
import { escapePointerSegment, setOwn } from './mask.ts'
import {
  classifyKey,
  compileScanner,
  customPatterns,
  looksLikeSecretValue,
  normaliseKeyName,
  placeholder,
  SECRET_PATTERNS,
  type CustomPatternOptions,
  type KeyClass,
  type SecretPatternName,
  type StringScanner,
} from './patterns.ts'

/** Replaces a subtree beyond a bound. */
export const TRUNCATED = '[TRUNCATED]'
/** Replaces a reference to an object that contains it. */
export const CIRCULAR = '[CIRCULAR]'
/** Replaces a value that could not be read (a throwing getter or proxy). */
export const UNREADABLE = '[UNREADABLE]'

/** Members that make a JWK private (RFC 7517/7518: RSA `d p q dp dq qi oth`, EC/OKP `d`, `oct` `k`; AKP `priv`). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k', 'priv'] as const
/** The same members' values in JSON text (only looked for in strings that mention `"kty"`). */
const PRIVATE_JWK_TEXT = /("(?:d|p|q|dp|dq|qi|oth|k|priv)"\s*:\s*)("(?:[^"\\]|\\.)*"|\[[^\]]*\])/g

/**
 * Whether a value is a private JWK: an object with a string `kty` and a private member.
 *
 * @example
 * ```ts
 * isPrivateJwk({ kty: 'EC', crv: 'P-256', x: '…', y: '…', d: '…' }) // true
 * isPrivateJwk({ kty: 'EC', crv: 'P-256', x: '…', y: '…' }) // false (public)
 * ```
 */
export function isPrivateJwk(value: object): boolean {
  if (!Object.hasOwn(value, 'kty') || typeof (value as { kty?: unknown }).kty !== 'string') return false
  return PRIVATE_JWK_MEMBERS.some((m) => Object.hasOwn(value, m))
}

const MAX_CAUSES = 3

/**
 * The text an `Error` is logged as: `name: message`, its `code` when it has one, and up to three
 * causes. Never throws (what cannot be read is `[UNREADABLE]`).
 *
 * @example
 * ```ts
 * errorText(new Error('evaluation failed', { cause: new RangeError('out of memory') }))
 * // 'Error: evaluation failed; cause: RangeError: out of memory'
 * ```
 */
export function errorText(error: Error): string {
  const one = (e: unknown): string => {
    if (e instanceof Error) {
      const code = (e as { code?: unknown }).code
      return `${String(e.name)}${typeof code === 'string' || typeof code === 'number' ? ` [${code}]` : ''}: ${String(e.message)}`
    }
    if (typeof e === 'string') return e
    try {
      return JSON.stringify(e) ?? String(e)
    } catch {
      return UNREADABLE
    }
  }
  try {
    let text = one(error)
    let cause: unknown = error.cause
    for (let n = 0; n < MAX_CAUSES && cause !== undefined && cause !== null; n++) {
      text += `; cause: ${one(cause)}`
      cause = cause instanceof Error ? cause.cause : undefined
    }
    return text
  } catch {
    return UNREADABLE
  }
}

/** Options of {@link createRedactor}. JSON-serialisable. */
export interface RedactionOptions {
  /** Built-in patterns to apply: `true` for all, `false` for none, or a list of names. Default `true`. */
  patterns?: boolean | readonly SecretPatternName[]
  /** Extra patterns, applied with the built-in ones. Default: none. */
  customPatterns?: readonly CustomPatternOptions[]
  /** Replace values under secret key names (`password`, `client_secret`, `api_key`, `access_token`, …) whole. Default `true`. */
  secretKeys?: boolean
  /** More key names whose values are always secret (compared ignoring case and `_`/`-`/camelCase: `x_signature` ≡ `xSignature`). Default: none. */
  extraSecretKeys?: readonly string[]
  /** The entropy rule for keys that might hold secrets (`token`, `key`, `auth`, `session`, …); `false` turns it off. Default `{ minLength: 20, threshold: 3 }`. */
  entropy?: false | { minLength?: number; threshold?: number }
  /** Keys removed wherever they appear (compared case-insensitively). Default `['headers', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie']`. */
  stripKeys?: readonly string[]
  /** Deepest nesting kept; deeper subtrees become `[TRUNCATED]`. Default `32`, at most `1000`. */
  maxDepth?: number
  /** Values (nodes) visited per call; the rest becomes `[TRUNCATED]`. Default `10000`. */
  maxNodes?: number
  /** Longest string kept, in UTF-16 code units; longer ones are cut and end in `…[TRUNCATED]`. Default `8192`, at most `1048576`. */
  maxStringLength?: number
  /** Total length of string values kept per call; past it strings become `[TRUNCATED]`. Default `262144`. */
  maxTotalStringLength?: number
  /** Most pointers listed per call in `paths.masked` / `paths.erased`. Default `64`. */
  maxPaths?: number
}

/** What a {@link Redactor} returns. */
export interface RedactionResult {
  /** The redacted value; the very same reference as the argument when nothing had to change. */
  value: unknown
  /** Secrets replaced (pattern matches, secret-named values, high-entropy values). */
  redacted: number
  /** Keys removed by `stripKeys`. */
  stripped: number
  /** Subtrees or strings cut by a bound, and cycles broken. */
  truncated: number
  /** JSON pointers (under `pathPrefix`) of values redacted (`masked`) and keys removed (`erased`), at most `maxPaths` each. */
  paths: { masked: readonly string[]; erased: readonly string[] }
}

/** Options of one redactor call. */
export interface RedactCallOptions {
  /** JSON pointer of the value, prefixed to the reported paths (e.g. `/input`). Default `''`. */
  pathPrefix?: string
  /** Key the value sits under, for the key-name rules. Default: none. */
  key?: string
}

/** Redacts one value. Never throws. */
export type Redactor = (value: unknown, options?: RedactCallOptions) => RedactionResult

/** Largest accepted `maxStringLength`. */
const MAX_STRING_LENGTH = 1_048_576

/** How many clean strings a redactor remembers (per set: values, keys). */
export const CLEAN_MEMO_ENTRIES = 4096
/** Longest string a redactor remembers as clean. */
export const CLEAN_MEMO_MAX_LENGTH = 256
const DEFAULT_STRIP = ['headers', 'authorization', 'proxy-authorization', 'cookie', 'set-cookie']
const EMPTY: readonly string[] = Object.freeze([])

function positiveInt(value: unknown, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new TypeError(`${name} must be an integer between 1 and ${max}`)
  }
  return value
}

interface KeyInfo {
  cls: KeyClass
  aws: boolean
}
const NO_KEY: KeyInfo = { cls: 'none', aws: false }

/**
 * Creates a redactor. Compile once, call per decision.
 *
 * The redactor remembers, for its own lifetime, up to {@link CLEAN_MEMO_ENTRIES} short strings
 * (at most {@link CLEAN_MEMO_MAX_LENGTH} characters) that its patterns found nothing in and that it
 * logged as they were — the subject, issuer, method and tool names that recur in every record —
 * and skips the pattern scan for them next time. Only the scan is skipped: bounds, secret-key and
 * entropy checks still run, so every record is the one a redactor without the memo would build
 * (`test/decision-log/memo.test.ts` proves it by property).
 *
 * @param memoEntries how many clean strings to remember (default {@link CLEAN_MEMO_ENTRIES});
 *   `0` turns the memo off (the tests' oracle).
 * @throws {TypeError} naming the option when options are invalid.
 * @example
 * ```ts
 * const redact = createRedactor({ maxDepth: 16 })
 * const { value, redacted } = redact({ query: 'deploy', token: 'ghp_0123456789abcdefghijABCDEFGHIJ012345' })
 * // value → { query: 'deploy', token: '[REDACTED:github_token]' }, redacted → 1
 * ```
 */
export function createRedactor(options: RedactionOptions = {}, optionName = 'redaction', memoEntries = CLEAN_MEMO_ENTRIES): Redactor {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${optionName} must be an object`)
  const maxDepth = positiveInt(options.maxDepth, `${optionName}.maxDepth`, 32, 1000)
  const maxNodes = positiveInt(options.maxNodes, `${optionName}.maxNodes`, 10_000)
  // Above about a million characters, V8's regular-expression engine can run out of stack on some
  // near-miss texts; the bound keeps every scan below that.
  const maxStringLength = positiveInt(options.maxStringLength, `${optionName}.maxStringLength`, 8192, MAX_STRING_LENGTH)
  const maxTotal = positiveInt(options.maxTotalStringLength, `${optionName}.maxTotalStringLength`, 262_144)
  const maxPaths = options.maxPaths === undefined ? 64 : positiveInt(options.maxPaths, `${optionName}.maxPaths`, 64, 100_000)

  let builtins = SECRET_PATTERNS
  const pat = options.patterns
  if (pat === false) builtins = []
  else if (Array.isArray(pat)) {
    for (const name of pat) {
      if (!SECRET_PATTERNS.some((p) => p.name === name)) throw new TypeError(`${optionName}.patterns: unknown pattern "${String(name)}"`)
    }
    builtins = SECRET_PATTERNS.filter((p) => pat.includes(p.name as SecretPatternName))
  } else if (pat !== undefined && pat !== true) throw new TypeError(`${optionName}.patterns must be a boolean or a list of pattern names`)
  const scanner: StringScanner = compileScanner([...builtins, ...customPatterns(options.customPatterns, `${optionName}.customPatterns`)], `${optionName}.customPatterns`)

  const secretKeys = options.secretKeys ?? true
  if (typeof secretKeys !== 'boolean') throw new TypeError(`${optionName}.secretKeys must be a boolean`)
  if (options.extraSecretKeys !== undefined && (!Array.isArray(options.extraSecretKeys) || !options.extraSecretKeys.every((k) => typeof k === 'string'))) {
    throw new TypeError(`${optionName}.extraSecretKeys must be an array of strings`)
  }
  const extraSecretKeys = new Set((options.extraSecretKeys ?? []).map(normaliseKeyName))

  let entropy: { minLength: number; threshold: number } | undefined = { minLength: 20, threshold: 3 }
  if (options.entropy === false) entropy = undefined
  else if (options.entropy !== undefined) {
    if (typeof options.entropy !== 'object' || options.entropy === null) throw new TypeError(`${optionName}.entropy must be false or an object`)
    const minLength = positiveInt(options.entropy.minLength, `${optionName}.entropy.minLength`, 20)
    const threshold = options.entropy.threshold ?? 3
    if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 16)) throw new TypeError(`${optionName}.entropy.threshold must be a number between 0 and 16`)
    entropy = { minLength, threshold }
  }

  const strip = options.stripKeys ?? DEFAULT_STRIP
  if (!Array.isArray(strip) || !strip.every((k) => typeof k === 'string')) throw new TypeError(`${optionName}.stripKeys must be an array of strings`)
  const stripSet = new Set(strip.map((k) => k.toLowerCase()))
  const stripLengths = new Set(strip.map((k) => k.length))

  // Key names repeat from call to call: classify each once.
  const keyCache = new Map<string, KeyInfo>()
  function keyInfo(key: string): KeyInfo {
    let info = keyCache.get(key)
    if (info === undefined) {
      let cls = classifyKey(key, extraSecretKeys)
      if (cls === 'secret' && !secretKeys) cls = 'maybe'
      if (cls === 'maybe' && entropy === undefined) cls = 'none'
      info = cls === 'none' ? NO_KEY : { cls, aws: /aws/i.test(key) }
      if (keyCache.size >= 4096) keyCache.clear()
      keyCache.set(key, info)
    }
    return info
  }

  // Short strings the scanner found nothing in, as values and as keys (two sets: a value is also
  // checked for private-JWK text, a key is not). Only strings logged verbatim are kept, so the
  // memo never holds what a record would not show. Cleared when full, like the key cache.
  const cleanValues = new Set<string>()
  const cleanKeys = new Set<string>()
  function remember(set: Set<string>, text: string): void {
    if (memoEntries <= 0 || text.length > CLEAN_MEMO_MAX_LENGTH) return
    if (set.size >= memoEntries) set.clear()
    set.add(text)
  }

  // Per-call state. The redactor is synchronous; a re-entrant call (from a getter) gets its own.
  interface State {
    nodes: number
    chars: number
    redacted: number
    stripped: number
    truncated: number
    prefix: string
    stack: (string | number)[]
    ancestors: Set<object>
    masked: string[] | undefined
    erased: string[] | undefined
  }
  function newState(prefix: string): State {
    return { nodes: 0, chars: 0, redacted: 0, stripped: 0, truncated: 0, prefix, stack: [], ancestors: new Set(), masked: undefined, erased: undefined }
  }
  let spare: State | undefined = newState('')

  function pointer(s: State, last?: string): string {
    let p = s.prefix
    for (const seg of s.stack) p += `/${typeof seg === 'number' ? seg : escapePointerSegment(seg)}`
    if (last !== undefined) p += `/${escapePointerSegment(last)}`
    return p
  }
  function noteMasked(s: State): void {
    s.masked ??= []
    if (s.masked.length < maxPaths) s.masked.push(pointer(s))
  }
  /** A value under a secret key name, replaced whole. */
  function secretField(s: State): string {
    s.redacted++
    noteMasked(s)
    return placeholder('secret_field')
  }

  /** Cuts a string to the length and total budgets; `undefined` when nothing of it fits. */
  function bound(s: State, text: string): { text: string; cut: boolean } | undefined {
    let limit = Math.min(maxStringLength, maxTotal - s.chars)
    if (text.length <= limit) {
      s.chars += text.length
      return { text, cut: false }
    }
    s.truncated++
    if (limit <= 0) return undefined
    if (/[\ud800-\udbff]/.test(text.charAt(limit - 1))) limit--
    s.chars += limit
    return { text: text.slice(0, limit), cut: true }
  }

  function scanString(s: State, text: string, key: KeyInfo): string {
    if (key.cls === 'secret' && text.length > 0 && !text.startsWith('[REDACTED:')) {
      s.redacted++
      noteMasked(s)
      return placeholder(key.aws && /^[A-Za-z0-9/+]{40}$/.test(text) ? 'aws_secret_access_key' : 'secret_field')
    }
    const bounded = bound(s, text)
    if (bounded === undefined) return TRUNCATED
    let out = bounded.text
    let changed = false
    const known = cleanValues.has(out)
    if (!known && out.length >= scanner.minLength) {
      const found = scanner.scan(out)
      if (found.count > 0) {
        s.redacted += found.count
        noteMasked(s)
        out = found.text
        changed = true
      }
    }
    if (!known && out.includes('"kty"')) {
      let jwkMembers = 0
      const replaced = out.replace(PRIVATE_JWK_TEXT, (_m, name: string) => {
        jwkMembers++
        return `${name}"${placeholder('private_jwk')}"`
      })
      if (jwkMembers > 0) {
        if (!changed) noteMasked(s)
        s.redacted += jwkMembers
        out = replaced
        changed = true
      }
    }
    if (!changed && key.cls === 'maybe' && entropy !== undefined && !out.startsWith('[REDACTED:') && looksLikeSecretValue(out, entropy.minLength, entropy.threshold)) {
      s.redacted++
      noteMasked(s)
      out = placeholder('high_entropy')
      return bounded.cut ? `${out}…${TRUNCATED}` : out
    }
    if (bounded.cut) return `${out}…${TRUNCATED}`
    if (!known && !changed) remember(cleanValues, out)
    return out
  }

  function scanKey(s: State, key: string): string {
    if (key.length < scanner.minLength || cleanKeys.has(key)) return key
    let bounded = key
    if (key.length > maxStringLength) {
      s.truncated++
      bounded = `${key.slice(0, maxStringLength)}…${TRUNCATED}`
    }
    const found = scanner.scan(bounded)
    if (found.count === 0) {
      if (bounded === key) remember(cleanKeys, key)
      return bounded
    }
    s.redacted += found.count
    return found.text
  }

  function walk(s: State, value: unknown, depth: number, key: KeyInfo): unknown {
    s.nodes++
    switch (typeof value) {
      case 'string':
        return scanString(s, value, key)
      case 'number':
        return key.cls === 'secret' ? secretField(s) : value
      case 'bigint':
        return scanString(s, value.toString(), key)
      case 'object':
        break
      default:
        return value
    }
    if (value === null) return null
    if (key.cls === 'secret') return secretField(s)
    if (depth >= maxDepth) {
      s.truncated++
      return TRUNCATED
    }
    if (s.ancestors.has(value)) {
      s.truncated++
      return CIRCULAR
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[BINARY ${value.byteLength} bytes]`
    if (value instanceof Error) return scanString(s, errorText(value), key)
    if (isPrivateJwk(value)) {
      s.redacted++
      noteMasked(s)
      return placeholder('private_jwk')
    }
    if (!Array.isArray(value) && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      // Dates, URLs and the like: log what JSON.stringify would.
      let json: unknown
      try {
        json = (value as { toJSON(): unknown }).toJSON()
      } catch {
        return UNREADABLE
      }
      if (json === value) return UNREADABLE
      s.ancestors.add(value)
      const out = walk(s, json, depth + 1, key)
      s.ancestors.delete(value)
      return out
    }
    s.ancestors.add(value)
    const out = Array.isArray(value) ? walkArray(s, value, depth, key) : walkObject(s, value as Record<string, unknown>, depth)
    s.ancestors.delete(value)
    return out
  }

  function walkArray(s: State, arr: readonly unknown[], depth: number, key: KeyInfo): unknown[] {
    let out: unknown[] | undefined
    const n = arr.length
    for (let i = 0; i < n; i++) {
      if (s.nodes >= maxNodes) {
        out ??= arr.slice(0, i)
        out.push(TRUNCATED)
        s.truncated++
        break
      }
      const v = arr[i]
      s.stack.push(i)
      const nv = walk(s, v, depth + 1, key)
      s.stack.pop()
      if (out === undefined && nv !== v) out = arr.slice(0, i)
      if (out !== undefined) out.push(nv)
    }
    return out ?? (arr as unknown[])
  }

  function walkObject(s: State, obj: Record<string, unknown>, depth: number): Record<string, unknown> {
    let out: Record<string, unknown> | undefined
    const keys = Object.keys(obj)
    // `{ name: 'DB_PASSWORD', value: '…' }` pairs (env lists, form fields): judge `value` by `name`.
    let pairInfo: KeyInfo | undefined
    if (Object.hasOwn(obj, 'value')) {
      const label = typeof obj.name === 'string' ? obj.name : typeof obj.key === 'string' ? obj.key : undefined
      if (label !== undefined && label.length <= 256) pairInfo = keyInfo(label)
    }
    // The copy starts at the first key that changes (or is stripped): every key before it is kept as is.
    const copyUpTo = (i: number): Record<string, unknown> => {
      const copy: Record<string, unknown> = {}
      for (let j = 0; j < i; j++) setOwn(copy, keys[j] as string, obj[keys[j] as string])
      return copy
    }
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string
      if (s.nodes >= maxNodes) {
        out ??= copyUpTo(i)
        setOwn(out, TRUNCATED, `${keys.length - i} more keys`)
        s.truncated++
        break
      }
      if (isStripped(k)) {
        s.stripped++
        s.erased ??= []
        if (s.erased.length < maxPaths) s.erased.push(pointer(s, k))
        out ??= copyUpTo(i)
        continue
      }
      const v = obj[k]
      const nk = scanKey(s, k)
      let info = k.length <= 256 ? keyInfo(k) : NO_KEY
      if (k === 'value' && pairInfo !== undefined && pairInfo.cls !== 'none') info = pairInfo
      s.stack.push(nk)
      const nv = walk(s, v, depth + 1, info)
      s.stack.pop()
      if (out === undefined && (nv !== v || nk !== k)) out = copyUpTo(i)
      if (out !== undefined) {
        let unique = nk
        for (let n = 2; unique !== k && Object.hasOwn(out, unique); n++) unique = `${nk}#${n}`
        setOwn(out, unique, nv)
      }
    }
    return out ?? obj
  }

  function isStripped(k: string): boolean {
    return stripLengths.has(k.length) && stripSet.has(k.toLowerCase())
  }

  return function redact(value: unknown, call?: RedactCallOptions): RedactionResult {
    const s = spare ?? newState('')
    spare = undefined
    s.prefix = call?.pathPrefix ?? ''
    let out: unknown
    try {
      out = walk(s, value, 0, call?.key !== undefined ? keyInfo(call.key) : NO_KEY)
    } catch {
      // A throwing getter or proxy: log nothing of this value rather than something unredacted.
      out = UNREADABLE
      s.truncated++
    }
    const result: RedactionResult = {
      value: out,
      redacted: s.redacted,
      stripped: s.stripped,
      truncated: s.truncated,
      paths: { masked: s.masked ?? EMPTY, erased: s.erased ?? EMPTY },
    }
    s.nodes = s.chars = s.redacted = s.stripped = s.truncated = 0
    s.stack.length = 0
    s.ancestors.clear()
    s.masked = undefined
    s.erased = undefined
    spare = s
    return result
  }
}
