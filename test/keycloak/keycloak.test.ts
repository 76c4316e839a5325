// Real identity provider: a real Keycloak 26 (dev mode, 127.0.0.1) protecting the notes example and
// the decision endpoint (`mcp-authz serve`). The verifier is configured with the issuer alone
// (discovery), `typ: ['JWT']` and realm roles by JSON Pointer — what a Keycloak user writes.
// Scenarios: client_credentials and user (password grant) tokens, audience, 403 step-up, realm
// roles, a second realm refused, expiry, introspection with revocation, key rotation through the
// admin REST API (new RSA provider with a higher priority, then the old one disabled).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { createAuthz } from '../../src/authz.ts'
import type { DecisionEvent } from '../../src/authz.ts'
import { parseConfig } from '../../src/config/load.ts'
import { startServer, type RunningServer } from '../../src/server/start.ts'
import { createTokenVerifier, type VerifierConfig } from '../../src/verify/index.ts'
import { startNotesServer, type RunningNotesServer } from '../../examples/notes-server/server.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { useKeycloak, REALM_FILE_AUDIENCE, type Keycloak } from '../helpers/keycloak.ts'
import { freePort } from '../helpers/net.ts'

const kc = await useKeycloak()
const skip = typeof kc === 'string' ? kc : false
if (skip) console.log(`# SKIP ${skip}`)

const suffix = randomBytes(4).toString('hex')
const REALM = `notes-${suffix}`
const OTHER_REALM = `other-${suffix}`
const ROTATION_REALM = `rotate-${suffix}`
const AGENT = { id: 'notes-agent', secret: 'notes-agent-secret' }
const APP = { id: 'notes-app', secret: 'notes-app-secret' }
const RS = { id: 'mcp-resource-server', secret: 'mcp-resource-server-secret' }

let keycloak: Keycloak
let resource: string
let issuer: string
let notes: RunningNotesServer
let endpoint: RunningServer
let introspecting: RunningServer
const events: DecisionEvent[] = []
const clients: Client[] = []

/** What a Keycloak user configures: the issuer alone, typ JWT, realm roles by pointer. */
const verifierFor = (iss: string): VerifierConfig => ({
  clockTolerance: 0, // same clock as Keycloak; makes the expiry scenario quick
  issuers: [{ issuer: iss, typ: ['JWT'], claims: { roles: '/realm_access/roles' } }],
})

async function agentToken(scope: string, realm = REALM): Promise<string> {
  return (await keycloak.tokenResponse(realm, AGENT, { grant_type: 'client_credentials', ...(scope ? { scope } : {}) })).access_token as string
}
async function userToken(user: 'alice' | 'bob', scope: string, realm = REALM): Promise<string> {
  return (await keycloak.tokenResponse(realm, APP, { grant_type: 'password', username: user, password: `${user}-password`, scope })).access_token as string
}

const INITIALIZE = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } }

/** One JSON-RPC call to the notes server with a bearer token, as raw HTTP. */
async function post(token: string, method: string, params: Record<string, unknown> = {}): Promise<Response> {
  return fetch(notes.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
}

async function sdkClient(token: string): Promise<Client> {
  const client = new Client({ name: 'keycloak-e2e', version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL(notes.url), { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  clients.push(client)
  return client
}

async function decide(server: RunningServer, token: string, tool: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await fetch(`${server.url}/v1/decide`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, message: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: args } } }),
  })
  assert.equal(res.status, 200)
  return (await res.json()) as Record<string, unknown>
}

