/**
 * Every input bound, tested at the limit (accepted) and at limit + 1 (refused with a clear error),
 * with the documented defaults. One table; the summary prints `bounds: N limits × 2 cases`.
 * The table is mirrored in docs/security.md.
 *
 * | bound | where | default | over the limit |
 * |---|---|---|---|
 * | message bytes | `limits.maxBytes` | 1 MiB | 400, JSON-RPC -32700 |
 * | JSON nesting depth | `limits.maxDepth` | 64 | 400, -32700 |
 * | string length (keys and values) | `limits.maxStringLength` | 65536 | 400, -32700 |
 * | tool / prompt arguments | `limits.maxArguments` | 256 | 400, -32602 |
 * | token bytes | verifier `maxTokenLength` | 8192 | 401, `ERR_TOKEN_TOO_LARGE` |
 * | HTTP body (MCP endpoint) | `maxBodyBytes` (src/mcp) | 1 MiB | 413, -32700 |
 * | HTTP headers (MCP endpoint) | Node `maxHeaderSize` | 16384 | 431 (before any mcp-authz code runs) |
 * | JWKS response | `jwksMaxBytes` | 262144 | 401, `ERR_JWKS_UNAVAILABLE` |
 * | introspection response | `maxResponseBytes` | 65536 | 401, `ERR_INTROSPECTION_UNAVAILABLE` |
 * | decision endpoint body | server `bodyLimit` | 1 MiB | 413 |
 * | list items (decision endpoint `/v1/visible`) | schema `maxItems` | 10000 | 400 |
 * | token on the decision endpoint | verifier `maxTokenLength` (any string is decided) | 8192 | a recorded 401 `invalid_token` decision (HTTP 200) |
 */
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_MESSAGE_LIMITS } from '../../src/action/limits.ts'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { mcpAuthzHandler } from '../../src/mcp/index.ts'
import { createTokenVerifier, type Principal } from '../../src/verify/index.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'
import { sendJson, startLoopback, type LoopbackServer } from '../helpers/verify-loopback.ts'
import { accessClaims, jwksOf, makeKey, mint, type TestKey } from '../helpers/verify-tokens.ts'
import { startHarness, type Harness } from '../server/helpers.ts'
import { summaryAtExit } from './helpers.ts'

const ISSUER = 'https://as.example.com'
const AUD = 'https://mcp.example.com/mcp'
const principal: Principal = { subject: 'alice', clientId: 'notes-app', issuer: ISSUER, tenant: 'acme', audience: [AUD], scopes: ['notes:read'], authMethod: 'jwt', tokenId: 't1', claims: {} }

/** A case's outcome: accepted (reached the policy / was parsed) or refused with an explanation. */
type Outcome = { ok: true } | { ok: false; error: string }

interface Bound {
  name: string
  limit: number
  at(): Promise<Outcome>
  over(): Promise<Outcome>
  /** What the refusal must say. */
  error: RegExp
}

let authz: Authz
let key: TestKey
const events: DecisionEvent[] = []
const servers: Server[] = []
let loopback: LoopbackServer
let harness: Harness
let cases = 0
summaryAtExit('bounds', () => ({ bounds: `${bounds.length} limits × 2 cases`, 'cases passed': cases }))

/** A tools/call whose text is exactly `bytes` long, padded with an array of strings (each within maxStringLength). */
function messageOfBytes(bytes: number): string {
  const make = (chunks: string[]) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: { pad: chunks } } })
  const chunks: string[] = []
  while (make([...chunks, 'x'.repeat(60_000)]).length + 10 <= bytes) chunks.push('x'.repeat(60_000))
  const rest = bytes - make([...chunks, '']).length
  assert.ok(rest >= 0)
  chunks.push('x'.repeat(rest))
  const text = make(chunks)
  assert.equal(Buffer.byteLength(text), bytes)
  return text
}

/** A tools/call nested exactly `depth` levels deep (the message object itself is level 1). */
function messageOfDepth(depth: number): string {
  // message(1) > params(2) > arguments(3) > arrays…
  let inner = '0'
  for (let i = 0; i < depth - 3; i++) inner = `[${inner}]`
  return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_read","arguments":{"deep":${inner}}}}`
}

const withString = (length: number) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: { s: 'y'.repeat(length) } } })
const withArguments = (count: number) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: Object.fromEntries(Array.from({ length: count }, (_, i) => [`a${i}`, i])) } })

