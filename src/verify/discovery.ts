/**
 * Authorization-server metadata discovery: from an issuer identifier alone to its `jwks_uri`
 * (and its other endpoints), so that configuring `{ issuer }` is enough.
 *
 * The candidate documents, tried in order until one is usable:
 *
 * 1. OpenID Connect Discovery 1.0 § 4: `<issuer>/.well-known/openid-configuration`;
 * 2. RFC 8414 § 3.1: `/.well-known/oauth-authorization-server` inserted between the host and the
 *    issuer's path (`https://as.example/realms/x` → `https://as.example/.well-known/oauth-authorization-server/realms/x`);
 * 3. for issuers with a path, OpenID Connect with the same path insertion (as MCP clients try it).
 *
 * Every request is bounded (timeout, size), follows no redirect and needs HTTP 200 with a JSON
 * object. A document is used only when its `issuer` is **identical** to the configured issuer
 * (RFC 8414 § 3.3, OpenID Connect Discovery § 4.3) and its `jwks_uri` is an `https` URL (plain
 * `http` only on loopback or with `dangerouslyAllowInsecureHttp`). The issuer itself must be such
 * a URL too. Nothing here ever comes from a token: only configured issuers are discovered.
 *
 * Metadata is cached for `maxAgeMs`; a failed refresh keeps the last good document; concurrent
 * callers share one discovery; a failure is repeated (not retried) for one second.
 *
 * @module
 */
import { isLoopbackHost } from '../net/loopback.ts'
import { BodyTooLargeError, readBoundedBody } from './bounded-body.ts'
import { TokenVerificationError } from './errors.ts'

/** The members of an authorization server's metadata the verifier uses (the rest is kept as is). */
export interface IssuerMetadata {
  /** Identical to the configured issuer. */
  issuer: string
  /** Where the signing keys are published. */
  jwks_uri: string
  /** RFC 7662 introspection endpoint, when advertised. */
  introspection_endpoint?: string
  /** Every other member of the document. */
  [member: string]: unknown
}

/** Options of {@link discoverIssuerMetadata} and {@link createIssuerDiscovery}. */
export interface DiscoveryOptions {
  /** `fetch` implementation. Default: `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch
  /** Timeout of each request (headers and body), ms. Default: `5000`. */
  timeoutMs?: number
  /** Largest accepted document, bytes. Default: `262144`. */
  maxBytes?: number
  /** Accept plain `http` issuers and `jwks_uri`s off loopback. Never in production. Default: `false`. */
  allowInsecureHttp?: boolean
}

/** Options of {@link createIssuerDiscovery}. */
export interface CachedDiscoveryOptions extends DiscoveryOptions {
  /** How long a discovered document is reused before it is fetched again, ms. Default: `600000`. */
  maxAgeMs?: number
  /** Clock, ms since the epoch. Default: `Date.now`. */
  now?: () => number
}

/** A failed discovery is repeated, not retried, for this long (a token storm cannot make it hammer the issuer). */
const FAILURE_HOLD_MS = 1000

function allowedUrl(raw: unknown, allowInsecure: boolean): URL | undefined {
  if (typeof raw !== 'string') return undefined
  const url = URL.parse(raw)
  if (url === null || url.username !== '' || url.password !== '' || url.hash !== '') return undefined
  if (url.protocol === 'https:') return url
  if (url.protocol === 'http:' && (allowInsecure || isLoopbackHost(url.hostname))) return url
  return undefined
}

/**
 * The metadata URLs to try for an issuer, in order (see the module comment).
 *
 * @throws {TypeError} when `issuer` is not an `https` URL (plain `http` only on loopback or with `allowInsecureHttp`), or has a query or fragment.
 * @example
 * ```ts
 * metadataUrls('https://kc.example/realms/mcp').map(String)
 * // ['https://kc.example/realms/mcp/.well-known/openid-configuration',
 * //  'https://kc.example/.well-known/oauth-authorization-server/realms/mcp',
 * //  'https://kc.example/.well-known/openid-configuration/realms/mcp']
 * ```
 */
export function metadataUrls(issuer: string, allowInsecureHttp = false): URL[] {
  const url = allowedUrl(issuer, allowInsecureHttp)
  if (url === undefined) throw new TypeError(`issuer ${JSON.stringify(issuer)} cannot be discovered: it must be an https URL (plain http only on loopback)`)
  if (url.search !== '' || issuer.includes('?')) throw new TypeError(`issuer ${JSON.stringify(issuer)} cannot be discovered: an issuer has no query (RFC 8414 § 2)`)
  const path = url.pathname.replace(/\/+$/, '')
  const urls = [new URL(`${url.origin}${path}/.well-known/openid-configuration`), new URL(`${url.origin}/.well-known/oauth-authorization-server${path}`)]
  if (path !== '') urls.push(new URL(`${url.origin}/.well-known/openid-configuration${path}`))
  return urls
}