before(async () => {
  if (skip) return
  keycloak = kc as Keycloak
  const port = await freePort()
  resource = `http://127.0.0.1:${port}/mcp`
  issuer = await keycloak.createRealm(REALM, resource)
  await keycloak.createRealm(OTHER_REALM, resource)
  const bundle = await buildTestBundle({
    mcp_authz: {
      resource,
      server_name: 'Notes (Keycloak)',
      authorization_servers: [issuer],
      issuers: { [issuer]: {} },
      defaults: { read_scope: 'notes:read', write_scope: 'notes:write', unlisted_tools: 'deny', unlisted_resources: 'deny', unlisted_prompts: 'deny' },
      tools: {
        notes_read: { scopes: ['notes:read'] },
        notes_write: { scopes: ['notes:write'] },
        notes_delete: { scopes: ['notes:write'], roles: ['notes-admin'] },
      },
      resources: [{ prefix: 'notes://', scopes: ['notes:read'] }],
      prompts: { summarize_notes: { scopes: ['notes:read'] } },
    },
  })
  const verifier = createTokenVerifier({ audience: resource, ...verifierFor(issuer) })
  const authz = await createAuthz({ bundle, verifier, onDecision: (e) => events.push(e) })
  notes = await startNotesServer(authz, { port })
  endpoint = await startServer(parseConfig({ bundle: { path: bundle, watch: false }, verifier: verifierFor(issuer), server: { port: 0 } }, { env: {} }))
  introspecting = await startServer(
    parseConfig(
      {
        bundle: { path: bundle, watch: false },
        verifier: {
          introspection: { endpoint: `${issuer}/protocol/openid-connect/token/introspect`, issuer, clientId: RS.id, clientSecret: RS.secret, claims: { roles: '/realm_access/roles' }, cacheTtl: 60 },
        },
        server: { port: 0 },
      },
      { env: {} },
    ),
  )
})

after(async () => {
  for (const c of clients) await c.close().catch(() => {})
  await notes?.close()
  await endpoint?.close()
  await introspecting?.close()
  if (!skip) {
    for (const realm of [REALM, OTHER_REALM, ROTATION_REALM]) await keycloak.deleteRealm(realm)
    await keycloak.close()
  }
})

describe('Keycloak: the realm file as imported at start', { skip }, () => {
  it('the imported realm "mcp" is discoverable and its tokens verify with the issuer alone', async () => {
    const iss = keycloak.issuer('mcp')
    const verifier = createTokenVerifier({ audience: REALM_FILE_AUDIENCE, ...verifierFor(iss) })
    const principal = await verifier.verify(await agentToken('notes:read', 'mcp'))
    assert.equal(principal.issuer, iss)
    assert.equal(principal.clientId, 'notes-agent', 'Keycloak sends azp, not client_id: azp is the client id')
    assert.deepEqual(principal.scopes, ['notes:read'])
    assert.deepEqual(principal.claims.roles, ['notes-editor'])
  })
})