function decided(message: unknown): Outcome {
  const r = authz.decide(principal, message)
  if (r.status === 400) return { ok: false, error: `400 ${r.jsonRpcError?.code} ${r.jsonRpcError?.message}` }
  assert.equal(r.allow, true, JSON.stringify(r.reasons))
  return { ok: true }
}

/** A valid token of exactly `bytes` bytes (padding claims adjusted until the length matches). */
async function tokenOfBytes(bytes: number): Promise<string> {
  const claims = (pad: number, q: string) => accessClaims(ISSUER, AUD, { scope: 'notes:read', jti: 'fixed-jti', pad: 'p'.repeat(pad), q }, nowSec)
  const nowSec = Math.floor(Date.now() / 1000)
  const base = await mint(key, claims(0, ''))
  let pad = Math.max(0, Math.floor(((bytes - base.length) * 3) / 4) - 12)
  for (let attempt = 0; attempt < 40; attempt++) {
    for (const q of ['', 'a', 'ab', 'abc']) {
      for (const h of ['', 'a', 'ab', 'abc']) {
        const t = await mint(key, claims(pad, q), { x: h })
        if (t.length === bytes) return t
      }
    }
    pad++
  }
  throw new Error(`could not build a token of ${bytes} bytes`)
}

async function checked(token: string): Promise<Outcome> {
  const r = await authz.check(token, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: {} } })
  if (r.allow) return { ok: true }
  const e = events.find((x) => x.decisionId === r.decisionId)
  return { ok: false, error: `${r.status} ${e?.error?.code}` }
}

async function listen(server: Server): Promise<number> {
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}

/** Sends raw bytes and returns the status line's code and the response head. */
function rawRequest(port: number, raw: string): Promise<{ status: number; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')))
    socket.on('data', (c) => (data += c.toString('latin1')))
    socket.on('error', reject)
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), head: data.split('\r\n\r\n')[0] ?? '' }))
    socket.end(raw)
  })
}

let mcpPort = 0
let mcpHeaderPort = 0
const MAX_HEADER_SIZE = 16_384 // Node's default, set explicitly

async function postMcp(body: string): Promise<Outcome> {
  const res = await fetch(`http://127.0.0.1:${mcpPort}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer good' }, body, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  if (res.status === 200) return { ok: true }
  return { ok: false, error: `${res.status} ${text.slice(0, 120)}` }
}

/**
 * A request whose header bytes as Node counts them (URL + every field name and value) total
 * `counted`. Node refuses with 431 once that count reaches `maxHeaderSize`.
 */
async function headersOf(counted: number): Promise<Outcome> {
  const url = '/mcp'
  const fixed: Array<[string, string]> = [
    ['Host', '127.0.0.1'],
    ['Content-Type', 'application/json'],
    ['Content-Length', '0'],
    ['Connection', 'close'],
  ]
  const used = url.length + fixed.reduce((n, [k, v]) => n + k.length + v.length, 0) + 'X-Pad'.length
  const pad = 'p'.repeat(counted - used)
  const head = [`POST ${url} HTTP/1.1`, ...fixed.map(([k, v]) => `${k}: ${v}`), `X-Pad: ${pad}`].join('\r\n')
  const { status, head: answer } = await rawRequest(mcpHeaderPort, `${head}\r\n\r\n`)
  // Within the limit the request reaches the guard (401: no credential, with a decision id).
  if (status === 401 && /mcp-authz-decision-id/i.test(answer)) return { ok: true }
  return { ok: false, error: `${status} ${answer.split('\r\n')[0]}` }
}

async function jwksOfBytes(bytes: number): Promise<Outcome> {
  const body = (pad: string) => JSON.stringify({ ...jwksOf(key), pad })
  const text = body('x'.repeat(bytes - body('').length))
  assert.equal(Buffer.byteLength(text), bytes)
  loopback.handle((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(text))
  const verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwksUri: `${loopback.url}/jwks`, jwksTimeout: 5 }] })
  try {
    await verifier.verify(await mint(key, accessClaims(ISSUER, AUD)))
    return { ok: true }
  } catch (err) {
    return { ok: false, error: `${(err as { code: string }).code} ${(err as Error).message}` }
  }
}

async function introspectionOfBytes(bytes: number): Promise<Outcome> {
  const answer = { active: true, iss: ISSUER, aud: AUD, sub: 'u', scope: 'notes:read', exp: Math.floor(Date.now() / 1000) + 300 }
  const body = (pad: string) => JSON.stringify({ ...answer, pad })
  const text = body('x'.repeat(bytes - body('').length))
  assert.equal(Buffer.byteLength(text), bytes)
  loopback.handle((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end(text))
  const verifier = createTokenVerifier({ audience: AUD, introspection: { endpoint: `${loopback.url}/introspect`, issuer: ISSUER, clientId: 'rs', clientSecret: 's', timeout: 5 } })
  try {
    await verifier.verify('opaque-token-0123456789')
    return { ok: true }
  } catch (err) {
    return { ok: false, error: `${(err as { code: string }).code} ${(err as Error).message}` }
  }
}

async function endpoint(path: string, body: string): Promise<Outcome> {
  const res = await fetch(`${harness.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) })
  const text = await res.text()
  if (res.status === 200) return { ok: true }
  return { ok: false, error: `${res.status} ${text.slice(0, 160)}` }
}

