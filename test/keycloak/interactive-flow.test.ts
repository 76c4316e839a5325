// The interactive flow real MCP clients run (issue 13.7), with the SDK's own client auth
// (@modelcontextprotocol/sdk 1.32) against a real Keycloak and the notes example, no browser:
// 401 → protected-resource metadata → authorization-server metadata → dynamic client registration
// → authorization code + PKCE with `resource` (the login and consent forms are driven with fetch)
// → calls → 403 insufficient_scope → step-up → refresh.
//
// What it pins down (docs/recipes/keycloak.md explains each):
// - SDK 1.32's transport answers a 403 by refreshing, which cannot add scope, and gives up
//   (modelcontextprotocol/typescript-sdk#2255): the step-up is the application's, by dropping the
//   tokens and calling `auth()` with the challenged scope;
// - Keycloak only ever grants a dynamically registered client the scopes it registered with, and
//   the SDK registers with the 401's `scope`: a client registered that way cannot step up;
//   registering with the server's `scopes_supported` (while authorizing with the 401's scope) can;
// - with `stepUpScopes: 'granted-and-required'` the 403 names notes:read too, so one
//   re-authorization keeps reading and writing working.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { decodeJwt } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { auth, registerClient, UnauthorizedError, type OAuthClientProvider, type OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js'
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js'
import { createAuthz } from '../../src/authz.ts'
import type { DecisionEvent } from '../../src/authz.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { startNotesServer, type RunningNotesServer } from '../../examples/notes-server/server.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { useKeycloak, type Keycloak } from '../helpers/keycloak.ts'
import { freePort } from '../helpers/net.ts'

const kc = await useKeycloak()
const skip = typeof kc === 'string' ? kc : false
if (skip) console.log(`# SKIP ${skip}`)

const REALM = `flow-${randomBytes(4).toString('hex')}`
let keycloak: Keycloak
let resource: string
let issuer: string
let notes: RunningNotesServer
const events: DecisionEvent[] = []
const clients: Client[] = []

/** A tiny cookie jar: Keycloak's login flow keeps its state in cookies on one host. */
class Browser {
  readonly #cookies = new Map<string, string>()
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) }, signal: AbortSignal.timeout(30_000) })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair!.indexOf('=')
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      if (/max-age=0/i.test(line) || value === '') this.#cookies.delete(name)
      else this.#cookies.set(name, value)
    }
    return res
  }
}

const decode = (s: string) => s.replaceAll('&amp;', '&').replaceAll('&#x3D;', '=').replaceAll('&#61;', '=')

/**
 * Follows an authorization URL the way a user in a browser would: the login form (username and
 * password), the consent form (accept), until Keycloak redirects to `redirectUri`. Returns the code.
 * Bounded: at most ten steps.
 */
async function authorizeInBrowser(browser: Browser, authorizationUrl: URL, redirectUri: string, user: { username: string; password: string }): Promise<{ code: string; state: string | null; steps: string[] }> {
  const steps: string[] = []
  let current = authorizationUrl
  let res = await browser.fetch(current.href)
  for (let i = 0; i < 10; i++) {
    if (res.status === 302 || res.status === 303) {
      const location = new URL(res.headers.get('location') ?? '', current)
      await res.body?.cancel()
      if (location.href.startsWith(redirectUri)) {
        const error = location.searchParams.get('error')
        if (error) throw new Error(`authorization error: ${error} ${location.searchParams.get('error_description') ?? ''}`)
        return { code: location.searchParams.get('code') as string, state: location.searchParams.get('state'), steps }
      }
      steps.push('redirect')
      current = location
      res = await browser.fetch(location.href)
      continue
    }
    const html = await res.text()
    const action = /<form[^>]*\saction="([^"]+)"/.exec(html)?.[1]
    if (res.status !== 200 || action === undefined) throw new Error(`unexpected login page: HTTP ${res.status} ${html.slice(0, 300)}`)
    current = new URL(decode(action), current)
    if (/name="password"/.test(html)) {
      steps.push('login')
      res = await browser.fetch(current.href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ username: user.username, password: user.password, credentialId: '' }).toString() })
    } else if (/name="accept"/.test(html)) {
      steps.push('consent')
      res = await browser.fetch(current.href, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ accept: 'Yes' }).toString() })
    } else {
      throw new Error(`unexpected page: ${html.slice(0, 300)}`)
    }
  }
  throw new Error('authorization did not finish within ten steps')
}

