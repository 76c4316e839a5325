// The canary (issue 5's acceptance test): the end-to-end flows run with every log captured — the
// decision logger's stdout sink (hooks.stdout) and file sink, the endpoint's Fastify/pino logger
// and file decision log, and everything the process writes to stdout/stderr — and with every
// response body and header captured by a custom fetch. No token minted or forged here, no client
// secret, no Authorization header value and no planted fixture secret may appear in any of them;
// each decision must produce exactly one record.
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { freePort } from '../helpers/net.ts'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { Client } from '@modelcontextprotocol/sdk/client/index.js'
import { ClientCredentialsProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js'
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js'
import { McpError } from '@modelcontextprotocol/sdk/types.js'
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js'
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js'
import Fastify, { type FastifyInstance } from 'fastify'
import { exportJWK, generateKeyPair, SignJWT } from 'jose'
import { createAuthz } from '../../src/authz.ts'
import type { DecisionEvent } from '../../src/authz.ts'
import { parseConfig } from '../../src/config/index.ts'
import { createDecisionLogger, type DecisionLogger } from '../../src/decision-log/index.ts'
import { hashApiKey } from '../../src/server/auth.ts'
import { startServer, type RunningServer } from '../../src/server/start.ts'
import { createTokenVerifier } from '../../src/verify/index.ts'
import { mcpAuthzFastify, protect } from '../../src/mcp/index.ts'
import { createNotesServer, startNotesServer, type RunningNotesServer } from '../../examples/notes-server/server.ts'
import { startAuthorizationServer, type AuthorizationServer } from '../helpers/authorization-server.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { CanaryCapture, decisionIdsOf, type Captured } from '../helpers/canary-capture.ts'

const SCOPES = ['notes:read', 'notes:write', 'notes:admin']
const RUN = randomBytes(6).toString('hex')
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const rand = (n: number, alphabet = ALNUM) => Array.from(randomBytes(n), (b) => alphabet[b % alphabet.length]).join('')

// Distinctive canary strings: any of them in a log line or a response body is a leak.
const CLIENT_SECRETS: Record<string, string> = Object.fromEntries(
  ['reader', 'writer', 'admin-agent', 'notes-rs'].map((id) => [id, `CANARY-client-secret-${id}-${RUN}-${rand(12)}`]),
)
const API_KEY = `mcpk_CANARY-endpoint-key-${RUN}-${rand(16)}`
const WRONG_API_KEY = `CANARY-wrong-endpoint-key-${RUN}-${rand(16)}`
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
const PLANTED = {
  password: `CANARY-password-${RUN}-${rand(10)}`,
  bearer: `abc${RUN}${rand(24)}`,
  pem,
  pemBody: pem.split('\n')[1] as string,
  awsKeyId: `AKIA${rand(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
  awsSecret: rand(40),
  github: `ghp_${rand(36)}`,
  urlPassword: `CANARYurlpw${RUN}${rand(10)}`,
  jwt: '', // a JWS, minted in before()
}


/** Tool arguments full of planted secrets (keys the notes tools ignore or accept). */
function plantedArguments(title: string, folder: string): Record<string, unknown> {
  return {
    title,
    folder,
    body: [
      `token for the build: ${PLANTED.jwt}`,
      `curl -H "Authorization: Bearer ${PLANTED.bearer}" https://api.example.com`,
      `aws: ${PLANTED.awsKeyId} / AWS_SECRET_ACCESS_KEY=${PLANTED.awsSecret}`,
      `gh: ${PLANTED.github}`,
      `db: postgres://canary:${PLANTED.urlPassword}@db.example.com:5432/notes`,
      `password: "${PLANTED.password}"`,
      PLANTED.pem,
    ].join('\n'),
    password: PLANTED.password,
    jwt: PLANTED.jwt,
    aws_access_key_id: PLANTED.awsKeyId,
    aws_secret_access_key: PLANTED.awsSecret,
    note: `Bearer ${PLANTED.bearer}`,
    private_key: PLANTED.pem,
    github: PLANTED.github,
    webhook: `https://canary:${PLANTED.urlPassword}@hooks.example.com/x`,
  }
}

