/**
 * Table-driven decisions through the compiled WASM policy (real `opa build`, real opa-wasm):
 * each concern allowed and denied, lists, unknown methods, malformed messages.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { createAuthz, type Authz } from '../../src/authz.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'

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
}

const okArgs = { title: 'hello', folder: 'work', path: '/notes/a', limit: 5 }

const cases: Case[] = [
  // scopes
  { name: 'read tool with read scope', message: call('notes_read'), allow: true, status: 200 },
  { name: 'write tool with read scope → 403 step-up', message: call('notes_write', okArgs), allow: false, status: 403, codes: ['insufficient_scope'], requiredScopes: ['notes:write'] },
  { name: 'write tool with write scope', principal: writer, message: call('notes_write', okArgs), allow: true, status: 200 },
  { name: 'no scopes at all → 403', principal: { ...alice, scopes: [] }, message: call('notes_read'), allow: false, status: 403, requiredScopes: ['notes:read'] },
  { name: 'unlisted read-only tool needs read scope', message: call('lookup'), annotations: { readOnlyHint: true }, allow: true, status: 200 },
  { name: 'unlisted tool without annotations needs write scope', message: call('lookup'), allow: false, status: 403, requiredScopes: ['notes:write'] },
  { name: 'unlisted destructive tool needs write scope', message: call('wipe'), annotations: { readOnlyHint: false, destructiveHint: true }, allow: false, status: 403, requiredScopes: ['notes:write'] },
  { name: 'resource under prefix with read scope', message: req('resources/read', { uri: 'notes://a' }), allow: true, status: 200 },
  { name: 'longest resource prefix needs its own scope', message: req('resources/read', { uri: 'notes://private/b' }), allow: false, status: 403, requiredScopes: ['notes:private'] },
  { name: 'resource outside any prefix needs read scope', principal: { ...alice, scopes: [] }, message: req('resources/read', { uri: 'file:///x' }), allow: false, status: 403, requiredScopes: ['notes:read'] },
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
  { name: 'tenant pinned to issuer', principal: { ...alice, tenant: 'globex' }, message: call('notes_read'), allow: false, status: 200, codes: ['tenant_mismatch'] },
  { name: 'audience without this server → 401', principal: { ...alice, audience: ['https://other.example.com/mcp'] }, message: call('notes_read'), allow: false, status: 401, codes: ['audience_mismatch'] },
  { name: 'empty audience → 401', principal: { ...alice, audience: [] }, message: call('notes_read'), allow: false, status: 401 },
  { name: 'api key principal skips issuer/audience', principal: { ...alice, authMethod: 'api_key', issuer: 'urn:mcp-authz:api-key', audience: [], tenant: undefined as never }, message: call('notes_read'), allow: true, status: 200 },
  // arguments
  { name: 'arguments within conditions', principal: writer, message: call('notes_write', okArgs), allow: true, status: 200 },
  { name: 'required argument missing', principal: writer, message: call('notes_write', { folder: 'work' }), allow: false, status: 200, codes: ['argument_denied'], jsonRpcCode: -32003 },
  { name: 'enum violated', principal: writer, message: call('notes_write', { ...okArgs, folder: 'secret' }), allow: false, status: 200, codes: ['argument_denied'] },
  { name: 'pattern violated', principal: writer, message: call('notes_write', { ...okArgs, path: '/etc/passwd' }), allow: false, status: 200, codes: ['argument_denied'] },
  { name: 'max violated', principal: writer, message: call('notes_write', { ...okArgs, limit: 101 }), allow: false, status: 200, codes: ['argument_denied'] },
  { name: 'max_length violated', principal: writer, message: call('notes_write', { ...okArgs, title: 'x'.repeat(11) }), allow: false, status: 200, codes: ['argument_denied'] },
  { name: 'forbidden argument present', principal: writer, message: call('notes_write', { ...okArgs, sudo: true }), allow: false, status: 200, codes: ['argument_denied'] },
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
  { name: 'too deep → -32700', message: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x', arguments: JSON.parse('['.repeat(100) + ']'.repeat(100)) } }), allow: false, status: 400, jsonRpcCode: -32700 },
]

describe('decisions through the compiled WASM policy', () => {
  let authz: Authz
  before(async () => {
    authz = await createAuthz({ bundle: await buildTestBundle(testData) })
  })

  test(`the table has at least 40 cases (${cases.length})`, () => assert.ok(cases.length >= 40))

  for (const c of cases) {
    test(c.name, () => {
      const r = authz.decide(c.principal ?? alice, c.message, c.annotations ? { annotations: c.annotations } : {})
      assert.equal(r.allow, c.allow, `allow (reasons: ${JSON.stringify(r.reasons)})`)
      assert.equal(r.status, c.status, 'status')
      if (c.codes) assert.deepEqual(r.reasons.map((x) => x.code).sort(), [...c.codes].sort())
      if (c.requiredScopes) assert.deepEqual(r.requiredScopes, c.requiredScopes)
      if (c.jsonRpcCode !== undefined) assert.equal(r.jsonRpcError?.code, c.jsonRpcCode)
      if (!c.allow && r.status === 200) {
        assert.equal(r.jsonRpcError?.message, 'Forbidden', 'generic message only')
        assert.deepEqual(r.jsonRpcError?.data, { decision_id: r.decisionId })
      }
      if (r.status === 403) assert.match(r.wwwAuthenticate ?? '', /^Bearer error="insufficient_scope", .*scope="[^"]+", resource_metadata="https:\/\/mcp\.example\.com\/\.well-known\/oauth-protected-resource\/mcp"$/)
      if (r.status === 401) assert.match(r.wwwAuthenticate ?? '', /error="invalid_token"/)
    })
  }

  test('visible filters a list in one evaluation', () => {
    const tools = [{ name: 'notes_read' }, { name: 'notes_write' }, { name: 'notes_delete' }, { name: 'lookup', annotations: { readOnlyHint: true } }, { name: 'disabled' }]
    assert.deepEqual(authz.visible(alice, 'tool', tools).map((t) => t.name), ['notes_read', 'lookup'])
    assert.deepEqual(authz.visible(admin, 'tool', tools).map((t) => t.name), ['notes_read', 'notes_write', 'notes_delete', 'lookup'])
    assert.deepEqual(authz.visible({ ...alice, issuer: 'https://evil.example.com' }, 'tool', tools), [])
    assert.deepEqual(authz.visible(alice, 'resource', [{ uri: 'notes://a' }, { uri: 'notes://private/b' }]).map((r) => r.uri), ['notes://a'])
  })
})