/** POST /v1/decide with `token`: refused when the decision was a 401 for a too-large token (counted by the endpoint's metrics). */
async function endpointToken(token: string): Promise<Outcome> {
  const tooLarge = async () => {
    const line = (await harness.metrics.registry.metrics()).split('\n').find((l) => l.startsWith('mcp_authz_verification_failures_total{code="ERR_TOKEN_TOO_LARGE"}'))
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  const before = await tooLarge()
  const res = await fetch(`${harness.url}/v1/decide`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, message: { jsonrpc: '2.0', id: 1, method: 'ping' } }), signal: AbortSignal.timeout(10_000) })
  const body = (await res.json()) as { status?: number }
  if (res.status !== 200) return { ok: false, error: `${res.status} ${JSON.stringify(body).slice(0, 160)}` }
  return (await tooLarge()) > before ? { ok: false, error: `decision ${body.status} ERR_TOKEN_TOO_LARGE` } : { ok: true }
}

/** A /v1/decide body of exactly `bytes` bytes (the message padded within the message limits). */
function decideBodyOfBytes(bytes: number): string {
  const make = (chunks: string[]) => JSON.stringify({ message: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: { pad: chunks } } } })
  const chunks: string[] = []
  while (make([...chunks, 'x'.repeat(60_000)]).length + 10 <= bytes) chunks.push('x'.repeat(60_000))
  chunks.push('x'.repeat(bytes - make([...chunks, '']).length))
  return make(chunks)
}

