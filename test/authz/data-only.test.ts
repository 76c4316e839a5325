/**
 * Data-only users: `createAuthz({ data })` loads policy data into the prebuilt library module that
 * ships with the package — no `opa` binary — and decides exactly as a bundle `mcp-authz build` makes
 * from the same data.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import { createAuthz } from '../../src/authz.ts'
import { PolicyError } from '../../src/policy/errors.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { tempDir } from '../helpers/temp.ts'

const run = promisify(execFile)
const AUTHZ = fileURLToPath(new URL('../../src/authz.ts', import.meta.url))

const calls = [
  { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read' } },
  { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'x' } } },
  { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'far too long a title', sudo: true } } },
  { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'unlisted' } },
  { jsonrpc: '2.0', id: 5, method: 'resources/read', params: { uri: 'notes://private/x' } },
  { jsonrpc: '2.0', id: 6, method: 'prompts/get', params: { name: 'summarize', arguments: { style: 'poem' } } },
  { jsonrpc: '2.0', id: 7, method: 'tasks/get' },
  { jsonrpc: '2.0', id: 8, method: 'tools/list' },
]
const principals = [testPrincipal, { ...testPrincipal, scopes: ['notes:read', 'notes:write'] }, { ...testPrincipal, issuer: 'https://evil.example.com' }, { ...testPrincipal, tenant: 'globex' }]
const answer = (r: { allow: boolean; status: number; reasons: unknown[]; requiredScopes: string[]; input?: unknown }) => ({ allow: r.allow, status: r.status, reasons: r.reasons, requiredScopes: r.requiredScopes, input: { ...(r.input as object), context: undefined } })

describe('createAuthz({ data }): the prebuilt library', () => {
  test('decides exactly as the bundle mcp-authz build makes from the same data', async () => {
    const fromData = await createAuthz({ data: testData })
    const fromBundle = await createAuthz({ bundle: await buildTestBundle(testData) })
    assert.match(fromData.bundle.revision, /^lib-sha256-[0-9a-f]{16}\+data-[0-9a-f]{16}$/)
    assert.deepEqual(fromData.bundle.analysis?.inputRefs, [])
    for (const p of principals) for (const c of calls) assert.deepEqual(answer(fromData.decide(p, c)), answer(fromBundle.decide(p, c)), `${p.issuer} ${p.tenant} ${JSON.stringify(c)}`)
    const tools = [{ name: 'notes_read' }, { name: 'notes_write' }, { name: 'unlisted' }]
    assert.deepEqual(fromData.visible(testPrincipal, 'tool', tools), fromBundle.visible(testPrincipal, 'tool', tools))
  })

  test('data from a JSON or YAML file; mistakes refused with their place; a reload with bad data keeps the last good data', async () => {
    const dir = await tempDir('mcp-authz-data-only-')
    const yaml = join(dir, 'data.yaml')
    await writeFile(yaml, `mcp_authz:\n  resource: https://mcp.example.com/mcp\n  issuers:\n    https://as.example.com: { tenant: acme }\n  tools:\n    notes_read: { scopes: [notes:read] }\n`)
    const authz = await createAuthz({ data: yaml })
    assert.equal(authz.decide(testPrincipal, calls[0]).allow, true)
    await writeFile(join(dir, 'bad.yaml'), 'mcp_authz:\n  resource: https://mcp.example.com/mcp\n  issuers: {}\n  tool: {}\n')
    await assert.rejects(authz.load({ data: join(dir, 'bad.yaml') }), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_DATA_INVALID' && /tools/.test(e.message))
    await writeFile(join(dir, 'broken.yaml'), 'mcp_authz:\n  resource: [\n')
    await assert.rejects(createAuthz({ data: join(dir, 'broken.yaml') }), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_DATA_INVALID' && e.problems.some((p) => /broken\.yaml:\d+:\d+/.test(p.path)))
    assert.equal(authz.decide(testPrincipal, calls[0]).allow, true, 'still the last good data')
    await authz.load({ data: { mcp_authz: { ...testData.mcp_authz, tools: {} } } })
    assert.equal(authz.decide(testPrincipal, calls[0]).allow, false, 'reloaded: the tool is unlisted now')
  })

  test('needs no opa binary', async () => {
    const script = `import { createAuthz } from ${JSON.stringify(AUTHZ)}
const authz = await createAuthz({ data: ${JSON.stringify(testData)} })
const r = authz.decide(${JSON.stringify(testPrincipal)}, ${JSON.stringify(calls[1])})
process.stdout.write(JSON.stringify({ status: r.status, scopes: r.requiredScopes }))`
    const env = { ...process.env, PATH: '/nonexistent', MCP_AUTHZ_OPA: '/nonexistent/opa' }
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env, timeout: 60_000 })
    assert.deepEqual(JSON.parse(stdout), { status: 403, scopes: ['notes:write'] })
  })

  test('exactly one of bundle and data', async () => {
    await assert.rejects(createAuthz({} as never), /exactly one of config\.bundle and config\.data/)
    await assert.rejects(createAuthz({ data: testData, bundle: new Uint8Array() }), /exactly one/)
    await assert.rejects(createAuthz({ data: [] as never }), /config\.data must be an object or a file path/)
  })
})
