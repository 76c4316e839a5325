/**
 * A real OAuth 2.0 authorization server for tests: `oidc-provider` (v9) on 127.0.0.1, ephemeral
 * port, quiet. Features: `client_credentials`, RFC 8707 resource indicators issuing RFC 9068 JWT
 * access tokens (`typ: at+jwt`) or opaque tokens per resource, RFC 7662 introspection, RFC 7009
 * revocation, key rotation (new key signs, old keys stay published; or a new key reusing a
 * `kid`), OpenID Connect discovery (`/.well-known/openid-configuration`), extra realms (issuers) on
 * the same server, and per-endpoint request counters.
 *
 * @example
 * ```ts
 * const as = await startAuthorizationServer({
 *   resources: { 'https://mcp.example.test/mcp': { scopes: ['notes:read', 'notes:write'] } },
 *   clients: [{ clientId: 'agent', clientSecret: 's3cret', scopes: ['notes:read', 'notes:write'] }],
 * })
 * const token = await as.token('agent', { resource: 'https://mcp.example.test/mcp', scope: 'notes:read' })
 * // … verify against as.issuer / as.jwksUri …
 * await as.close()
 * ```
 *
 * @module
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import type { JWK } from 'jose'
import Provider, { errors as oidcErrors } from 'oidc-provider'

/** Signing algorithms the helper can issue JWT access tokens with. */
export type SigningAlg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA'

/** A protected resource (RFC 8707 resource indicator) the server issues tokens for. */
export interface ResourceDefinition {
  /** Scopes this resource accepts; a token's scope is the request's ∩ these. */
  scopes: string[]
  /** Access token format. Default: `'jwt'` (RFC 9068, `typ: at+jwt`). */
  format?: 'jwt' | 'opaque'
  /** Access token lifetime, seconds. Default: `300`. */
  accessTokenTtl?: number
  /** JWS algorithm of JWT access tokens. Default: the realm's `signingAlg`. */
  signingAlg?: SigningAlg
}

/** A registered client. */
export interface ClientDefinition {
  /** Client id. */
  clientId: string
  /** Client secret (for `client_secret_basic` / `client_secret_post`). */
  clientSecret?: string
  /** Scopes the client may request (`[]`: no restriction by the client, only by resources). Default: every resource scope. */
  scopes?: string[]
  /** Token endpoint authentication. Default: `'client_secret_basic'`. */
  authMethod?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt'
  /** Public JWKS of a `private_key_jwt` client. */
  jwks?: { keys: JWK[] }
}

/** Options of {@link startAuthorizationServer} and {@link AuthorizationServer.addRealm}. */
export interface AuthorizationServerOptions {
  /** Resources, keyed by resource indicator (absolute URI). Default: none. */
  resources?: Record<string, ResourceDefinition>
  /** Clients. Default: none. */
  clients?: ClientDefinition[]
  /** Algorithm of the signing key (and of JWT access tokens). Default: `'RS256'`. */
  signingAlg?: SigningAlg
}

/** A token request with `client_credentials`. */
export interface TokenRequest {
  /** Resource indicator (RFC 8707). */
  resource?: string
  /** Requested scopes. */
  scope?: string | string[]
}

/** The token endpoint's successful response. */
export interface TokenResponse {
  access_token: string
  token_type: string
  expires_in: number
  scope?: string
}

/** Requests counted per endpoint since start. */
export interface RequestCounts {
  jwks: number
  token: number
  introspection: number
  revocation: number
  discovery: number
  total: number
}

