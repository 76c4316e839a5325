/**
 * Property-based fuzzing (fast-check, fixed seed, bounded runs) of the classifier and decide():
 * never throw, always a classification or the correct JSON-RPC error, always a well-formed
 * decision, and default deny holds. Longer runs: FUZZ_RUNS=100000 FUZZ_SEED=<n> npm test -- test/fuzz/*.test.ts
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { classifyMessage } from '../../src/action/classify.ts'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { schemaProblems } from '../../src/schemas.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'

const seed = Number(process.env.FUZZ_SEED ?? 20261123)
const numRuns = Number(process.env.FUZZ_RUNS ?? 500)
const params = { seed, numRuns }
const JSONRPC_CODES = new Set([-32700, -32600, -32602])
const KINDS = new Set(['tool', 'resource', 'prompt', 'list', 'session', 'notification', 'response', 'other'])
const counts: string[] = []

const methods = fc.constantFrom('tools/call', 'tools/list', 'resources/read', 'resources/subscribe', 'resources/templates/list', 'prompts/get', 'prompts/list', 'completion/complete', 'initialize', 'ping', 'logging/setLevel', 'notifications/initialized', 'tasks/get', 'x/y', '')
const messages = fc.record(
  {
    jsonrpc: fc.oneof(fc.constant('2.0'), fc.string()),
    id: fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.double()),
    method: fc.oneof(methods, fc.string()),
    params: fc.oneof(
      fc.record({ name: fc.oneof(fc.string(), fc.integer()), arguments: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()) }, { requiredKeys: [] }),
      fc.record({ uri: fc.oneof(fc.webUrl(), fc.string()) }, { requiredKeys: [] }),
      fc.record({ ref: fc.record({ type: fc.constantFrom('ref/prompt', 'ref/resource', 'x'), name: fc.string(), uri: fc.string() }, { requiredKeys: [] }) }),
      fc.jsonValue(),
    ),
    result: fc.jsonValue(),
  },
  { requiredKeys: [] },
)

function checkClassification(input: unknown): void {
  const c = classifyMessage(input)
  if (c.ok) {
    assert.ok(KINDS.has(c.action.kind))
    assert.equal(typeof c.action.method, 'string')
    assert.deepEqual(schemaProblems('action', c.action), [])
  } else {
    assert.ok(JSONRPC_CODES.has(c.error.code), `unexpected code ${c.error.code}`)
    assert.ok(c.id === null || typeof c.id === 'string' || typeof c.id === 'number')
  }
}

describe('property: the classifier never throws and always answers correctly', () => {
  test('arbitrary JSON values', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => checkClassification(v)), params)
    counts.push(`classify(arbitrary JSON) × ${numRuns}`)
  })
  test('arbitrary bytes and strings', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), (b) => checkClassification(b)), params)
    fc.assert(fc.property(fc.string({ maxLength: 512 }), (s) => checkClassification(s)), params)
    counts.push(`classify(bytes) × ${numRuns}`, `classify(strings) × ${numRuns}`)
  })
  test('JSON-RPC-shaped messages, as values and as text', () => {
    fc.assert(
      fc.property(messages, (m) => {
        checkClassification(m)
        checkClassification(JSON.stringify(m))
      }),
      params,
    )
    counts.push(`classify(JSON-RPC-shaped) × ${numRuns}`)
  })
})

describe('property: decide() always returns a well-formed decision and default deny holds', () => {
  let authz: Authz
  before(async () => {
    authz = await createAuthz({ bundle: await buildTestBundle(testData) })
  })

  const scope = fc.constantFrom('notes:read', 'notes:write', 'notes:private', 'tasks:read', 'x')
  const principals = fc.record({
    subject: fc.string({ minLength: 1, maxLength: 20 }),
    clientId: fc.option(fc.constantFrom('notes-app', 'partner-app', 'evil'), { nil: undefined }),
    issuer: fc.constantFrom('https://as.example.com', 'https://other.example.com', 'https://evil.example.com', 'urn:mcp-authz:api-key'),
    tenant: fc.option(fc.constantFrom('acme', 'globex'), { nil: undefined }),
    audience: fc.subarray(['https://mcp.example.com/mcp', 'https://other.example.com/mcp']),
    scopes: fc.uniqueArray(scope, { maxLength: 4 }).map((s) => s.sort()),
    authMethod: fc.constantFrom('jwt', 'introspection', 'api_key', 'static'),
    tokenId: fc.string({ minLength: 1, maxLength: 8 }),
    claims: fc.record({ roles: fc.option(fc.oneof(fc.array(fc.constantFrom('admin', 'editor')), fc.string()), { nil: undefined }) }, { requiredKeys: [] }),
  }) as fc.Arbitrary<Principal>
  const toolNames = fc.oneof(fc.constantFrom('notes_read', 'notes_write', 'notes_delete', 'partner_sync', 'disabled'), fc.string({ minLength: 1, maxLength: 12 }))

  test('well-formed decisions for arbitrary principals and messages', () => {
    fc.assert(
      fc.property(principals, fc.oneof(messages, fc.record({ jsonrpc: fc.constant('2.0'), id: fc.nat(), method: fc.constant('tools/call'), params: fc.record({ name: toolNames, arguments: fc.dictionary(fc.string(), fc.jsonValue()) }) })), (p, m) => {
        const r = authz.decide(p, m)
        assert.equal(typeof r.allow, 'boolean')
        assert.ok([200, 400, 401, 403].includes(r.status))
        assert.ok(Array.isArray(r.reasons) && Array.isArray(r.requiredScopes))
        assert.ok(r.reasons.every((x) => typeof x.code === 'string' && typeof x.message === 'string'))
        assert.ok(r.reasons.every((x) => x.code !== 'policy_error'), `policy error: ${JSON.stringify(r.reasons)}`)
        if (r.allow) assert.equal(r.reasons.length, 0)
        else assert.ok(r.status === 400 || r.reasons.length > 0, 'a denial always has a reason')
        if (r.status === 403) assert.ok(r.requiredScopes.length > 0)
      }),
      params,
    )
    counts.push(`decide(arbitrary principal, message) × ${numRuns}`)
  })

  test('a principal with no scopes and no allowlist entry is never allowed a tool call', () => {
    fc.assert(
      fc.property(principals, toolNames, fc.dictionary(fc.string(), fc.jsonValue()), fc.record({ readOnlyHint: fc.boolean() }, { requiredKeys: [] }), (p, name, args, annotations) => {
        const r = authz.decide({ ...p, scopes: [], clientId: 'nobody' }, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: args } }, { annotations })
        assert.equal(r.allow, false, `allowed ${name} with ${JSON.stringify(r)}`)
      }),
      params,
    )
    counts.push(`default deny for tool calls × ${numRuns}`)
  })

  test('default deny: no principal is ever allowed an unlisted tool, resource or prompt', () => {
    const listed = new Set(Object.keys(testData.mcp_authz.tools))
    const unlistedTool = fc.string({ minLength: 1, maxLength: 16 }).filter((n) => !listed.has(n))
    const unlistedUri = fc.oneof(fc.webUrl(), fc.constantFrom('file:///etc/passwd', 'notes:/x', 'notes:x', 'note://a', 'NOTE://a', 'urn:x:y'))
    const unlistedPrompt = fc.string({ minLength: 1, maxLength: 16 }).filter((n) => n !== 'summarize')
    const everyScope = (p: Principal): Principal => ({ ...p, scopes: ['notes:private', 'notes:read', 'notes:write', 'tasks:read', 'x'], claims: { roles: ['admin'] } })
    fc.assert(
      fc.property(principals, unlistedTool, unlistedUri, unlistedPrompt, fc.record({ readOnlyHint: fc.boolean(), destructiveHint: fc.boolean() }, { requiredKeys: [] }), (p, tool, uri, name, annotations) => {
        const q = everyScope(p)
        assert.equal(authz.decide(q, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: tool, arguments: {} } }, { annotations }).allow, false, `tool ${tool}`)
        assert.equal(authz.decide(q, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } }).allow, false, `resource ${uri}`)
        assert.equal(authz.decide(q, { jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name } }).allow, false, `prompt ${name}`)
        assert.equal(authz.decide(q, { jsonrpc: '2.0', id: 1, method: 'completion/complete', params: { ref: { type: 'ref/prompt', name }, argument: { name: 'a', value: '' } } }).allow, false, `completion ${name}`)
      }),
      params,
    )
    counts.push(`default deny for unlisted items × ${numRuns}`)
  })

  test('summary', () => {
    console.log(`property runs (seed ${seed}): ${counts.join(', ')}`)
  })
})
