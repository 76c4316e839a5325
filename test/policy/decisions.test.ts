/**
 * Table-driven decisions through the compiled WASM policy (real `opa build`, real opa-wasm):
 * each concern allowed and denied, lists, unknown methods, malformed messages.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { LIBRARY_DIR } from '../../src/policy/build.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'

const run = promisify(execFile)

const alice: Principal = { ...testPrincipal, claims: { roles: ['editor'] } }
const writer: Principal = { ...alice, scopes: ['notes:read', 'notes:write'] }
const admin: Principal = { ...writer, claims: { roles: ['admin'] } }

const call = (name: string, args?: Record<string, unknown>, id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, ...(args ? { arguments: args } : {}) },
})
const req = (method: string, params?: Record<string, unknown>, id: number | string = 1) => ({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) })

interface Case {
  name: string
  principal?: Principal
  message: unknown
  annotations?: Record<string, unknown>
  allow: boolean
  status: 200 | 400 | 401 | 403
  codes?: string[]
  requiredScopes?: string[]
  jsonRpcCode?: number
  /** The reasons' messages (what the decision log records), exactly. */
  messages?: string[]
  /** Other data: `optIn` has the unlisted_* defaults opted in (by_annotation / allow); `bounds` has odd numeric bounds. */
  data?: 'optIn' | 'bounds'
}

const introspected: Principal = { ...alice, authMethod: 'introspection', tokenId: 'sha256:ab12' }

const okArgs = { title: 'hello', folder: 'work', path: '/notes/a', limit: 5 }