describe('Keycloak: the notes example and the decision endpoint', { skip }, () => {
  it('a Keycloak access token has the shape the recipe documents (typ JWT, azp, realm_access.roles, aud from the scope)', async () => {
    const token = await userToken('alice', 'notes:read')
    assert.equal(decodeProtectedHeader(token).typ, 'JWT')
    const claims = decodeJwt(token)
    assert.equal(claims.iss, issuer)
    assert.deepEqual((claims.aud as string[]).slice().sort(), ['mcp-resource-server', resource].sort(), 'the resource, and the introspecting client (Keycloak 26 requires it)')
    assert.equal(claims.azp, 'notes-app')
    assert.equal(claims.client_id, undefined)
    assert.deepEqual((claims.realm_access as { roles: string[] }).roles.sort(), ['notes-admin', 'notes-editor'])
  })

  it('client_credentials: the SDK client lists and calls tools; the principal is the service account, clientId from azp', async () => {
    const client = await sdkClient(await agentToken('notes:read notes:write'))
    assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), ['notes_read', 'notes_write'], 'notes_delete needs the notes-admin role')
    assert.deepEqual((await client.callTool({ name: 'notes_write', arguments: { title: 'from-agent', body: 'hi' } })).content, [{ type: 'text', text: 'saved from-agent' }])
    const event = events.findLast((e) => e.input?.action.name === 'notes_write')
    assert.equal(event?.input?.principal.clientId, 'notes-agent')
    assert.equal(event?.input?.principal.issuer, issuer)
  })

  it('user token (password grant): alice writes and reads her own notes', async () => {
    const client = await sdkClient(await userToken('alice', 'notes:read notes:write'))
    await client.callTool({ name: 'notes_write', arguments: { title: 'mine', body: 'alice' } })
    assert.deepEqual((await client.callTool({ name: 'notes_read', arguments: { title: 'mine' } })).content, [{ type: 'text', text: 'alice' }])
  })

  it('audience: a token without any notes scope carries no audience for this server → 401', async () => {
    const token = await agentToken('')
    assert.equal(decodeJwt(token).aud, undefined)
    const res = await post(token, 'tools/list')
    assert.equal(res.status, 401)
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/)
    assert.equal((await decide(endpoint, token, 'notes_read')).status, 401)
  })

  it('scopes: a read-only token calling notes_write gets 403 insufficient_scope naming notes:write (notes example and endpoint)', async () => {
    const token = await userToken('bob', 'notes:read')
    const res = await post(token, 'tools/call', { name: 'notes_write', arguments: { title: 'x' } })
    assert.equal(res.status, 403)
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer error="insufficient_scope".*scope="notes:write".*resource_metadata="/)
    const decided = await decide(endpoint, token, 'notes_write', { title: 'x' })
    assert.equal(decided.status, 403)
    assert.deepEqual(decided.required_scopes, ['notes:write'])
  })

  it('realm roles: notes_delete needs notes-admin (/realm_access/roles); alice has it, the agent and bob do not', async () => {
    const alice = await userToken('alice', 'notes:read notes:write')
    assert.equal((await decide(endpoint, alice, 'notes_delete', { title: 'mine' })).allow, true)
    const alicesClient = await sdkClient(alice)
    assert.ok((await alicesClient.listTools()).tools.some((t) => t.name === 'notes_delete'))
    for (const token of [await agentToken('notes:read notes:write'), await userToken('bob', 'notes:read notes:write')]) {
      const decided = await decide(endpoint, token, 'notes_delete', { title: 'mine' })
      assert.equal(decided.allow, false)
      assert.equal(decided.status, 200, 'a role denial is a JSON-RPC error, not a step-up')
      const client = await sdkClient(token)
      const err = await client.callTool({ name: 'notes_delete', arguments: { title: 'mine' } }).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof McpError && err.code === -32003, String(err))
    }
  })

  it('a second realm of the same Keycloak is refused (another issuer), without a request to it', async () => {
    const token = await agentToken('notes:read notes:write', OTHER_REALM)
    assert.ok((decodeJwt(token).aud as string[]).includes(resource), 'same audience, other issuer')
    const res = await post(token, 'tools/list')
    assert.equal(res.status, 401)
    const decided = await decide(endpoint, token, 'notes_read')
    assert.equal(decided.status, 401)
    const refusal = events.findLast((e) => e.httpStatus === 401)
    assert.equal(refusal?.error?.code, 'ERR_ISSUER_UNKNOWN')
  })

  it('expiry: a token past its exp is refused (a client with a 5 s access-token lifespan)', async () => {
    await keycloak.admin('POST', `/realms/${REALM}/clients`, {
      clientId: 'short-lived',
      secret: 'short-lived-secret',
      publicClient: false,
      serviceAccountsEnabled: true,
      standardFlowEnabled: false,
      attributes: { 'access.token.lifespan': '5' },
      defaultClientScopes: ['basic', 'roles'],
      optionalClientScopes: ['notes:read'],
    })
    const response = await keycloak.tokenResponse(REALM, { id: 'short-lived', secret: 'short-lived-secret' }, { grant_type: 'client_credentials', scope: 'notes:read' })
    const token = response.access_token as string
    const exp = decodeJwt(token).exp as number
    assert.ok(exp - (decodeJwt(token).iat as number) <= 5)
    assert.equal((await post(token, 'initialize', INITIALIZE)).status, 200, 'valid while fresh')
    // Wait for the condition (the token's own exp), bounded: not a timing assumption.
    const deadline = Date.now() + 20_000
    while (Date.now() / 1000 <= exp + 0.5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    assert.equal((await post(token, 'initialize', INITIALIZE)).status, 401, 'the memoized principal does not outlive exp')
    assert.equal((await decide(endpoint, token, 'notes_read')).status, 401)
  })

  it('introspection (RFC 7662, mcp-resource-server client) accepts a live token and refuses it once revoked', async () => {
    const token = await userToken('alice', 'notes:read notes:write')
    const allowed = await decide(introspecting, token, 'notes_delete', { title: 'x' })
    assert.equal(allowed.allow, true, 'roles from the introspection answer by pointer')
    const revokedToken = await userToken('alice', 'notes:read')
    const res = await fetch(`${issuer}/protocol/openid-connect/revoke`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${APP.id}:${APP.secret}`).toString('base64')}` },
      body: new URLSearchParams({ token: revokedToken, token_type_hint: 'access_token' }),
    })
    assert.equal(res.status, 200)
    const refused = await decide(introspecting, revokedToken, 'notes_read')
    assert.equal(refused.status, 401)
    const decisionId = refused.decision_id
    assert.ok(typeof decisionId === 'string')
    assert.equal((await decide(introspecting, token, 'notes_read')).allow, true, 'the live token still passes')
  })
})