/** One issuer. */
export interface Realm {
  /** Issuer identifier (the `iss` of its tokens). */
  readonly issuer: string
  readonly jwksUri: string
  readonly tokenEndpoint: string
  readonly introspectionEndpoint: string
  readonly revocationEndpoint: string
  /** `kid` of the key that signs new tokens. */
  readonly currentKid: string
  /** Requests received by this realm. */
  readonly counts: RequestCounts
  /** Gets a `client_credentials` access token (client authenticates with its secret). */
  token(clientId: string, request?: TokenRequest): Promise<string>
  /** Same as {@link token}, returning the whole response. */
  tokenResponse(clientId: string, request?: TokenRequest): Promise<TokenResponse>
  /** Revokes a token (RFC 7009), authenticating as `clientId`. */
  revoke(clientId: string, token: string): Promise<void>
  /** Adds a signing key that signs new tokens from now on; earlier keys stay published. */
  rotateKeys(): Promise<{ kid: string }>
  /** Stops publishing a key (tokens it signed stop verifying once verifiers refresh). */
  removeKey(kid: string): Promise<void>
  /**
   * Replaces the key published under `kid` with a new key **reusing the same `kid`** (as some
   * servers do on rotation); it signs new tokens from now on. Tokens of the old key stop verifying.
   */
  replaceKey(kid: string): Promise<{ kid: string }>
  /** Registers another client. */
  addClient(client: ClientDefinition): Promise<void>
}

/** The server: its root realm plus extra realms on the same origin. */
export interface AuthorizationServer extends Realm {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string
  /** Starts another issuer at `<origin>/realms/<name>` with its own keys and clients. */
  addRealm(name: string, options?: AuthorizationServerOptions): Promise<Realm>
  /** Stops the server (and every realm). */
  close(): Promise<void>
}

interface Stored {
  payload: Record<string, unknown>
  expiresAt: number
}

/** oidc-provider adapter over one Map, so a realm's tokens survive provider rebuilds (rotation). */
function createAdapterClass(store: Map<string, Stored>) {
  const live = (key: string): Stored | undefined => {
    const entry = store.get(key)
    if (entry !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key)
      return undefined
    }
    return entry
  }
  return class MapAdapter {
    readonly model: string
    constructor(model: string) {
      this.model = model
    }
    key(id: string): string {
      return `${this.model}:${id}`
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn?: number): Promise<void> {
      store.set(this.key(id), { payload: structuredClone(payload), expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity })
    }
    async find(id: string): Promise<Record<string, unknown> | undefined> {
      const entry = live(this.key(id))
      return entry && structuredClone(entry.payload)
    }
    async findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
      for (const key of store.keys()) {
        const entry = key.startsWith(`${this.model}:`) ? live(key) : undefined
        if (entry?.payload.uid === uid) return structuredClone(entry.payload)
      }
      return undefined
    }
    async findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined> {
      for (const key of store.keys()) {
        const entry = key.startsWith(`${this.model}:`) ? live(key) : undefined
        if (entry?.payload.userCode === userCode) return structuredClone(entry.payload)
      }
      return undefined
    }
    async consume(id: string): Promise<void> {
      const entry = live(this.key(id))
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000)
    }
    async destroy(id: string): Promise<void> {
      store.delete(this.key(id))
    }
    async revokeByGrantId(grantId: string): Promise<void> {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key)
    }
  }
}

async function newSigningKey(alg: SigningAlg, kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}) })
  return { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' }
}

const NOOP = (): void => {}

class RealmImpl implements Realm {
  readonly issuer: string
  readonly #resources: Record<string, ResourceDefinition>
  readonly #clients: ClientDefinition[]
  readonly #signingAlg: SigningAlg
  readonly #store = new Map<string, Stored>()
  #keys: JWK[] = []
  #keyCounter = 0
  #handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined
  readonly counts: RequestCounts = { jwks: 0, token: 0, introspection: 0, revocation: 0, discovery: 0, total: 0 }

  constructor(issuer: string, options: AuthorizationServerOptions) {
    this.issuer = issuer
    this.#resources = { ...options.resources }
    this.#clients = [...(options.clients ?? [])]
    this.#signingAlg = options.signingAlg ?? 'RS256'
  }