/**
 * An OAuthClientProvider for a client without a browser: keeps everything in memory and records
 * the authorization URL the SDK wants to open. With `registerWith: 'scopes_supported'` it
 * registers itself (dynamic client registration through the SDK's `registerClient`) with every
 * scope the server supports, while the SDK still authorizes with the 401's scope.
 */
class HeadlessProvider implements OAuthClientProvider {
  client: OAuthClientInformationMixed | undefined
  saved: OAuthTokens | undefined
  verifier = ''
  discovery: OAuthDiscoveryState | undefined
  pendingAuthorization: URL | undefined
  registeredScope: string | undefined
  readonly #state = randomBytes(16).toString('base64url')
  readonly redirectUrl: string
  readonly registerWith: 'challenge' | 'scopes_supported'
  constructor(redirectUrl: string, registerWith: 'challenge' | 'scopes_supported') {
    this.redirectUrl = redirectUrl
    this.registerWith = registerWith
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: 'mcp-authz e2e', redirect_uris: [this.redirectUrl], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }
  }
  state(): string {
    return this.#state
  }
  async clientInformation() {
    if (this.client === undefined && this.registerWith === 'scopes_supported' && this.discovery?.authorizationServerMetadata !== undefined) {
      const scope = this.discovery.resourceMetadata?.scopes_supported?.join(' ')
      this.client = await registerClient(this.discovery.authorizationServerUrl, { metadata: this.discovery.authorizationServerMetadata, clientMetadata: this.clientMetadata, ...(scope ? { scope } : {}) })
      this.registeredScope = scope
    }
    return this.client
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info
    this.registeredScope ??= (info as { scope?: string }).scope
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  redirectToAuthorization(url: URL) {
    this.pendingAuthorization = url
  }
  saveCodeVerifier(v: string) {
    this.verifier = v
  }
  codeVerifier() {
    return this.verifier
  }
  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state
  }
  discoveryState() {
    return this.discovery
  }
  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery') {
    if (scope === 'all' || scope === 'tokens') this.saved = undefined
    if (scope === 'all' || scope === 'client') this.client = undefined
  }
}

async function connect(provider: HeadlessProvider): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider })
  const client = new Client({ name: 'interactive-e2e', version: '1.0.0' })
  await client.connect(transport)
  clients.push(client)
  return { client, transport }
}

/** The first connection: 401 → discovery → registration → authorization in the "browser" → code → tokens. */
async function signIn(provider: HeadlessProvider, browser: Browser, user: { username: string; password: string }): Promise<{ authorizationUrl: URL; steps: string[] }> {
  const transport = new StreamableHTTPClientTransport(new URL(notes.url), { authProvider: provider })
  const client = new Client({ name: 'interactive-e2e', version: '1.0.0' })
  await assert.rejects(client.connect(transport), UnauthorizedError, 'the SDK stops at the redirect')
  const authorizationUrl = provider.pendingAuthorization as URL
  assert.ok(authorizationUrl, 'the SDK asked to open an authorization URL')
  const { code, state, steps } = await authorizeInBrowser(browser, authorizationUrl, provider.redirectUrl, user)
  assert.equal(state, provider.state(), 'state round-trips')
  await transport.finishAuth(code)
  return { authorizationUrl, steps }
}

