// One truth for the policy data defaults: the schema's "default" of each data.mcp_authz.defaults
// key, the README's table, and the Rego library's built-in values agree — and the built-ins do what
// they say when a deployment's data leaves `defaults` out (default deny for unlisted items).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { before, describe, test } from 'node:test'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { LIBRARY_DIR } from '../../src/policy/build.ts'
import { loadSchema } from '../../src/schemas.ts'
import type { Principal } from '../../src/contracts/principal.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'

const run = promisify(execFile)
const root = new URL('../../', import.meta.url)

type DefaultsSchema = { properties: Record<string, { default?: unknown; enum?: unknown[] }> }
const schemaDefaults = (): Record<string, unknown> => {
  const config = (loadSchema('data') as { $defs: { config: { properties: { defaults: DefaultsSchema } } } }).$defs.config.properties.defaults
  return Object.fromEntries(Object.entries(config.properties).map(([key, p]) => [key, p.default]))
}

describe('the defaults of data.mcp_authz.defaults have one value everywhere', () => {
  test('the schema gives every defaults key a default, valid for the key', () => {
    const config = (loadSchema('data') as { $defs: { config: { properties: { defaults: DefaultsSchema } } } }).$defs.config.properties.defaults
    for (const [key, p] of Object.entries(config.properties)) {
      assert.notEqual(p.default, undefined, `${key} has a default`)
      if (p.enum) assert.ok(p.enum.includes(p.default), `${key}: default ${String(p.default)} is one of ${JSON.stringify(p.enum)}`)
    }
    const d = schemaDefaults()
    assert.deepEqual([d.unlisted_tools, d.unlisted_resources, d.unlisted_prompts], ['deny', 'deny', 'deny'], 'default deny')
  })

  test("the README's table documents each schema default", () => {
    const readme = readFileSync(new URL('README.md', root), 'utf8')
    const documented: Record<string, string> = {}
    for (const m of readme.matchAll(/^\| `defaults\.(\w+)` \|.*\| `([^`]+)` \|$/gm)) documented[m[1]!] = m[2]!
    assert.deepEqual(documented, schemaDefaults())
  })

  test("the Rego library's built-in defaults are the schema's (real opa)", async () => {
    const { stdout } = await run(process.env.MCP_AUTHZ_OPA ?? 'opa', ['eval', '--format', 'json', '-d', join(LIBRARY_DIR, 'mcp', 'authz'), '--ignore', '*_test.rego', 'data.mcp.authz._builtin_defaults'])
    const value = (JSON.parse(stdout) as { result: Array<{ expressions: Array<{ value: unknown }> }> }).result[0]!.expressions[0]!.value
    assert.deepEqual(value, schemaDefaults())
  })

  test('docs/security.md promises default deny for unlisted tools, resources, prompts and methods', () => {
    const security = readFileSync(new URL('docs/security.md', root), 'utf8')
    assert.match(security, /\*\*Default deny\*\*[^\n]*tools, resources, prompts and methods[^\n]*denied/)
  })
})

describe('with no defaults in the data, the built-ins apply (compiled WASM)', () => {
  let authz: Authz
  const { defaults: _, ...bare } = testData.mcp_authz
  const everything: Principal = { ...testPrincipal, scopes: ['mcp:read', 'mcp:write', 'notes:read', 'notes:write'], claims: { roles: ['admin'] } }
  const req = (method: string, params?: Record<string, unknown>) => ({ jsonrpc: '2.0', id: 1, method, ...(params ? { params } : {}) })
  before(async () => {
    authz = await createAuthz({
      bundle: await buildTestBundle({ mcp_authz: { ...bare, tools: { ...bare.tools, plain: {} }, resources: [...bare.resources, { prefix: 'plain://' }], prompts: { ...bare.prompts, plain: {} } } }),
    })
  })

  test('unlisted_tools deny: an unlisted tool is refused whatever its annotations or scopes', () => {
    for (const annotations of [undefined, { readOnlyHint: true }, { destructiveHint: true }]) {
      const r = authz.decide(everything, req('tools/call', { name: 'wipe_everything' }), annotations ? { annotations } : {})
      assert.equal(r.allow, false)
      assert.deepEqual(r.reasons.map((x) => x.code), ['tool_not_allowed'])
      assert.equal(r.jsonRpcError?.code, -32003)
    }
  })
  test('unlisted_resources deny and unlisted_prompts deny', () => {
    assert.deepEqual(authz.decide(everything, req('resources/read', { uri: 'file:///etc/shadow' })).reasons.map((x) => x.code), ['resource_not_allowed'])
    assert.deepEqual(authz.decide(everything, req('prompts/get', { name: 'exfiltrate' })).reasons.map((x) => x.code), ['prompt_not_allowed'])
  })
  test('unknown methods are denied; the protocol baseline is open', () => {
    assert.deepEqual(authz.decide(everything, req('tasks/list')).reasons.map((x) => x.code), ['method_not_allowed'])
    for (const method of ['initialize', 'ping', 'tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']) assert.ok(authz.decide({ ...everything, scopes: [] }, req(method)).allow, method)
    assert.ok(authz.decide({ ...everything, scopes: [] }, { jsonrpc: '2.0', method: 'notifications/initialized' }).allow)
    assert.ok(authz.decide({ ...everything, scopes: [] }, { jsonrpc: '2.0', id: 4, result: {} }).allow)
  })
  test('read_scope and write_scope: rules without scopes need the built-in scopes', () => {
    const d = schemaDefaults()
    const none = { ...everything, scopes: [] }
    assert.deepEqual(authz.decide(none, req('resources/read', { uri: 'plain://x' })).requiredScopes, [d.read_scope])
    assert.deepEqual(authz.decide(none, req('prompts/get', { name: 'plain' })).requiredScopes, [d.read_scope])
    assert.deepEqual(authz.decide(none, req('tools/call', { name: 'plain' })).requiredScopes, [d.write_scope])
    assert.deepEqual(authz.decide(none, req('tools/call', { name: 'plain' }), { annotations: { readOnlyHint: true } }).requiredScopes, [d.read_scope])
  })
  test('roles_claim: roles are read from the built-in claim name', () => {
    const d = schemaDefaults()
    assert.ok(authz.decide({ ...everything, claims: { [d.roles_claim as string]: ['admin'] } }, req('tools/call', { name: 'notes_delete' })).allow)
    assert.deepEqual(authz.decide({ ...everything, claims: { groups: ['admin'] } }, req('tools/call', { name: 'notes_delete' })).reasons.map((x) => x.code), ['role_not_allowed'])
  })
})