const cap = new CanaryCapture()
let as: AuthorizationServer
let notes: RunningNotesServer | undefined
let endpoint: RunningServer | undefined
let resource: string
let otherResource: string
let minterIssuer: string
let minterKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey']
let mcpLogger: DecisionLogger | undefined
let fastifyMcp: FastifyInstance | undefined
let fastifyMcpUrl: string
const fastifyTransports = new Map<string, StreamableHTTPServerTransport>()
let tmp: string
const events: DecisionEvent[] = []
const clients: Client[] = []
const ccfetch = cap.fetch({ tokenEndpoints: () => (as ? [as.tokenEndpoint] : []) })

/** A token, registered as a secret. */
async function token(clientId: string, scope: string, res = resource): Promise<string> {
  const t = await as.token(clientId, { resource: res, scope })
  cap.secret(`token of ${clientId}`, t)
  return t
}

async function mint(claims: Record<string, unknown>, options: { kid?: string; issuer?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const payload = { iss: options.issuer ?? minterIssuer, sub: 'canary-user', aud: resource, iat: now, exp: now + 300, client_id: 'canary', scope: 'notes:read', jti: randomUUID(), ...claims }
  const t = await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: options.kid ?? 'minter-1' }).sign(minterKey)
  cap.secret('minted token', t)
  return t
}

class SteppingUpProvider extends ClientCredentialsProvider {
  readonly extra = new Set<string>()
  override get clientMetadata() {
    const base = super.clientMetadata
    return { ...base, scope: [...new Set([...(base.scope ?? '').split(' ').filter(Boolean), ...this.extra])].join(' ') }
  }
}

async function connect(clientId: string, scope: string): Promise<Client> {
  const provider = new SteppingUpProvider({ clientId, clientSecret: CLIENT_SECRETS[clientId] as string, scope, expectedIssuer: as.issuer })
  const fetchFn: typeof fetch = async (input, init) => {
    const res = await ccfetch(input, init)
    const challenge = res.status === 403 ? (res.headers.get('www-authenticate') ?? '') : ''
    if (/error="insufficient_scope"/.test(challenge)) for (const s of /scope="([^"]*)"/.exec(challenge)?.[1]?.split(' ') ?? []) provider.extra.add(s)
    return res
  }
  const client = new Client({ name: `canary-${clientId}`, version: '1.0.0' })
  await client.connect(new StreamableHTTPClientTransport(new URL((notes as RunningNotesServer).url), { authProvider: provider, fetch: fetchFn }))
  clients.push(client)
  return client
}

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }
const rawPost = (body: string, headers: Record<string, string> = {}, url = (notes as RunningNotesServer).url) => ccfetch(url, { method: 'POST', headers: { ...MCP_HEADERS, ...headers }, body, signal: AbortSignal.timeout(5000) })
const ping = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' })