const cases: Case[] = [
  // scopes
  { name: 'read tool with read scope', message: call('notes_read'), allow: true, status: 200 },
  { name: 'write tool with read scope → 403 step-up', message: call('notes_write', okArgs), allow: false, status: 403, codes: ['insufficient_scope'], requiredScopes: ['notes:write'] },
  { name: 'write tool with write scope', principal: writer, message: call('notes_write', okArgs), allow: true, status: 200 },
  { name: 'no scopes at all → 403', principal: { ...alice, scopes: [] }, message: call('notes_read'), allow: false, status: 403, requiredScopes: ['notes:read'] },
  // default deny: items no rule names
  { name: 'unlisted read-only tool denied by default', message: call('lookup'), annotations: { readOnlyHint: true }, allow: false, status: 200, codes: ['tool_not_allowed'], requiredScopes: [], jsonRpcCode: -32003 },
  { name: 'unlisted destructive tool denied by default, even to a writer', principal: writer, message: call('wipe'), annotations: { readOnlyHint: false, destructiveHint: true }, allow: false, status: 200, codes: ['tool_not_allowed'], messages: ['tool is not allowed by any rule'] },
  { name: 'resource outside any prefix denied by default', message: req('resources/read', { uri: 'file:///etc/passwd' }), allow: false, status: 200, codes: ['resource_not_allowed'] },
  { name: 'unlisted prompt denied by default', message: req('prompts/get', { name: 'other' }), allow: false, status: 200, codes: ['prompt_not_allowed'] },
  { name: 'completion on an unlisted prompt denied by default', message: req('completion/complete', { ref: { type: 'ref/prompt', name: 'other' }, argument: { name: 'a', value: '' } }), allow: false, status: 200, codes: ['prompt_not_allowed'] },
  { name: 'resources/unsubscribe outside any prefix denied by default', message: req('resources/unsubscribe', { uri: 'file:///x' }), allow: false, status: 200, codes: ['resource_not_allowed'] },
  // … unless the data opts in
  { name: 'opt-in: unlisted read-only tool needs read scope', data: 'optIn', message: call('lookup'), annotations: { readOnlyHint: true }, allow: true, status: 200 },
  { name: 'opt-in: unlisted tool without annotations needs write scope', data: 'optIn', message: call('lookup'), allow: false, status: 403, requiredScopes: ['notes:write'] },
  { name: 'opt-in: unlisted destructive tool needs write scope', data: 'optIn', message: call('wipe'), annotations: { readOnlyHint: false, destructiveHint: true }, allow: false, status: 403, requiredScopes: ['notes:write'] },
  { name: 'opt-in: resource outside any prefix needs read scope', data: 'optIn', principal: { ...alice, scopes: [] }, message: req('resources/read', { uri: 'file:///x' }), allow: false, status: 403, requiredScopes: ['notes:read'] },
  { name: 'opt-in: unlisted prompt needs read scope', data: 'optIn', message: req('prompts/get', { name: 'other' }), allow: true, status: 200 },
  // resources, decided on the URI the server resolves, prefixes at segment boundaries
  { name: 'resource under prefix with read scope', message: req('resources/read', { uri: 'notes://a' }), allow: true, status: 200 },
  { name: 'longest resource prefix needs its own scope', message: req('resources/read', { uri: 'notes://private/b' }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'scheme in capitals resolves under the protected prefix', message: req('resources/read', { uri: 'NOTES://private/b' }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'dot segment resolves under the protected prefix', message: req('resources/read', { uri: 'notes://private/x/../b' }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'percent-encoded dot segment resolves under the protected prefix', message: req('resources/read', { uri: 'notes://private/x/%2E%2e/b' }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'empty port resolves under the protected prefix', message: req('resources/read', { uri: 'notes://private:/b' }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'subscribe on a capitalised URI is decided canonically too', principal: { ...alice, scopes: [] }, message: req('resources/unsubscribe', { uri: 'NOTES://private/b' }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'completion on a template under the protected prefix', message: req('completion/complete', { ref: { type: 'ref/resource', uri: 'Notes://private/./{id}' }, argument: { name: 'id', value: '' } }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'prefix "notes://private/" does not cover "notes://private-ish"', message: req('resources/read', { uri: 'notes://private-ish/b' }), allow: true, status: 200 },
  { name: 'tab inside the URI → -32602', message: req('resources/read', { uri: 'notes://private/\tb' }), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'newline inside the URI → -32602', message: req('resources/read', { uri: 'notes://priv\nate/b' }), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'surrounding whitespace → -32602', message: req('resources/read', { uri: ' notes://private/b ' }), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'userinfo in the URI → -32602', message: req('resources/read', { uri: 'notes://public@private/b' }), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'unparsable URI → -32602', message: req('resources/read', { uri: 'private/b' }), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'prompt with read scope', message: req('prompts/get', { name: 'summarize', arguments: { style: 'short' } }), allow: true, status: 200 },
  { name: 'method rule scopes (tasks/get)', message: req('tasks/get', { taskId: 'x' }), allow: false, status: 403, requiredScopes: ['tasks:read'] },
  { name: 'method rule satisfied', principal: { ...alice, scopes: ['tasks:read'] }, message: req('tasks/get', { taskId: 'x' }), allow: true, status: 200 },
  { name: 'completion on a prompt decided as the prompt', principal: { ...alice, scopes: [] }, message: req('completion/complete', { ref: { type: 'ref/prompt', name: 'summarize' }, argument: { name: 'style', value: 's' } }), allow: false, status: 403, requiredScopes: ['notes:read'] },
  // allowlists
  { name: 'role required and missing', principal: writer, message: call('notes_delete'), allow: false, status: 200, codes: ['role_not_allowed'], jsonRpcCode: -32003 },
  { name: 'role required and present', principal: admin, message: call('notes_delete'), allow: true, status: 200 },
  { name: 'client allowlist refuses other client', principal: writer, message: call('partner_sync'), allow: false, status: 200, codes: ['client_not_allowed'] },
  { name: 'client allowlist admits listed client', principal: { ...writer, clientId: 'partner-app' }, message: call('partner_sync'), allow: true, status: 200 },
  { name: 'tenant allowlist refuses other tenant', principal: { ...writer, issuer: 'https://other.example.com', tenant: 'globex', clientId: 'partner-app' }, message: call('partner_sync'), allow: false, status: 200, codes: ['tenant_not_allowed'] },
  { name: 'disabled tool', principal: admin, message: call('disabled'), allow: false, status: 200, codes: ['tool_not_allowed'] },
  { name: 'disabled method', message: req('resources/subscribe', { uri: 'notes://a' }), allow: false, status: 200, codes: ['method_not_allowed'] },
  // issuer and tenant pinning, audience
  { name: 'untrusted issuer → 401', principal: { ...alice, issuer: 'https://evil.example.com' }, message: call('notes_read'), allow: false, status: 401, codes: ['issuer_not_trusted'] },
  { name: 'another realm of the same server → 401', principal: { ...alice, issuer: 'https://as.example.com/realms/b' }, message: call('notes_read'), allow: false, status: 401 },
  { name: 'tenant pinned to issuer', principal: { ...alice, tenant: 'globex' }, message: call('notes_read'), allow: false, status: 200, codes: ['tenant_mismatch'], messages: ['issuer "https://as.example.com" is pinned to a tenant and the principal belongs to another tenant'] },
  { name: 'no tenant on a pinned issuer', principal: { ...alice, tenant: undefined as never }, message: call('notes_read'), allow: false, status: 200, codes: ['tenant_mismatch'], messages: ['issuer "https://as.example.com" is pinned to a tenant and the principal has no tenant'] },
  { name: 'introspection principal of a trusted issuer', principal: introspected, message: call('notes_read'), allow: true, status: 200 },
  { name: 'introspection principal of an untrusted issuer → 401', principal: { ...introspected, issuer: 'https://evil.example.com' }, message: call('notes_read'), allow: false, status: 401, codes: ['issuer_not_trusted'] },
  { name: 'introspection principal for another audience → 401', principal: { ...introspected, audience: ['https://other.example.com/mcp'] }, message: call('notes_read'), allow: false, status: 401, codes: ['audience_mismatch'] },
  { name: 'introspection principal of another tenant', principal: { ...introspected, tenant: 'globex' }, message: call('notes_read'), allow: false, status: 200, codes: ['tenant_mismatch'] },
  { name: 'audience without this server → 401', principal: { ...alice, audience: ['https://other.example.com/mcp'] }, message: call('notes_read'), allow: false, status: 401, codes: ['audience_mismatch'] },
  { name: 'empty audience → 401', principal: { ...alice, audience: [] }, message: call('notes_read'), allow: false, status: 401 },
  { name: 'api key principal skips issuer/audience', principal: { ...alice, authMethod: 'api_key', issuer: 'urn:mcp-authz:api-key', audience: [], tenant: undefined as never }, message: call('notes_read'), allow: true, status: 200 },
  // arguments
  { name: 'arguments within conditions', principal: writer, message: call('notes_write', okArgs), allow: true, status: 200 },
  { name: 'required argument missing', principal: writer, message: call('notes_write', { folder: 'work' }), allow: false, status: 200, codes: ['argument_denied'], jsonRpcCode: -32003, messages: ['argument "title" is required'] },
  { name: 'enum violated', principal: writer, message: call('notes_write', { ...okArgs, folder: 'secret' }), allow: false, status: 200, codes: ['argument_denied'], messages: ['argument "folder" is not one of its enum values'] },
  { name: 'pattern violated', principal: writer, message: call('notes_write', { ...okArgs, path: '/etc/passwd' }), allow: false, status: 200, codes: ['argument_denied'], messages: ['argument "path" fails pattern "^/notes/"'] },
  { name: 'max violated', principal: writer, message: call('notes_write', { ...okArgs, limit: 101 }), allow: false, status: 200, codes: ['argument_denied'], messages: ['argument "limit" is above max 100'] },
  { name: 'min violated', principal: writer, message: call('notes_write', { ...okArgs, limit: 0 }), allow: false, status: 200, codes: ['argument_denied'], messages: ['argument "limit" is below min 1'] },
  { name: 'max_length violated', principal: writer, message: call('notes_write', { ...okArgs, title: 'x'.repeat(11) }), allow: false, status: 200, codes: ['argument_denied'], messages: ['argument "title" is longer than max_length 10'] },
  { name: 'forbidden argument present', principal: writer, message: call('notes_write', { ...okArgs, sudo: true }), allow: false, status: 200, codes: ['argument_denied'], messages: ['argument "sudo" is forbidden'] },
  { name: 'values exactly at their limits pass', principal: writer, message: call('notes_write', { ...okArgs, title: 'x'.repeat(10), limit: 100 }), allow: true, status: 200 },
  { name: 'min exactly passes', principal: writer, message: call('notes_write', { ...okArgs, limit: 1 }), allow: true, status: 200 },
  { name: 'string where a number is expected', principal: writer, message: call('notes_write', { ...okArgs, limit: '5' }), allow: false, status: 200, messages: ['argument "limit" is not a number (max 100)', 'argument "limit" is not a number (min 1)'] },
  { name: 'array where a pattern expects a string', principal: writer, message: call('notes_write', { ...okArgs, path: ['/notes/a'] }), allow: false, status: 200, messages: ['argument "path" is not a string (pattern "^/notes/")'] },
  { name: 'object, null and boolean values fail their conditions', principal: writer, message: call('notes_write', { title: {}, folder: null, path: true, limit: false }), allow: false, status: 200, messages: ['argument "folder" is not one of its enum values', 'argument "limit" is not a number (max 100)', 'argument "limit" is not a number (min 1)', 'argument "path" is not a string (pattern "^/notes/")', 'argument "title" is not a string or array (max_length 10)'] },
  { name: 'bounds print the same in WASM as under opa: negative', data: 'bounds', message: call('b', { x: -4 }), allow: false, status: 200, messages: ['argument "x" is below min -3'] },
  { name: 'bounds print the same in WASM as under opa: decimal', data: 'bounds', message: call('b', { x: 2.51 }), allow: false, status: 200, messages: ['argument "x" is above max 2.5'] },
  { name: 'bounds print the same in WASM as under opa: beyond 32 bits', data: 'bounds', message: call('b', { n: 4294967297 }), allow: false, status: 200, messages: ['argument "n" is above max 4294967296'] },
  { name: 'bounds print the same in WASM as under opa: zero length', data: 'bounds', message: call('b', { s: 'x' }), allow: false, status: 200, messages: ['argument "s" is longer than max_length 0'] },
  { name: 'values at odd bounds pass', data: 'bounds', message: call('b', { x: 2.5, n: 4294967296, s: '' }), allow: true, status: 200 },
  { name: 'messages never carry the value', principal: writer, message: call('notes_write', { ...okArgs, title: 'sk_live_0123456789abcdef', limit: 4242 }), allow: false, status: 200, messages: ['argument "limit" is above max 100', 'argument "title" is longer than max_length 10'] },
  { name: 'prompt argument violated', message: req('prompts/get', { name: 'summarize', arguments: { style: 'poem' } }), allow: false, status: 200, codes: ['argument_denied'] },
  { name: 'scope and argument both wrong → JSON-RPC error, not step-up', message: call('notes_write', { ...okArgs, folder: 'x' }), allow: false, status: 200, codes: ['argument_denied', 'insufficient_scope'] },
  // session, lists, notifications, unknown
  { name: 'initialize open', message: req('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } }), allow: true, status: 200 },
  { name: 'ping open', message: req('ping'), allow: true, status: 200 },
  { name: 'tools/list open (filtered separately)', principal: { ...alice, scopes: [] }, message: req('tools/list'), allow: true, status: 200 },
  { name: 'resources/templates/list open', message: req('resources/templates/list'), allow: true, status: 200 },
  { name: 'notification open', message: { jsonrpc: '2.0', method: 'notifications/initialized' }, allow: true, status: 200 },
  { name: 'client response open', message: { jsonrpc: '2.0', id: 5, result: { action: 'accept' } }, allow: true, status: 200 },
  { name: 'unknown method default deny', principal: admin, message: req('admin/shutdown'), allow: false, status: 200, codes: ['method_not_allowed'], jsonRpcCode: -32003 },
  { name: 'unknown notification still decided (allowed as notification)', message: { jsonrpc: '2.0', method: 'notifications/whatever' }, allow: true, status: 200 },
  // malformed
  { name: 'invalid JSON → -32700', message: '{"jsonrpc":', allow: false, status: 400, jsonRpcCode: -32700 },
  { name: 'batch → -32600', message: [req('ping')], allow: false, status: 400, jsonRpcCode: -32600 },
  { name: 'wrong jsonrpc version → -32600', message: { jsonrpc: '1.0', id: 1, method: 'ping' }, allow: false, status: 400, jsonRpcCode: -32600 },
  { name: 'tools/call without name → -32602', message: req('tools/call', { arguments: {} }), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'resources/read without uri → -32602', message: req('resources/read', {}), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'arguments not an object → -32602', message: req('tools/call', { name: 'notes_read', arguments: [1] }), allow: false, status: 400, jsonRpcCode: -32602 },
  { name: 'method and result together → -32600', message: { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'notes_read' }, result: {} }, allow: false, status: 400, jsonRpcCode: -32600 },
  { name: 'notification carrying an error → -32600', message: { jsonrpc: '2.0', method: 'notifications/initialized', error: { code: 1, message: 'x' } }, allow: false, status: 400, jsonRpcCode: -32600 },
  { name: 'too deep → -32700', message: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: JSON.parse('['.repeat(100) + ']'.repeat(100)) } }), allow: false, status: 400, jsonRpcCode: -32700 },
]

/** testData with the unlisted_* defaults opted in: the permissive behaviour, only when asked for. */
const optInData = { mcp_authz: { ...testData.mcp_authz, defaults: { ...testData.mcp_authz.defaults, unlisted_tools: 'by_annotation', unlisted_resources: 'allow', unlisted_prompts: 'allow' } } }

/** Numeric bounds whose text could differ between opa (Go) and WASM if printed carelessly. */
const boundsData = { mcp_authz: { ...testData.mcp_authz, tools: { b: { scopes: [], arguments: { x: { min: -3, max: 2.5 }, n: { max: 4294967296 }, s: { max_length: 0 } } } } } }

describe('decisions through the compiled WASM policy', () => {
  let authz: Authz
  let optIn: Authz
  let bounds: Authz
  const datasets = { testData, optIn: optInData, bounds: boundsData }
  // Every policy input decided, with its WASM decision, to replay under the opa CLI.
  const decided: Array<{ data: keyof typeof datasets; input: unknown; result: unknown }> = []
  const recorder = (data: keyof typeof datasets) => (e: DecisionEvent) => {
    // The engine adds where each reason came from (`rule`); the policy's own answer is the rest.
    if (e.input !== undefined) decided.push({ data, input: e.input, result: { ...e.result, reasons: e.result.reasons.map(({ rule: _rule, ...r }) => r) } })
  }
  before(async () => {
    authz = await createAuthz({ bundle: await buildTestBundle(testData), onDecision: recorder('testData') })
    optIn = await createAuthz({ bundle: await buildTestBundle(optInData), onDecision: recorder('optIn') })
    bounds = await createAuthz({ bundle: await buildTestBundle(boundsData), onDecision: recorder('bounds') })
  })

  test(`the table has at least 40 cases (${cases.length})`, () => assert.ok(cases.length >= 40))

  for (const c of cases) {
    test(c.name, () => {
      const r = (c.data === 'optIn' ? optIn : c.data === 'bounds' ? bounds : authz).decide(c.principal ?? alice, c.message, c.annotations ? { annotations: c.annotations } : {})
      assert.equal(r.allow, c.allow, `allow (reasons: ${JSON.stringify(r.reasons)})`)
      assert.equal(r.status, c.status, 'status')
      if (c.codes) assert.deepEqual(r.reasons.map((x) => x.code).sort(), [...c.codes].sort())
      if (c.requiredScopes) assert.deepEqual(r.requiredScopes, c.requiredScopes)
      if (c.jsonRpcCode !== undefined) assert.equal(r.jsonRpcError?.code, c.jsonRpcCode)
      if (c.messages) assert.deepEqual(r.reasons.map((x) => x.message).sort(), [...c.messages].sort())
      if (!c.allow && r.status === 200) {
        assert.equal(r.jsonRpcError?.message, 'Forbidden', 'generic message only')
        assert.deepEqual(r.jsonRpcError?.data, { decision_id: r.decisionId })
      }
      if (r.status === 403) assert.match(r.wwwAuthenticate ?? '', /^Bearer error="insufficient_scope", .*scope="[^"]+", resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"$/)
      if (r.status === 401) assert.match(r.wwwAuthenticate ?? '', /error="invalid_token"/)
    })
  }

  // Invariant: what a policy author tests with opa is what runs. Every input of the table, replayed
  // through the opa CLI (Go) on the same library and data, gets the very same decision.
  test('opa eval (Go) agrees with WASM on every decision of the table, messages included', async () => {
    assert.ok(decided.length >= 60, `decisions recorded: ${decided.length}`)
    const dir = await mkdtemp(join(tmpdir(), 'mcp-authz-parity-'))
    try {
      for (const name of Object.keys(datasets) as Array<keyof typeof datasets>) {
        const cases = decided.filter((d) => d.data === name)
        await writeFile(join(dir, 'data.json'), JSON.stringify({ ...datasets[name], parity_inputs: cases.map((d) => d.input) }))
        const { stdout } = await run(process.env.MCP_AUTHZ_OPA ?? 'opa', ['eval', '--format', 'json', '-d', join(LIBRARY_DIR, 'mcp', 'authz'), '--ignore', '*_test.rego', '-d', join(dir, 'data.json'), '[d | some i in data.parity_inputs; d := data.mcp.authz.decision with input as i]'])
        const results = (JSON.parse(stdout) as { result: Array<{ expressions: Array<{ value: unknown[] }> }> }).result[0]!.expressions[0]!.value
        assert.equal(results.length, cases.length)
        cases.forEach((c, i) => assert.deepEqual(results[i], c.result, `${name} input ${JSON.stringify(c.input)}`))
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('visible filters a list in one evaluation', () => {
    const tools = [{ name: 'notes_read' }, { name: 'notes_write' }, { name: 'notes_delete' }, { name: 'lookup', annotations: { readOnlyHint: true } }, { name: 'disabled' }]
    assert.deepEqual(authz.visible(alice, 'tool', tools).map((t) => t.name), ['notes_read'])
    assert.deepEqual(authz.visible(admin, 'tool', tools).map((t) => t.name), ['notes_read', 'notes_write', 'notes_delete'])
    assert.deepEqual(optIn.visible(alice, 'tool', tools).map((t) => t.name), ['notes_read', 'lookup'])
    assert.deepEqual(authz.visible({ ...alice, issuer: 'https://evil.example.com' }, 'tool', tools), [])
    assert.deepEqual(authz.visible(alice, 'resource', [{ uri: 'notes://a' }, { uri: 'notes://private/b' }]).map((r) => r.uri), ['notes://a'])
  })
})