  get jwksUri(): string {
    return `${this.issuer}/jwks`
  }
  get tokenEndpoint(): string {
    return `${this.issuer}/token`
  }
  get introspectionEndpoint(): string {
    return `${this.issuer}/token/introspection`
  }
  get revocationEndpoint(): string {
    return `${this.issuer}/token/revocation`
  }
  get currentKid(): string {
    return this.#keys[0]?.kid as string
  }

  async init(): Promise<void> {
    await this.rotateKeys()
  }

  #rebuild(): void {
    const resources = this.#resources
    const allScopes = [...new Set(Object.values(resources).flatMap((r) => r.scopes))]
    const defaultAlg = this.#signingAlg
    const provider = new Provider(this.issuer, {
      adapter: createAdapterClass(this.#store),
      jwks: { keys: this.#keys },
      clients: this.#clients.map((c) => ({
        client_id: c.clientId,
        ...(c.clientSecret === undefined ? {} : { client_secret: c.clientSecret }),
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: c.authMethod ?? 'client_secret_basic',
        ...((c.scopes ?? allScopes).length > 0 ? { scope: (c.scopes ?? allScopes).join(' ') } : {}),
        ...(c.jwks === undefined ? {} : { jwks: c.jwks }),
      })),
      scopes: ['openid', ...allScopes],
      cookies: { keys: ['authorization-server-test-helper'] },
      clientBasedCORS: () => false,
      findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
      ttl: {
        AccessToken: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? 300,
        ClientCredentials: (_ctx: unknown, token: { resourceServer?: { accessTokenTTL?: number } }) => token.resourceServer?.accessTokenTTL ?? 300,
        Grant: 600,
        Interaction: 600,
        Session: 600,
        IdToken: 300,
      },
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        introspection: { enabled: true, allowedPolicy: async () => true },
        revocation: { enabled: true, allowedPolicy: async () => true },
        resourceIndicators: {
          enabled: true,
          defaultResource: async () => undefined,
          useGrantedResource: async () => true,
          getResourceServerInfo: async (_ctx: unknown, indicator: string) => {
            const r = resources[indicator]
            if (r === undefined) throw new oidcErrors.InvalidTarget()
            const format = r.format ?? 'jwt'
            return {
              scope: r.scopes.join(' '),
              audience: indicator,
              accessTokenTTL: r.accessTokenTtl ?? 300,
              accessTokenFormat: format,
              ...(format === 'jwt' ? { jwt: { sign: { alg: r.signingAlg ?? defaultAlg } } } : {}),
            }
          },
        },
      },
    })
    // Errors are the test's business (it sees the HTTP answer); keep the console quiet.
    for (const event of ['server_error', 'grant.error', 'introspection.error', 'revocation.error', 'jwks.error']) provider.on(event, NOOP)
    this.#handler = provider.callback()
  }

  /** Serves a request whose URL has been rewritten relative to this realm. */
  handle(req: IncomingMessage, res: ServerResponse, relativePath: string): void {
    this.counts.total++
    if (relativePath === '/jwks') this.counts.jwks++
    else if (relativePath === '/token') this.counts.token++
    else if (relativePath === '/token/introspection') this.counts.introspection++
    else if (relativePath === '/token/revocation') this.counts.revocation++
    else if (relativePath.startsWith('/.well-known/')) this.counts.discovery++
    ;(this.#handler as (req: IncomingMessage, res: ServerResponse) => void)(req, res)
  }

  async tokenResponse(clientId: string, request: TokenRequest = {}): Promise<TokenResponse> {
    const client = this.#clients.find((c) => c.clientId === clientId)
    if (client?.clientSecret === undefined) throw new Error(`no client "${clientId}" with a secret`)
    const body = new URLSearchParams({ grant_type: 'client_credentials' })
    if (request.resource !== undefined) body.set('resource', request.resource)
    if (request.scope !== undefined) body.set('scope', Array.isArray(request.scope) ? request.scope.join(' ') : request.scope)
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' }
    if (client.authMethod === 'client_secret_post') {
      body.set('client_id', clientId)
      body.set('client_secret', client.clientSecret)
    } else {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`
    }
    const response = await fetch(this.tokenEndpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(5000) })
    const json = (await response.json()) as Record<string, unknown>
    if (response.status !== 200) throw new Error(`token endpoint: HTTP ${response.status} ${JSON.stringify(json)}`)
    return json as unknown as TokenResponse
  }

  async token(clientId: string, request: TokenRequest = {}): Promise<string> {
    return (await this.tokenResponse(clientId, request)).access_token
  }

  async revoke(clientId: string, token: string): Promise<void> {
    const client = this.#clients.find((c) => c.clientId === clientId)
    if (client?.clientSecret === undefined) throw new Error(`no client "${clientId}" with a secret`)
    const response = await fetch(this.revocationEndpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token }),
      signal: AbortSignal.timeout(5000),
    })
    await response.body?.cancel()
    if (response.status !== 200) throw new Error(`revocation endpoint: HTTP ${response.status}`)
  }

  async rotateKeys(): Promise<{ kid: string }> {
    const kid = `key-${++this.#keyCounter}-${Date.now().toString(36)}`
    this.#keys = [await newSigningKey(this.#signingAlg, kid), ...this.#keys]
    this.#rebuild()
    return { kid }
  }

  async removeKey(kid: string): Promise<void> {
    const remaining = this.#keys.filter((k) => k.kid !== kid)
    if (remaining.length === 0) throw new Error('cannot remove the last key')
    this.#keys = remaining
    this.#rebuild()
  }

  async replaceKey(kid: string): Promise<{ kid: string }> {
    if (!this.#keys.some((k) => k.kid === kid)) throw new Error(`no key "${kid}"`)
    this.#keys = [await newSigningKey(this.#signingAlg, kid), ...this.#keys.filter((k) => k.kid !== kid)]
    this.#rebuild()
    return { kid }
  }

  async addClient(client: ClientDefinition): Promise<void> {
    this.#clients.push(client)
    this.#rebuild()
  }
}

class ServerImpl extends RealmImpl implements AuthorizationServer {
  readonly origin: string
  readonly #server: Server
  readonly #realms: Map<string, RealmImpl>

  constructor(origin: string, options: AuthorizationServerOptions, server: Server, realms: Map<string, RealmImpl>) {
    super(origin, options)
    this.origin = origin
    this.#server = server
    this.#realms = realms
  }

  async addRealm(name: string, options: AuthorizationServerOptions = {}): Promise<Realm> {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error('realm names are [A-Za-z0-9_-]+')
    const prefix = `/realms/${name}`
    const realm = new RealmImpl(`${this.origin}${prefix}`, options)
    await realm.init()
    this.#realms.set(prefix, realm)
    return realm
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/**
 * Starts the server on 127.0.0.1 (ephemeral port). The root realm's issuer is the origin.
 *
 * @example
 * ```ts
 * const as = await startAuthorizationServer({ resources: { [RESOURCE]: { scopes: ['a'] } }, clients: [{ clientId: 'c', clientSecret: 's' }] })
 * after(() => as.close())
 * ```
 */
export async function startAuthorizationServer(options: AuthorizationServerOptions = {}): Promise<AuthorizationServer> {
  const realms = new Map<string, RealmImpl>() // path prefix → realm; '' is the root realm
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/'
    let prefix = ''
    const match = /^\/realms\/[^/?]+/.exec(url)
    if (match !== null && realms.has(match[0])) prefix = match[0]
    const realm = realms.get(prefix)
    if (realm === undefined) {
      res.statusCode = 404
      res.end()
      return
    }
    const relative = url.slice(prefix.length) || '/'
    ;(req as IncomingMessage & { originalUrl?: string }).originalUrl = url
    req.url = relative
    realm.handle(req, res, relative.split('?')[0] as string)
  })
  server.keepAliveTimeout = 1000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const root = new ServerImpl(origin, options, server, realms)
  await root.init()
  realms.set('', root)
  return root
}
