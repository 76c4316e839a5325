import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import { createAuthz } from '../../src/authz.ts'
import { PolicyEngine } from '../../src/policy/engine.ts'
import { PolicyError } from '../../src/policy/errors.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { tempDir } from '../helpers/temp.ts'

const run = promisify(execFile)
const alice: Principal = testPrincipal
const readCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read' } }

function withTool(scopes: string[]) {
  return { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, notes_read: { scopes } } } }
}

describe('policy engine: loading and atomic reload', () => {
  test('a new bundle replaces the old one atomically and reports its revision', async () => {
    const v1 = await buildTestBundle(testData, { revision: 'v1' })
    const v2 = await buildTestBundle(withTool(['notes:admin']), { revision: 'v2' })
    const authz = await createAuthz({ bundle: v1 })
    assert.equal(authz.bundle.revision, 'v1')
    assert.equal(authz.decide(alice, readCall).allow, true)
    await authz.load(v2)
    assert.equal(authz.bundle.revision, 'v2')
    const r = authz.decide(alice, readCall)
    assert.equal(r.allow, false)
    assert.equal(r.revision, 'v2')
    assert.deepEqual(r.requiredScopes, ['notes:admin'])
  })

  test('a bundle whose data fails its schema is refused with every problem by JSON path; the previous one keeps serving', async () => {
    const authz = await createAuthz({ bundle: await buildTestBundle(testData, { revision: 'good' }) })
    const { readBundle } = await import('../../src/policy/bundle.ts')
    const good = await readBundle(await readFile(await buildTestBundle(testData, { revision: 'good' })))
    const bad = { ...good, data: { mcp_authz: { resource: 'https://MCP.example.com/mcp/', issuers: {}, tools: { t: { scopes: ['a b'], extra: 1 } } } } }
    const engine = new PolicyEngine()
    await engine.load(good)
    await assert.rejects(engine.load(bad), (e: unknown) => {
      assert.ok(e instanceof PolicyError)
      assert.equal(e.code, 'ERR_DATA_INVALID')
      const paths = e.problems.map((p) => p.path)
      assert.ok(paths.includes('$.mcp_authz.resource'), paths.join())
      assert.ok(paths.includes('$.mcp_authz.tools.t.scopes[0]'), paths.join())
      assert.ok(e.problems.some((p) => p.path === '$.mcp_authz.tools.t' && /unknown property "extra"/.test(p.message)))
      return true
    })
    assert.equal(engine.active?.revision, 'good')
    await assert.rejects(authz.load(new Uint8Array([1, 2, 3])), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_BUNDLE_INVALID')
    await assert.rejects(authz.load(gzipSync(Buffer.from('not a tar archive at all'.repeat(40)))), PolicyError)
    assert.equal(authz.bundle.revision, 'good')
    assert.equal(authz.decide(alice, readCall).allow, true)
  })

  test('a non-canonical resource is refused with the canonical form suggested', async () => {
    const { schemaProblems } = await import('../../src/schemas.ts')
    const problems = schemaProblems('data', { mcp_authz: { resource: 'https://mcp.example.com:443/mcp', issuers: {} } })
    assert.deepEqual(problems, [{ path: '$.mcp_authz.resource', message: 'must be in canonical form: https://mcp.example.com/mcp' }])
  })

  test('config.resource must match the bundle; createAuthz fails fast on bad options', async () => {
    const path = await buildTestBundle(testData)
    await assert.rejects(createAuthz({ bundle: path, resource: 'https://elsewhere.example.com/mcp' }), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_DATA_INVALID')
    const ok = await createAuthz({ bundle: path, resource: 'HTTPS://MCP.EXAMPLE.COM/mcp/' })
    assert.equal(ok.resource, 'https://mcp.example.com/mcp')
    await assert.rejects(createAuthz({} as never), /config\.bundle/)
    assert.throws(() => new PolicyEngine({ maximumMemoryPages: 1 }), /maximumMemoryPages/)
  })

  test('a bundle without the visible entrypoint is refused', async () => {
    const dir = await tempDir('mcp-authz-ep-')
    await writeFile(join(dir, 'data.json'), JSON.stringify(testData))
    // The library annotates both entrypoints; a hand-written policy exports only one.
    await writeFile(join(dir, 'only.rego'), 'package mcp.authz\n\ndecision := {"allow": false, "reasons": [], "required_scopes": []}\n')
    const out = join(dir, 'b.tar.gz')
    await run(process.env.MCP_AUTHZ_OPA ?? 'opa', ['build', '-t', 'wasm', '-e', 'mcp/authz/decision', '-o', out, dir])
    await assert.rejects(createAuthz({ bundle: out }), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_POLICY_LOAD' && /visible/.test(e.message))
  })

  test('no bundle: evaluation fails closed with policy_error', () => {
    const engine = new PolicyEngine()
    const d = engine.evaluate({ principal: alice, action: { method: 'ping', kind: 'session' }, server: { resource: 'x' }, context: { time_ns: 0, transport: 't' } })
    assert.equal(d.allow, false)
    assert.equal(d.reasons[0]?.code, 'policy_error')
    assert.throws(() => engine.visible({ principal: alice, kind: 'tool', items: [], server: { resource: 'x' }, context: { time_ns: 0, transport: 't' } }), /no policy bundle/)
  })

  test('an input beyond the WASM memory maximum denies with policy_error and the engine keeps working', async () => {
    const engine = new PolicyEngine({ initialMemoryPages: 16, maximumMemoryPages: 32 })
    await engine.load(await readFile(await buildTestBundle(testData)))
    // The subject is read by the policy, so all of it is sent.
    const huge = { principal: { ...alice, subject: 'x'.repeat(4 * 1024 * 1024) }, action: { method: 'ping', kind: 'session' as const }, server: { resource: 'x' }, context: { time_ns: 0, transport: 't' } }
    const d = engine.evaluate(huge)
    assert.equal(d.allow, false)
    assert.equal(d.reasons[0]?.code, 'policy_error')
    // A claim no rule reads is never sent (src/policy/projection.ts): it costs no WASM memory.
    const unread = { ...huge, principal: { ...alice, claims: { blob: 'x'.repeat(4 * 1024 * 1024) } } }
    assert.equal(engine.evaluate(unread).allow, true)
    const fine = engine.evaluate({ principal: alice, action: { method: 'ping', kind: 'session' }, server: { resource: 'x' }, context: { time_ns: 0, transport: 't' } })
    assert.equal(fine.allow, true)
  })

  test('WASM memory stays flat across 100k decisions', async () => {
    const authz = await createAuthz({ bundle: await buildTestBundle(testData) })
    const policy = authz.bundle.policy as unknown as { mem: { buffer: ArrayBuffer } }
    for (let i = 0; i < 1000; i++) authz.decide(alice, readCall)
    const before = policy.mem.buffer.byteLength
    for (let i = 0; i < 100_000; i++) authz.decide({ ...alice, tokenId: `t${i}` }, { ...readCall, id: i })
    assert.equal(policy.mem.buffer.byteLength, before)
  })

  test('shadow mode lets a denied call through and says what would have happened', async () => {
    const events: Array<{ enforcement: string; wouldAllow?: boolean }> = []
    const authz = await createAuthz({ bundle: await buildTestBundle(testData), shadow: { tools: ['notes_write'] }, onDecision: (e) => events.push(e) })
    const shadowed = authz.decide(alice, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'x' } } })
    assert.equal(shadowed.allow, true)
    assert.equal(shadowed.enforcement, 'shadow')
    assert.equal(shadowed.wouldAllow, false)
    assert.equal(shadowed.status, 200)
    assert.equal(shadowed.jsonRpcError, undefined)
    const enforced = authz.decide(alice, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_delete' } })
    assert.equal(enforced.allow, false)
    assert.deepEqual(events.map((e) => e.enforcement), ['shadow', 'enforced'])
  })
})