const L = DEFAULT_MESSAGE_LIMITS
const bounds: Bound[] = [
  { name: 'message bytes (limits.maxBytes)', limit: L.maxBytes, at: async () => decided(messageOfBytes(L.maxBytes)), over: async () => decided(messageOfBytes(L.maxBytes + 1)), error: /^400 -32700 Parse error: message exceeds 1048576 bytes/ },
  { name: 'JSON depth (limits.maxDepth)', limit: L.maxDepth, at: async () => decided(messageOfDepth(L.maxDepth)), over: async () => decided(messageOfDepth(L.maxDepth + 1)), error: /^400 -32700 Parse error: nesting deeper than 64/ },
  {
    name: 'JSON depth, parsed value (limits.maxDepth)',
    limit: L.maxDepth,
    at: async () => decided(JSON.parse(messageOfDepth(L.maxDepth))),
    over: async () => decided(JSON.parse(messageOfDepth(L.maxDepth + 1))),
    error: /^400 -32700 Parse error: nesting deeper than 64/,
  },
  { name: 'string length (limits.maxStringLength)', limit: L.maxStringLength, at: async () => decided(withString(L.maxStringLength)), over: async () => decided(withString(L.maxStringLength + 1)), error: /^400 -32700 Parse error: a string is longer than 65536/ },
  { name: 'arguments (limits.maxArguments)', limit: L.maxArguments, at: async () => decided(withArguments(L.maxArguments)), over: async () => decided(withArguments(L.maxArguments + 1)), error: /^400 -32602 Invalid params: tools\/call has more than 256 arguments/ },
  { name: 'token bytes (maxTokenLength)', limit: 8192, at: async () => checked(await tokenOfBytes(8192)), over: async () => checked(await tokenOfBytes(8193)), error: /^401 ERR_TOKEN_TOO_LARGE$/ },
  { name: 'HTTP body, MCP endpoint (maxBodyBytes)', limit: 1_048_576, at: () => postMcp(messageOfBytes(1_048_576)), over: () => postMcp(messageOfBytes(1_048_577)), error: /^413 .*request body too large/ },
  // Node counts the URL plus every header name and value, and refuses once the count reaches maxHeaderSize.
  { name: 'HTTP header bytes, MCP endpoint (Node maxHeaderSize 16384, counted bytes < 16384)', limit: MAX_HEADER_SIZE - 1, at: () => headersOf(MAX_HEADER_SIZE - 1), over: () => headersOf(MAX_HEADER_SIZE), error: /^431 / },
  { name: 'JWKS response bytes (jwksMaxBytes)', limit: 262_144, at: () => jwksOfBytes(262_144), over: () => jwksOfBytes(262_145), error: /^ERR_JWKS_UNAVAILABLE JWKS response larger than 262144 bytes/ },
  { name: 'introspection response bytes (maxResponseBytes)', limit: 65_536, at: () => introspectionOfBytes(65_536), over: () => introspectionOfBytes(65_537), error: /^ERR_INTROSPECTION_UNAVAILABLE/ },
  { name: 'decision endpoint body (bodyLimit)', limit: 1_048_576, at: () => endpoint('/v1/decide', decideBodyOfBytes(1_048_576)), over: () => endpoint('/v1/decide', decideBodyOfBytes(1_048_577)), error: /^413 / },
  {
    name: 'list items, decision endpoint /v1/visible (maxItems)',
    limit: 10_000,
    at: () => endpoint('/v1/visible', JSON.stringify({ kind: 'tool', items: Array.from({ length: 10_000 }, (_, i) => ({ name: `t${i}` })) })),
    over: () => endpoint('/v1/visible', JSON.stringify({ kind: 'tool', items: Array.from({ length: 10_001 }, (_, i) => ({ name: `t${i}` })) })),
    error: /^400 .*must NOT have more than 10000 items/,
  },
  {
    // Any string token gets a decision (11.7): the bound is the verifier's, and over it the answer is a recorded 401 decision.
    name: 'token on the decision endpoint (verifier maxTokenLength)',
    limit: 8192,
    at: () => endpointToken('a'.repeat(8192)),
    over: () => endpointToken('a'.repeat(8193)),
    error: /^decision 401 ERR_TOKEN_TOO_LARGE$/,
  },
]

before(async () => {
  key = await makeKey('ES256', 'k1')
  const verifier = createTokenVerifier({ audience: AUD, issuers: [{ issuer: ISSUER, jwks: jwksOf(key), tenant: 'acme' }] })
  authz = await createAuthz({ bundle: await buildTestBundle(testData), verifier, onDecision: (e) => events.push(e) })
  const stub = { verify: async (t: string) => (t === 'good' ? principal : Promise.reject(Object.assign(new Error('bad'), { code: 'ERR_TOKEN_MALFORMED' }))) }
  const httpAuthz = await createAuthz({ bundle: await buildTestBundle(testData), verifier: stub })
  const handle = (_req: unknown, res: import('node:http').ServerResponse) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}')
  mcpPort = await listen(createServer(mcpAuthzHandler({ authz: httpAuthz, handle })))
  mcpHeaderPort = await listen(createServer({ maxHeaderSize: MAX_HEADER_SIZE }, mcpAuthzHandler({ authz: httpAuthz, handle })))
  loopback = await startLoopback()
  harness = await startHarness()
})

after(async () => {
  for (const s of servers) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
  await loopback.close()
  await harness.close()
})

describe('bounds: every limit at the limit and at limit + 1', () => {
  for (const bound of bounds) {
    it(`${bound.name}: ${bound.limit} accepted, ${bound.limit + 1} refused`, async () => {
      const at = await bound.at()
      assert.deepEqual(at, { ok: true }, `${bound.name} at the limit was refused: ${JSON.stringify(at)}`)
      const over = await bound.over()
      assert.equal(over.ok, false, `${bound.name} over the limit was accepted`)
      assert.match((over as { error: string }).error, bound.error)
      cases += 2
    })
  }
})