/** What a client application does on a 403 with SDK 1.32: drop the tokens, re-authorize with the challenged scope. */
async function stepUp(provider: HeadlessProvider, browser: Browser, challenge: string, user: { username: string; password: string }): Promise<URL> {
  const scope = /scope="([^"]+)"/.exec(challenge)?.[1]
  const resourceMetadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1]
  assert.ok(scope && resourceMetadataUrl)
  provider.invalidateCredentials('tokens')
  const result = await auth(provider, { serverUrl: notes.url, scope, resourceMetadataUrl: new URL(resourceMetadataUrl) })
  assert.equal(result, 'REDIRECT')
  const url = provider.pendingAuthorization as URL
  const { code } = await authorizeInBrowser(browser, url, provider.redirectUrl, user)
  assert.equal(await auth(provider, { serverUrl: notes.url, authorizationCode: code, resourceMetadataUrl: new URL(resourceMetadataUrl) }), 'AUTHORIZED')
  return url
}

/** Calls notes_write with the provider's current token, as raw HTTP (to see the 403 challenge). */
async function rawWrite(provider: HeadlessProvider, sessionId: string | undefined): Promise<Response> {
  return fetch(notes.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${provider.saved?.access_token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(sessionId ? { 'mcp-session-id': sessionId } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'raw' } } }),
  })
}

const ALICE = { username: 'alice', password: 'alice-password' }

before(async () => {
  if (skip) return
  keycloak = kc as Keycloak
  const port = await freePort()
  resource = `http://127.0.0.1:${port}/mcp`
  issuer = await keycloak.createRealm(REALM, resource)
  const bundle = await buildTestBundle({
    mcp_authz: {
      resource,
      server_name: 'Notes (interactive)',
      authorization_servers: [issuer],
      issuers: { [issuer]: {} },
      defaults: { read_scope: 'notes:read', write_scope: 'notes:write', unlisted_tools: 'deny', unlisted_resources: 'deny', unlisted_prompts: 'deny' },
      tools: { notes_read: { scopes: ['notes:read'] }, notes_write: { scopes: ['notes:write'] } },
      resources: [{ prefix: 'notes://', scopes: ['notes:read'] }],
      prompts: { summarize_notes: { scopes: ['notes:read'] } },
    },
  })
  const verifier = createTokenVerifier({ audience: resource, issuers: [{ issuer, typ: ['JWT'] }] })
  const authz = await createAuthz({ bundle, verifier, stepUpScopes: 'granted-and-required', onDecision: (e) => events.push(e) })
  notes = await startNotesServer(authz, { port })
})

after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await notes?.close()
  if (!skip) {
    await keycloak.deleteRealm(REALM)
    await keycloak.close()
  }
})