describe('Keycloak: key rotation through the admin REST API (issue 11.8)', { skip }, () => {
  it('a new RSA provider with a higher priority signs new tokens: accepted at once; the old one disabled: its tokens refused after a refetch', async () => {
    const rotIssuer = await keycloak.createRealm(ROTATION_REALM, resource)
    let fetches = 0
    const clock = { offset: 0 }
    const verifier = createTokenVerifier(
      { audience: resource, cacheMax: 0, ...verifierFor(rotIssuer), issuers: [{ issuer: rotIssuer, typ: ['JWT'], jwksCacheMaxAge: 5 }] },
      {
        now: () => Date.now() + clock.offset,
        fetch: (input, init) => {
          if (String(input).endsWith('/certs')) fetches++
          return fetch(input, init)
        },
      },
    )
    const before = await agentToken('notes:read', ROTATION_REALM)
    const oldKid = decodeProtectedHeader(before).kid as string
    await verifier.verify(before)
    assert.equal(fetches, 1)

    const realm = (await keycloak.admin('GET', `/realms/${ROTATION_REALM}`)) as { id: string }
    await keycloak.admin('POST', `/realms/${ROTATION_REALM}/components`, {
      name: 'rotated-rsa',
      providerId: 'rsa-generated',
      providerType: 'org.keycloak.keys.KeyProvider',
      parentId: realm.id,
      config: { priority: ['500'], keySize: ['2048'], algorithm: ['RS256'], active: ['true'], enabled: ['true'] },
    })
    const afterRotation = await agentToken('notes:read', ROTATION_REALM)
    const newKid = decodeProtectedHeader(afterRotation).kid as string
    assert.notEqual(newKid, oldKid, 'Keycloak signs with the new key')
    clock.offset += 1100 // the last fetch is now more than a second old
    assert.equal((await verifier.verify(afterRotation)).clientId, 'notes-agent', 'no outage: accepted on first sight')
    assert.equal(fetches, 2, 'one refetch')
    assert.equal((await verifier.verify(before)).clientId, 'notes-agent', 'the old key is still published')

    const components = (await keycloak.admin('GET', `/realms/${ROTATION_REALM}/components?type=org.keycloak.keys.KeyProvider`)) as Array<{ id: string; name: string; providerId: string; config: Record<string, string[]> }>
    const old = components.find((c) => c.providerId === 'rsa-generated' && c.name !== 'rotated-rsa')
    assert.ok(old, 'the realm has its original RSA provider')
    await keycloak.admin('PUT', `/realms/${ROTATION_REALM}/components/${old.id}`, { ...old, config: { ...old.config, enabled: ['false'], active: ['false'] } })
    const jwks = (await (await fetch(`${rotIssuer}/protocol/openid-connect/certs`)).json()) as { keys: Array<{ kid: string }> }
    assert.ok(!jwks.keys.some((k) => k.kid === oldKid), 'the disabled key is no longer published')

    clock.offset += 6000 // past jwksCacheMaxAge (5 s): the next verification refetches
    await assert.rejects(verifier.verify(before), { code: 'ERR_KEY_NOT_FOUND' })
    assert.equal((await verifier.verify(afterRotation)).clientId, 'notes-agent')
  })
})