async function decide(body: unknown, headers: Record<string, string> = { authorization: `Bearer ${API_KEY}` }, path = '/v1/decide'): Promise<{ status: number; json: any }> {
  const res = await ccfetch(`${(endpoint as RunningServer).url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(5000) })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}
const call = (name: string, args: Record<string, unknown> = {}, id: number | string = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } })

before(async () => {
  cap.captureStdio()
  for (const [id, s] of Object.entries(CLIENT_SECRETS)) cap.secret(`client secret of ${id}`, s)
  cap.secret('endpoint API key', API_KEY)
  cap.secret('wrong endpoint API key', WRONG_API_KEY)
  tmp = await mkdtemp(join(tmpdir(), 'mcp-authz-canary-'))

  const port = await freePort()
  resource = `http://127.0.0.1:${port}/mcp`
  otherResource = `http://127.0.0.1:${port}/other`
  minterIssuer = `http://127.0.0.1:${port}/canary-minter`
  const minter = await generateKeyPair('ES256', { extractable: true })
  minterKey = minter.privateKey
  const minterJwk = { ...(await exportJWK(minter.publicKey)), kid: 'minter-1', alg: 'ES256', use: 'sig' }
  PLANTED.jwt = await mint({ sub: 'planted' })
  for (const [k, v] of Object.entries(PLANTED)) if (k !== 'pem') cap.secret(`planted ${k}`, v)

  as = await startAuthorizationServer({
    resources: { [resource]: { scopes: SCOPES }, [otherResource]: { scopes: SCOPES } },
    clients: Object.entries(CLIENT_SECRETS).map(([clientId, clientSecret]) => ({ clientId, clientSecret, scopes: SCOPES })),
  })
  const template = await readFile(new URL('../fixtures/mcp-notes-data.json', import.meta.url), 'utf8')
  const data = JSON.parse(template.replaceAll('${RESOURCE}', resource).replaceAll('${ISSUER}', as.issuer))
  const bundle = await buildTestBundle(data)
  const verifierConfig = {
    audience: resource,
    issuers: [
      { issuer: as.issuer, jwksUri: as.jwksUri, requiredClaims: ['client_id' as const] },
      // Trusted by the verifier, not by the policy: its tokens verify and are then denied (issuer_not_trusted).
      { issuer: minterIssuer, jwks: { keys: [minterJwk] } as never, algorithms: ['ES256' as const] },
    ],
    // Opaque credentials go to introspection, which authenticates with a canary client secret.
    introspection: { endpoint: as.introspectionEndpoint, issuer: as.issuer, clientId: 'notes-rs', clientSecret: CLIENT_SECRETS['notes-rs'] as string },
  }

  // The MCP server: the notes example with a real decision logger (stdout sink → captured stream, file sink).
  mcpLogger = createDecisionLogger(
    { sinks: [{ type: 'stdout' }, { type: 'file', path: join(tmp, 'mcp-decisions.log') }], labels: { service: 'notes-canary' } },
    { stdout: cap.stream('mcp decision log (stdout sink)'), onError: (e) => cap.line('mcp decision log onError', `${e.code} ${e.message}`) },
  )
  const logger = mcpLogger
  // A verifier that does not describe its trust (createAuthz would refuse the minter, which the data
  // does not trust): the policy's own issuer_not_trusted denial is what this suite exercises.
  const tokenVerifier = createTokenVerifier(verifierConfig)
  const authz = await createAuthz({
    bundle,
    verifier: { verify: (token, options) => tokenVerifier.verify(token, options) },
    onDecision: (e) => {
      events.push(e)
      logger.log(e)
    },
  })
  notes = await startNotesServer(authz, { port })

  // The same notes server behind the Fastify adapter, with the app's own pino logger captured.
  fastifyMcp = Fastify({ logger: { level: 'debug', stream: cap.stream('mcp fastify app log') } })
  await fastifyMcp.register(mcpAuthzFastify, {
    authz,
    handle: async (req, res, body) => {
      const sessionId = req.headers['mcp-session-id']
      let transport = typeof sessionId === 'string' ? fastifyTransports.get(sessionId) : undefined
      if (transport === undefined) {
        if (req.method !== 'POST' || !isInitializeRequest(body)) {
          res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }))
          return
        }
        const created = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, enableJsonResponse: true, onsessioninitialized: (id) => void fastifyTransports.set(id, created) })
        await protect(createNotesServer(), authz).connect(created)
        transport = created
      }
      await transport.handleRequest(req, res, body)
    },
  })
  fastifyMcpUrl = `${await fastifyMcp.listen({ host: '127.0.0.1', port: 0 })}/mcp`

  // The decision endpoint: file decision log, Fastify's pino logger captured at debug level.
  const config = parseConfig(
    {
      resource,
      bundle: { path: bundle, watch: false },
      // The endpoint refuses a verifier trusting an issuer its data does not (one place for trust): no minter here.
      verifier: { ...verifierConfig, issuers: verifierConfig.issuers.slice(0, 1) },
      decisionLog: { sinks: [{ type: 'file', path: join(tmp, 'endpoint-decisions.log') }] },
      server: { host: '127.0.0.1', port: 0, apiKeyHashes: [hashApiKey(API_KEY)] },
    },
    { env: {} },
  )
  endpoint = await startServer(config, { logger: { level: 'debug', stream: cap.stream('endpoint fastify log') } })
})