describe('the interactive flow with the SDK client against Keycloak (issue 13.7)', { skip }, () => {
  it('401 → metadata → registration → code + PKCE with resource → calls → 403 → step-up → refresh', async () => {
    const browser = new Browser()
    const provider = new HeadlessProvider(`http://127.0.0.1:${await freePort()}/callback`, 'scopes_supported')

    // 1. Sign in: the 401 names the read scope; the client registers with every supported scope.
    const { authorizationUrl, steps } = await signIn(provider, browser, ALICE)
    assert.equal(provider.discovery?.authorizationServerUrl.toString().replace(/\/$/, ''), issuer, 'the AS comes from the protected-resource metadata')
    assert.equal(provider.registeredScope, 'notes:read notes:write', 'registered with scopes_supported')
    assert.equal(authorizationUrl.origin + authorizationUrl.pathname, `${issuer}/protocol/openid-connect/auth`)
    assert.equal(authorizationUrl.searchParams.get('code_challenge_method'), 'S256')
    assert.ok(authorizationUrl.searchParams.get('code_challenge'))
    assert.equal(authorizationUrl.searchParams.get('resource'), resource, 'RFC 8707 resource sent (Keycloak ignores it; the audience comes from the scope mappers)')
    assert.equal(authorizationUrl.searchParams.get('scope'), 'notes:read', "authorized with the 401's scope only")
    assert.deepEqual(steps.filter((s) => s !== 'redirect'), ['login', 'consent'], 'a dynamically registered client needs the user’s consent')
    const first = decodeJwt(provider.saved?.access_token as string)
    assert.equal(first.scope, 'notes:read')
    assert.ok(provider.saved?.refresh_token, 'Keycloak issued a refresh token')

    // 2. Calls with the read token.
    const { client, transport } = await connect(provider)
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name), ['notes_read'])
    assert.deepEqual((await client.callTool({ name: 'notes_read', arguments: {} })).content, [{ type: 'text', text: '' }])

    // 3. 403: the challenge names what the token holds and what is missing.
    const denied = await rawWrite(provider, transport.sessionId)
    assert.equal(denied.status, 403)
    const challenge = denied.headers.get('www-authenticate') ?? ''
    assert.match(challenge, /error="insufficient_scope"/)
    assert.match(challenge, /scope="notes:read notes:write"/)

    // SDK 1.32 answers the 403 by refreshing (same scopes) and gives up (typescript-sdk#2255).
    const sdkStepUp = await client.callTool({ name: 'notes_write', arguments: { title: 'sdk' } }).then(() => undefined, (e: unknown) => e)
    assert.ok(sdkStepUp instanceof StreamableHTTPError && sdkStepUp.code === 403, `SDK 1.32 cannot step up with a refresh token: ${String(sdkStepUp)}`)

    // 4. The application steps up: tokens dropped, auth() with the challenged scope, consent for the new scope.
    const stepUpUrl = await stepUp(provider, browser, challenge, ALICE)
    assert.equal(stepUpUrl.searchParams.get('scope'), 'notes:read notes:write')
    const stepped = decodeJwt(provider.saved?.access_token as string)
    assert.deepEqual(String(stepped.scope).split(' ').sort(), ['notes:read', 'notes:write'])
    const after = await connect(provider)
    assert.deepEqual((await after.client.callTool({ name: 'notes_write', arguments: { title: 'stepped', body: 'up' } })).content, [{ type: 'text', text: 'saved stepped' }])
    assert.deepEqual((await after.client.callTool({ name: 'notes_read', arguments: { title: 'stepped' } })).content, [{ type: 'text', text: 'up' }], 'reading still works: one re-authorization, not two')

    // 5. Refresh: a new access token with the same (stepped-up) scopes, from the refresh token.
    const before = provider.saved?.access_token
    assert.equal(await auth(provider, { serverUrl: notes.url }), 'AUTHORIZED')
    assert.notEqual(provider.saved?.access_token, before, 'a new access token')
    assert.deepEqual(String(decodeJwt(provider.saved?.access_token as string).scope).split(' ').sort(), ['notes:read', 'notes:write'])
    const refreshed = await connect(provider)
    assert.deepEqual((await refreshed.client.callTool({ name: 'notes_write', arguments: { title: 'refreshed' } })).content, [{ type: 'text', text: 'saved refreshed' }])
    assert.ok(events.some((e) => e.httpStatus === 403 && e.result.required_scopes.includes('notes:write')))
  })

  it("a client registered with the 401's scope (the SDK default) cannot step up on Keycloak: invalid_scope", async () => {
    const browser = new Browser()
    const provider = new HeadlessProvider(`http://127.0.0.1:${await freePort()}/callback`, 'challenge')
    await signIn(provider, browser, ALICE)
    assert.equal(provider.registeredScope, 'notes:read', 'the SDK registers with the scope of the 401')
    const { transport } = await connect(provider)
    const denied = await rawWrite(provider, transport.sessionId)
    assert.equal(denied.status, 403)
    await assert.rejects(stepUp(provider, browser, denied.headers.get('www-authenticate') ?? '', ALICE), /authorization error: invalid_scope/, 'Keycloak refuses a scope the client did not register')
  })
})