async function fetchDocument(url: URL, options: Required<DiscoveryOptions>): Promise<unknown> {
  const signal = AbortSignal.timeout(options.timeoutMs)
  let response: Response
  try {
    response = await options.fetch(url, { headers: { accept: 'application/json' }, redirect: 'manual', signal })
  } catch {
    throw new Error(signal.aborted ? 'timed out' : 'unreachable')
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => {})
    throw new Error(`HTTP ${response.status}`)
  }
  let text: string
  try {
    text = await readBoundedBody(response, options.maxBytes)
  } catch (cause) {
    throw new Error(cause instanceof BodyTooLargeError ? `larger than ${options.maxBytes} bytes` : signal.aborted ? 'timed out' : 'unreadable')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new Error('not JSON')
  }
}

function checkDocument(doc: unknown, issuer: string, allowInsecure: boolean): IssuerMetadata {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object')
  const m = doc as Record<string, unknown>
  // RFC 8414 § 3.3: identical, or the document must not be used (no normalisation at all).
  if (m.issuer !== issuer) throw new Error(`names issuer ${JSON.stringify(String(m.issuer)).slice(0, 200)}, not the configured one`)
  if (allowedUrl(m.jwks_uri, allowInsecure) === undefined) throw new Error('has no https jwks_uri')
  return m as IssuerMetadata
}

/**
 * Discovers an issuer's metadata once (no cache): tries each of {@link metadataUrls} and returns
 * the first document that is usable.
 *
 * @throws {TokenVerificationError} `ERR_JWKS_UNAVAILABLE` when no candidate is usable; the message lists why each failed.
 * @throws {TypeError} when the issuer itself cannot be discovered (not an https URL).
 * @example
 * ```ts
 * const { jwks_uri } = await discoverIssuerMetadata('https://auth.example.com')
 * ```
 */
export async function discoverIssuerMetadata(issuer: string, options: DiscoveryOptions = {}): Promise<IssuerMetadata> {
  const resolved: Required<DiscoveryOptions> = {
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    timeoutMs: options.timeoutMs ?? 5000,
    maxBytes: options.maxBytes ?? 262144,
    allowInsecureHttp: options.allowInsecureHttp ?? false,
  }
  const problems: string[] = []
  for (const url of metadataUrls(issuer, resolved.allowInsecureHttp)) {
    try {
      return checkDocument(await fetchDocument(url, resolved), issuer, resolved.allowInsecureHttp)
    } catch (err) {
      problems.push(`${url.pathname}: ${(err as Error).message}`)
    }
  }
  throw new TokenVerificationError('ERR_JWKS_UNAVAILABLE', `no usable metadata for issuer ${issuer} (${problems.join('; ')})`)
}

/** A cached, single-flight discovery of one issuer (see {@link createIssuerDiscovery}). */
export interface IssuerDiscovery {
  /** The issuer discovered. */
  readonly issuer: string
  /** The metadata: cached, refreshed after `maxAgeMs` (the last good one kept when a refresh fails). */
  metadata(): Promise<IssuerMetadata>
}

/**
 * A cached discovery for one configured issuer — the building block that turns a list of issuer
 * identifiers into key sets (`createKeySet` uses it for issuers configured without keys).
 *
 * @throws {TypeError} when the issuer is not an https URL (plain http only on loopback or with `allowInsecureHttp`).
 * @example
 * ```ts
 * const discovery = createIssuerDiscovery('https://kc.example/realms/mcp', { timeoutMs: 5000 })
 * const keys = createRemoteKeySet(async () => new URL((await discovery.metadata()).jwks_uri), options)
 * ```
 */
export function createIssuerDiscovery(issuer: string, options: CachedDiscoveryOptions = {}): IssuerDiscovery {
  metadataUrls(issuer, options.allowInsecureHttp ?? false) // fail fast on an undiscoverable issuer
  const now = options.now ?? Date.now
  const maxAgeMs = options.maxAgeMs ?? 600_000
  let cached: { metadata: IssuerMetadata; at: number } | undefined
  let failure: { error: unknown; at: number } | undefined
  let inflight: Promise<IssuerMetadata> | undefined

  return {
    issuer,
    metadata() {
      const t = now()
      if (cached !== undefined && t - cached.at < maxAgeMs) return Promise.resolve(cached.metadata)
      if (inflight !== undefined) return inflight
      if (failure !== undefined && t - failure.at < FAILURE_HOLD_MS) return cached !== undefined ? Promise.resolve(cached.metadata) : Promise.reject(failure.error)
      inflight = discoverIssuerMetadata(issuer, options)
        .then(
          (metadata) => {
            cached = { metadata, at: now() }
            failure = undefined
            return metadata
          },
          (error: unknown) => {
            failure = { error, at: now() }
            if (cached !== undefined) return cached.metadata // keep serving the last good document
            throw error
          },
        )
        .finally(() => {
          inflight = undefined
        })
      return inflight
    },
  }
}