after(async () => {
  cap.restore()
  for (const c of clients) await c.close().catch(() => {})
  await notes?.close()
  await fastifyMcp?.close()
  await endpoint?.close()
  await mcpLogger?.close()
  await as?.close()
  if (tmp) await rm(tmp, { recursive: true, force: true })
})

describe('canary: no secret in any log line or response body, one record per decision', () => {
  describe('MCP server (notes example, protect + node:http guard)', () => {
    it('discovery from a 401 without a token; the metadata GET makes no decision', async () => {
      const res = await rawPost(ping)
      assert.equal(res.status, 401)
      assert.ok(res.headers.get('mcp-authz-decision-id'))
      const metadataUrl = /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate') ?? '')?.[1]
      assert.ok(metadataUrl)
      const metadata = await ccfetch(metadataUrl)
      assert.equal(metadata.status, 200)
      assert.equal(metadata.headers.get('mcp-authz-decision-id'), null)
      assert.deepEqual(((await metadata.json()) as { authorization_servers: string[] }).authorization_servers, [as.issuer])
    })

    it('invalid, forged, tampered, expired, wrong-audience and untrusted tokens are refused with 401', async () => {
      const real = await token('writer', 'notes:read')
      const [h, , s] = real.split('.') as [string, string, string]
      const tamperedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(real.split('.')[1] as string, 'base64url').toString()), scope: 'notes:read notes:write notes:admin' })).toString('base64url')
      const tampered = `${h}.${tamperedPayload}.${s}`
      cap.secret('tampered token', tampered)
      const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
      const now = Math.floor(Date.now() / 1000)
      const algNone = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({ iss: as.issuer, sub: 'x', aud: resource, exp: now + 300, client_id: 'writer', scope: 'notes:admin', jti: RUN })}.${rand(43)}`
      cap.secret('alg none token', algNone)
      const opaque = `CANARY-opaque-${RUN}-${rand(20)}`
      cap.secret('opaque token', opaque)
      const forged = await mint({ client_id: 'writer', scope: 'notes:write' }, { kid: as.currentKid, issuer: as.issuer })
      const expired = await mint({ exp: now - 3600, iat: now - 7200 })
      const untrusted = await mint({})
      const wrongAudience = await token('writer', 'notes:read', otherResource)
      const expected: Record<string, string> = { opaque: 'ERR_TOKEN_INACTIVE', tampered: 'ERR_SIGNATURE_INVALID', algNone: 'ERR_ALG_NOT_ALLOWED', forged: 'ERR_KEY_REJECTED', expired: 'ERR_TOKEN_EXPIRED', untrusted: 'issuer_not_trusted', wrongAudience: 'ERR_AUDIENCE_MISMATCH' }
      for (const [label, t] of Object.entries({ opaque, tampered, algNone, forged, expired, untrusted, wrongAudience })) {
        const res = await rawPost(ping, { authorization: `Bearer ${t}` })
        assert.equal(res.status, 401, label)
        const event = events.find((e) => e.decisionId === res.headers.get('mcp-authz-decision-id'))
        assert.equal(event?.error?.code ?? event?.result.reasons[0]?.code, expected[label], label)
        assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/, label)
        assert.ok(res.headers.get('mcp-authz-decision-id'), label)
        await res.body?.cancel()
      }
      // A Basic credential is no bearer credential: bare 401.
      const basic = `Basic ${Buffer.from(`writer:${CLIENT_SECRETS.writer}`).toString('base64')}`
      const res = await rawPost(ping, { authorization: basic })
      assert.equal(res.status, 401)
      assert.doesNotMatch(res.headers.get('www-authenticate') ?? '', /error=/)
    })

    it('a token in the query string is refused (400) and never decided or logged', async () => {
      const t = await token('writer', 'notes:read notes:write')
      const before = events.length
      const res = await rawPost(ping, {}, `${(notes as RunningNotesServer).url}?access_token=${t}`)
      assert.equal(res.status, 400)
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_request"/)
      assert.equal(events.length, before, 'no decision for a refused query-string token')
      const both = await rawPost(ping, { authorization: `Bearer ${t}` }, `${(notes as RunningNotesServer).url}?access_token=${t}`)
      assert.equal(both.status, 400)
    })

    it('the SDK client authenticates and makes an allowed call with secrets in its arguments', async () => {
      const client = await connect('writer', 'notes:read notes:write')
      const saved = await client.callTool({ name: 'notes_write', arguments: plantedArguments('canary-allowed', 'personal') })
      assert.deepEqual(saved.content, [{ type: 'text', text: 'saved canary-allowed' }])
      assert.ok(events.some((e) => e.result.allow && e.input?.action.name === 'notes_write'))
    })

    it('step-up: 403 insufficient_scope → new token → success (secrets in the arguments both times)', async () => {
      const client = await connect('reader', 'notes:read')
      const from = events.length
      const result = await client.callTool({ name: 'notes_write', arguments: plantedArguments('canary-step-up', 'work') })
      assert.deepEqual(result.content, [{ type: 'text', text: 'saved canary-step-up' }])
      assert.ok(events.slice(from).some((e) => e.httpStatus === 403))
    })

    it('list filtering: two principals see different tools', async () => {
      const reader = await connect('reader', 'notes:read')
      const admin = await connect('admin-agent', 'notes:read notes:write notes:admin')
      const names = async (c: Client) => (await c.listTools()).tools.map((t) => t.name).sort()
      assert.deepEqual(await names(reader), ['notes_read'])
      assert.deepEqual(await names(admin), ['notes_delete', 'notes_read', 'notes_write'])
    })

    it('a denied argument with planted secrets gets a JSON-RPC error with a decision id', async () => {
      const client = await connect('writer', 'notes:read notes:write')
      const err = await client.callTool({ name: 'notes_write', arguments: plantedArguments('canary-denied', 'secret') }).then(() => undefined, (e: unknown) => e)
      assert.ok(err instanceof McpError)
      assert.equal(err.code, -32003)
      const id = (err.data as { decision_id?: string }).decision_id
      assert.ok(id)
      assert.ok(events.find((e) => e.decisionId === id)?.result.reasons.some((r) => r.code === 'argument_denied'))
    })

    it('malformed messages with secrets in them are refused with 400', async () => {
      const t = await token('writer', 'notes:read notes:write')
      const badParams = await rawPost(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 42, arguments: { password: PLANTED.password } } }), { authorization: `Bearer ${t}` })
      assert.equal(badParams.status, 400)
      const badJson = await rawPost(`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"password":"${PLANTED.password}" oops}}`, { authorization: `Bearer ${t}` })
      assert.equal(badJson.status, 400)
      await Promise.all([badParams.body?.cancel(), badJson.body?.cancel()])
    })
  })

  describe('MCP server behind the Fastify adapter (app logger captured)', () => {
    it('no token, an invalid token, a query-string token; an allowed and a denied call with planted secrets', async () => {
      const none = await rawPost(ping, {}, fastifyMcpUrl)
      assert.equal(none.status, 401)
      const invalid = await rawPost(ping, { authorization: `Bearer ${PLANTED.github}` }, fastifyMcpUrl)
      assert.equal(invalid.status, 401)
      const t = await token('writer', 'notes:read notes:write')
      const query = await rawPost(ping, {}, `${fastifyMcpUrl}?access_token=${t}`)
      assert.equal(query.status, 400)
      const auth = { authorization: `Bearer ${t}` }
      const init = await rawPost(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }), auth, fastifyMcpUrl)
      assert.equal(init.status, 200)
      const session = { ...auth, 'mcp-session-id': init.headers.get('mcp-session-id') as string, 'mcp-protocol-version': '2025-11-25' }
      assert.equal((await rawPost(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), session, fastifyMcpUrl)).status, 202)
      const allowed = await rawPost(JSON.stringify(call('notes_write', plantedArguments('canary-fastify', 'personal'), 2)), session, fastifyMcpUrl)
      assert.match(await allowed.text(), /saved canary-fastify/)
      const denied = await rawPost(JSON.stringify(call('notes_write', plantedArguments('canary-fastify', 'secret'), 3)), session, fastifyMcpUrl)
      assert.match(await denied.text(), /"code":-32003/)
      const end = await ccfetch(fastifyMcpUrl, { method: 'DELETE', headers: session })
      assert.equal(end.status, 200)
      await Promise.all([none, invalid, query, init, end].map((r) => r.body?.cancel()))
    })
  })

  describe('decision endpoint (startServer, Fastify)', () => {
    it('/v1/decide: valid, over-scoped, not allowed to the client, and secrets in arguments and context', async () => {
      const read = await token('reader', 'notes:read')
      const write = await token('writer', 'notes:read notes:write')
      const ok = await decide({ token: read, message: call('notes_read', { title: 'x' }), context: { requestId: `req-${RUN}` } })
      assert.equal(ok.json.allow, true)
      const over = await decide({ token: read, message: call('notes_write', plantedArguments('x', 'personal')) })
      assert.equal(over.json.status, 403)
      const notClient = await decide({ token: write, message: call('notes_delete', { title: 'x', password: PLANTED.password }) })
      assert.equal(notClient.json.allow, false)
      const denied = await decide({ token: write, message: call('notes_write', plantedArguments('x', 'secret'), 'req-7'), context: { transport: 'http', requestId: `req-${RUN}`, annotations: { note: `Bearer ${PLANTED.bearer}`, github: PLANTED.github } } })
      assert.equal(denied.json.allow, false)
      assert.ok(denied.json.jsonrpc_error)
      const allowed = await decide({ token: write, message: JSON.stringify(call('notes_write', plantedArguments('x', 'work'))) }, { 'x-api-key': API_KEY })
      assert.equal(allowed.json.allow, true)
      const malformed = await decide({ token: write, message: { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 7, arguments: { password: PLANTED.password } } } })
      assert.equal(malformed.json.status, 400)
    })

    it('/v1/decide: missing, invalid, forged and expired tokens answer status 401', async () => {
      const now = Math.floor(Date.now() / 1000)
      const forged = await mint({ client_id: 'writer' }, { kid: as.currentKid, issuer: as.issuer })
      const expired = await mint({ exp: now - 3600, iat: now - 7200 })
      const opaque = `CANARY-opaque-endpoint-${RUN}-${rand(20)}`
      cap.secret('opaque endpoint token', opaque)
      for (const t of [undefined, opaque, forged, expired, `Bearer ${PLANTED.bearer}`]) {
        const r = await decide({ ...(t === undefined ? {} : { token: t }), message: call('notes_read') })
        assert.equal(r.status, 200)
        assert.ok([400, 401].includes(r.json.status), `status ${r.json.status}`)
        assert.equal(r.json.allow, false)
      }
    })

    it('a token in the query string is refused and not logged; callers without the API key get 401', async () => {
      const t = await token('writer', 'notes:read')
      const q = await decide({ message: call('notes_read') }, { authorization: `Bearer ${API_KEY}` }, `/v1/decide?access_token=${t}`)
      assert.equal(q.status, 400)
      const elsewhere = await ccfetch(`${(endpoint as RunningServer).url}/nowhere?access_token=${t}`, { headers: { authorization: `Bearer ${API_KEY}` } })
      assert.equal(elsewhere.status, 400)
      await elsewhere.text()
      // The 404 message names the route, not the query string.
      const q404 = await ccfetch(`${(endpoint as RunningServer).url}/nowhere?password=${PLANTED.password}&token=${t}`, { headers: { authorization: `Bearer ${API_KEY}` } })
      assert.equal(q404.status, 404)
      await q404.text()
      const noKey = await decide({ token: t, message: call('notes_read') }, {})
      assert.equal(noKey.status, 401)
      const wrongKey = await decide({ token: t, message: call('notes_read') }, { authorization: `Bearer ${WRONG_API_KEY}` })
      assert.equal(wrongKey.status, 401)
      const badJson = await decide(`{"token":"${t}","message":{"password":"${PLANTED.password}" oops}}`)
      assert.equal(badJson.status, 400)
    })

    it('the OPA Data API route with secrets in the raw input', async () => {
      const principal = { subject: 'canary', clientId: 'writer', issuer: as.issuer, audience: [resource], scopes: ['notes:write'], authMethod: 'jwt', tokenId: 't', claims: { api_key: PLANTED.github, note: `Bearer ${PLANTED.bearer}` } }
      const input = { principal, action: { method: 'tools/call', kind: 'tool', name: 'notes_write', arguments: plantedArguments('x', 'secret') }, server: { resource }, context: { time_ns: 0, transport: 'http' } }
      const r = await decide({ input }, undefined, '/v1/data/mcp/authz/decision')
      assert.equal(r.status, 200)
      assert.equal(r.json.result.allow, false)
      const allowed = await decide({ input: { ...input, action: { ...input.action, arguments: plantedArguments('x', 'work') } } }, undefined, '/v1/data/mcp/authz/decision')
      assert.equal(allowed.json.result.allow, true)
    })

    it('/v1/visible filters with a valid token; missing and invalid tokens get 401 — each a logged decision', async () => {
      const items = [{ name: 'notes_read' }, { name: 'notes_write' }]
      const r = await decide({ token: await token('reader', 'notes:read'), kind: 'tool', items }, undefined, '/v1/visible')
      assert.deepEqual(r.json.items, ['notes_read'])
      const opaque = `CANARY-opaque-visible-${RUN}-${rand(12)}`
      cap.secret('opaque /v1/visible token', opaque)
      for (const t of [undefined, PLANTED.jwt, opaque]) {
        const refused = await decide({ ...(t === undefined ? {} : { token: t }), kind: 'tool', items }, undefined, '/v1/visible')
        assert.equal(refused.json.status, 401)
        assert.deepEqual(refused.json.items, [])
      }
    })
  })

  it('nothing leaked anywhere, and each decision produced exactly one record', async () => {
    // Stop everything so that every record is written: sessions end (DELETE decisions), logs flush.
    for (const c of clients.splice(0)) await c.close().catch(() => {})
    await notes?.close()
    notes = undefined
    for (const t of fastifyTransports.values()) await t.close().catch(() => {})
    await fastifyMcp?.close()
    fastifyMcp = undefined
    const decisionsTotal = async () => {
      const text = await (endpoint as RunningServer).metrics.registry.metrics()
      return [...text.matchAll(/^mcp_authz_decisions_total\{[^}]*\} (\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0)
    }
    const endpointDecisions = await decisionsTotal()
    const endpointUrl = (endpoint as RunningServer).url
    await endpoint?.close()
    endpoint = undefined
    await mcpLogger?.flush()
    const stats = (mcpLogger as DecisionLogger).stats()
    assert.deepEqual([stats.events, stats.logged, stats.written, stats.dropped, stats.failed, stats.recordErrors], [events.length, events.length, 2 * events.length, 0, 0, 0], 'every event logged to both sinks')
    await mcpLogger?.close()
    await Promise.all(cap.exchanges.map((e) => e.done))
    await new Promise((r) => setTimeout(r, 50))
    cap.restore()

    const fileLines = async (name: string): Promise<Captured[]> =>
      (await readFile(join(tmp, name), 'utf8')).split('\n').filter(Boolean).map((text) => ({ source: `file sink ${name}`, text }))
    const mcpFile = await fileLines('mcp-decisions.log')
    const endpointFile = await fileLines('endpoint-decisions.log')
    const mcpStdout = cap.lines.filter((l) => l.source === 'mcp decision log (stdout sink)')
    const notesOrigin = new URL(resource).origin
    const fastifyOrigin = new URL(fastifyMcpUrl).origin
    const isMcp = (e: { url: string }) => e.url.startsWith(notesOrigin) || e.url.startsWith(fastifyOrigin)
    const ours = cap.exchanges.filter((e) => isMcp(e) || e.url.startsWith(endpointUrl))
    const bodies: Captured[] = ours.map((e) => ({
      source: `response ${e.method} ${new URL(e.url).pathname} ${e.status}`,
      text: `${[...e.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${e.body}`,
    }))

    // Every capture saw traffic, and the refused query-string tokens were logged by both Fastify apps — redacted.
    const by = (source: string) => cap.lines.filter((l) => l.source === source)
    for (const source of ['mcp decision log (stdout sink)', 'mcp fastify app log', 'endpoint fastify log']) assert.ok(by(source).length > 0, `${source} captured`)
    for (const source of ['mcp fastify app log', 'endpoint fastify log']) assert.ok(by(source).some((l) => l.text.includes('access_token=[REDACTED]')), `${source}: query-string token request logged, redacted`)
    assert.ok(mcpFile.length > 0 && endpointFile.length > 0)

    // 1. No secret anywhere.
    const leaks = cap.scan([...cap.lines, ...mcpFile, ...endpointFile, ...bodies])
    assert.deepEqual(leaks.map((l) => `${l.secret} in ${l.where}`), [], 'secrets leaked')

    // 2. One record per decision, MCP server: onDecision events = stdout-sink records = file-sink records.
    const ids = (lines: Captured[]) => lines.map((l) => (JSON.parse(l.text) as { decision_id: string }).decision_id)
    const eventIds = events.map((e) => e.decisionId)
    const unique = (xs: string[]) => assert.equal(new Set(xs).size, xs.length, 'duplicate decision ids')
    unique(eventIds)
    for (const recordIds of [ids(mcpStdout), ids(mcpFile)]) {
      unique(recordIds)
      assert.deepEqual(recordIds.slice().sort(), eventIds.slice().sort())
    }
    const unrecorded = ours.filter((e) => isMcp(e) && decisionIdsOf(e).some((id) => !eventIds.includes(id)))
    assert.deepEqual(unrecorded.map((e) => `${e.method} ${new URL(e.url).pathname} ${e.status}`), [], 'decision ids given to clients without a record')
    // Requests that make no decision: metadata GETs, query-string tokens (refused before any decision).
    const undecided = ours.filter((e) => isMcp(e) && decisionIdsOf(e).length === 0)
    for (const e of undecided) assert.ok(e.url.includes('/.well-known/') || e.url.includes('access_token='), `undecided request ${e.method} ${new URL(e.url).pathname} ${e.status}`)

    // Decision endpoint: decisions (metrics) = records; every /v1/decide and Data API id is logged once.
    const endpointIds = ids(endpointFile)
    unique(endpointIds)
    // List filtering is recorded as its own evaluation (path mcp/authz/visible), related to the list call it
    // filtered; metrics count decisions, so they count the list call only.
    const parsed = endpointFile.map((l) => JSON.parse(l.text) as { decision_id: string; path: string; mcp?: { related_decision_id?: string } })
    const filtering = parsed.filter((r) => r.path === 'mcp/authz/visible')
    const callIds = parsed.filter((r) => r.path !== 'mcp/authz/visible').map((r) => r.decision_id)
    assert.equal(callIds.length, endpointDecisions, 'endpoint: one record per decision')
    const decided = ours.filter((e) => e.url.startsWith(endpointUrl))
    const endpointResponseIds = decided.flatMap(decisionIdsOf)
    assert.ok(filtering.length > 0, 'the /v1/visible call left a filtering record')
    for (const r of filtering) assert.ok(endpointResponseIds.includes(r.mcp?.related_decision_id ?? ''), `filtering record ${r.decision_id} relates to a list call`)
    assert.deepEqual(endpointResponseIds.slice().sort(), callIds.slice().sort(), 'endpoint: response ids = record ids')

    const logLines = cap.lines.length + mcpFile.length + endpointFile.length
    const records = mcpStdout.length + mcpFile.length + endpointFile.length
    const decisions = eventIds.length + endpointDecisions
    const noDecision = ours.filter((e) => decisionIdsOf(e).length === 0).length
    console.log(`canary: ${logLines} log lines, ${bodies.length} response bodies, ${records} records scanned; ${leaks.length} leaks; each of ${decisions} decisions logged once`)
    console.log(`canary: ${cap.secretCount} secrets checked; ${eventIds.length} MCP decisions (stdout + file sink), ${endpointDecisions} endpoint decisions (file sink); ${noDecision} responses without a decision (metadata, query-string tokens, API-key refusals, 404, bad JSON)`)
  })
})
