import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import { createAuthz, type DecisionEvent } from '../../src/authz.ts'
import { DecisionCache } from '../../src/policy/decision-cache.ts'
import type { Decision } from '../../src/policy/decision.ts'
import type { Principal } from '../../src/verify/principal.ts'
import { LIBRARY_DIR } from '../../src/policy/build.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { tempDir } from '../helpers/temp.ts'

const run = promisify(execFile)

// `annotated` has a rule without scopes: its scope comes from its annotations (read when readOnlyHint).
const cacheable = { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, annotated: {} }, decision_cache: true } }
const alice: Principal = { ...testPrincipal, expiresAt: Math.floor(Date.now() / 1000) + 3600 }
const readCall = (id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'notes_read' } })

/** An engine that counts evaluations (each decision event records eval_ns; cache hits skip the engine, so we count on the engine). */
async function counted(data: unknown, revision = 'c1', max?: number) {
  const events: DecisionEvent[] = []
  const authz = await createAuthz({ bundle: await buildTestBundle(data, { revision }), decisionCache: max === undefined ? {} : { max }, onDecision: (e) => events.push(e) })
  // Count real evaluations by spying on the active bundle's WASM policy.
  let evaluations = 0
  const spy = () => {
    const policy = authz.bundle.policy
    const original = policy.evaluate.bind(policy)
    policy.evaluate = ((input: unknown, entrypoint?: number | string) => {
      evaluations++
      return original(input, entrypoint)
    }) as typeof policy.evaluate
  }
  spy()
  return { authz, events, evaluations: () => evaluations, spy }
}

describe('decision cache', () => {
  test('a repeated call is served from the cache, with a fresh decision id and its own decision event', async () => {
    const { authz, events, evaluations } = await counted(cacheable)
    const a = authz.decide(alice, readCall(1))
    const b = authz.decide(alice, readCall(2))
    assert.equal(a.allow, true)
    assert.equal(b.allow, true)
    assert.equal(evaluations(), 1)
    assert.notEqual(a.decisionId, b.decisionId)
    assert.equal(events.length, 2)
    assert.equal(events[1]?.decisionId, b.decisionId)
    assert.deepEqual(events[1]?.result, events[0]?.result)
  })

  test('a denial is cached too, and keeps its reasons and required scopes', async () => {
    const { authz, evaluations } = await counted(cacheable)
    const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'x' } } }
    const a = authz.decide(alice, call)
    const b = authz.decide(alice, { ...call, id: 2 })
    assert.equal(evaluations(), 1)
    assert.equal(b.status, 403)
    assert.deepEqual(b.requiredScopes, ['notes:write'])
    assert.deepEqual(b.reasons, a.reasons)
  })

  test('any change of principal or action is a miss', async () => {
    const { authz, evaluations } = await counted(cacheable)
    authz.decide(alice, readCall())
    const variants: Array<[Principal, unknown]> = [
      [{ ...alice, scopes: [] }, readCall()],
      [{ ...alice, tokenId: 't2' }, readCall()],
      [{ ...alice, subject: 'bob' }, readCall()],
      [{ ...alice, clientId: 'other' }, readCall()],
      [{ ...alice, issuer: 'https://other.example.com' }, readCall()],
      [{ ...alice, tenant: 'globex' }, readCall()],
      [{ ...alice, audience: [] }, readCall()],
      [{ ...alice, authMethod: 'api_key' }, readCall()],
      [{ ...alice, claims: { roles: ['admin'] } }, readCall()],
      [alice, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_delete' } }],
      [alice, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'notes://a' } }],
      [alice, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'notes://private/a' } }],
    ]
    for (const [p, m] of variants) authz.decide(p, m)
    assert.equal(evaluations(), 1 + variants.length)
    // `_meta` that no rule reads does not reach the policy, so it does not split the cache.
    authz.decide(alice, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', _meta: { progressToken: 1 } } })
    assert.equal(evaluations(), 1 + variants.length)
    // Annotations and arguments that reach the policy are part of the key.
    const before = evaluations()
    const annotated = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'annotated' } }
    assert.equal(authz.decide(alice, annotated).allow, false)
    assert.equal(authz.decide(alice, annotated, { annotations: { readOnlyHint: true } }).allow, true)
    const write = (title: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_write', arguments: { title } } })
    const writer = { ...alice, scopes: ['notes:read', 'notes:write'] }
    assert.equal(authz.decide(writer, write('short')).allow, true)
    assert.equal(authz.decide(writer, write('far too long a title')).allow, false)
    assert.equal(evaluations(), before + 4)
  })

  test('arguments of tools without argument rules do not reach the policy, so they do not split the cache', async () => {
    const { authz, evaluations } = await counted(cacheable)
    authz.decide(alice, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: { q: 'a' } } })
    authz.decide(alice, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_read', arguments: { q: 'b' } } })
    assert.equal(evaluations(), 1)
  })

  test('a reload invalidates every cached decision', async () => {
    const { authz, evaluations, spy } = await counted(cacheable, 'r1')
    assert.equal(authz.decide(alice, readCall()).allow, true)
    const stricter = { mcp_authz: { ...cacheable.mcp_authz, tools: { ...cacheable.mcp_authz.tools, notes_read: { scopes: ['notes:admin'] } } } }
    await authz.load(await buildTestBundle(stricter, { revision: 'r2' }))
    spy()
    const r = authz.decide(alice, readCall())
    assert.equal(r.allow, false)
    assert.equal(r.revision, 'r2')
    assert.deepEqual(r.requiredScopes, ['notes:admin'])
    assert.equal(evaluations(), 2)
  })

  test('a decision is never served past the principal expiry', () => {
    let now = 1_000_000
    const cache = new DecisionCache({ max: 10 }, () => now)
    const decision: Decision = { allow: true, reasons: [], required_scopes: [] }
    const p: Principal = { ...alice, expiresAt: 1_010 }
    const key = cache.key('r', p, { method: 'tools/call', kind: 'tool', name: 'notes_read' }, 'http')
    cache.set(key, decision, p)
    assert.equal(cache.get(key)?.allow, true)
    now = 1_010_000
    assert.equal(cache.get(key), undefined)
    // An already expired principal is never stored.
    cache.set(key, decision, p)
    assert.equal(cache.size, 0)
  })

  test('an expired principal is evaluated again through createAuthz', async () => {
    const { authz, evaluations } = await counted(cacheable)
    const expired = { ...alice, expiresAt: Math.floor(Date.now() / 1000) - 1 }
    authz.decide(expired, readCall())
    authz.decide(expired, readCall())
    assert.equal(evaluations(), 2)
  })

  test('the LRU is bounded', async () => {
    const { authz, evaluations } = await counted(cacheable, 'lru', 1)
    authz.decide(alice, readCall())
    authz.decide({ ...alice, tokenId: 'other' }, readCall())
    authz.decide(alice, readCall())
    assert.equal(evaluations(), 3)
  })

  test('on when the bundle proves its decisions deterministic, whatever the data declares; off when the data says false', async () => {
    const proven = await counted(testData, 'c-proven')
    proven.authz.decide(alice, readCall())
    proven.authz.decide(alice, readCall())
    assert.equal(proven.evaluations(), 1, 'mcp-authz build proved it: cached without any declaration')
    const off = await counted({ mcp_authz: { ...testData.mcp_authz, decision_cache: false } }, 'c-off')
    off.authz.decide(alice, readCall())
    off.authz.decide(alice, readCall())
    assert.equal(off.evaluations(), 2)
  })

  test('off when a custom rule reads time, the request id or the call id, and for a bundle nobody analysed', async () => {
    const dir = await tempDir('mcp-authz-cache-rego-')
    const rules = {
      time: 'deny contains {"code": "night", "message": "closed at night"} if time.clock([time.now_ns(), "UTC"])[0] < 0',
      request: 'deny contains {"code": "req", "message": "request id"} if input.context.request_id == "x"',
      id: 'deny contains {"code": "id", "message": "call id"} if input.action.id == "x"',
    }
    for (const [name, rule] of Object.entries(rules)) {
      await mkdir(join(dir, name))
      await writeFile(join(dir, name, 'custom.rego'), `package mcp.authz.custom\n\nimport rego.v1\n\n${rule}\n`)
      const authz = await createAuthz({ bundle: await buildTestBundle(testData, { include: [join(dir, name)], revision: `c-${name}` }), decisionCache: {} })
      assert.equal(authz.bundle.analysis?.nondeterministic === true || authz.bundle.analysis?.inputRefs.length !== 0, true)
      let evaluations = 0
      const original = authz.bundle.policy.evaluate.bind(authz.bundle.policy)
      authz.bundle.policy.evaluate = ((input: unknown, entrypoint?: number | string) => (evaluations++, original(input, entrypoint))) as typeof original
      authz.decide(alice, readCall(1))
      authz.decide(alice, readCall(1))
      assert.equal(evaluations, 2, `${name}: not cached`)
    }
    // Built with plain opa build: no analysis, no proof, no cache.
    const plain = join(dir, 'plain.tar.gz')
    await writeFile(join(dir, 'data.json'), JSON.stringify(testData))
    await run(process.env.MCP_AUTHZ_OPA ?? 'opa', ['build', '-t', 'wasm', '-e', 'mcp/authz/decision', '-e', 'mcp/authz/visible', '--ignore', '*_test.rego', '-o', plain, LIBRARY_DIR, join(dir, 'data.json')])
    const authz = await createAuthz({ bundle: plain, decisionCache: {} })
    assert.equal(authz.bundle.analysis, undefined)
    let evaluations = 0
    const original = authz.bundle.policy.evaluate.bind(authz.bundle.policy)
    authz.bundle.policy.evaluate = ((input: unknown, entrypoint?: number | string) => (evaluations++, original(input, entrypoint))) as typeof original
    authz.decide(alice, readCall())
    authz.decide(alice, readCall())
    assert.equal(evaluations, 2)
  })

  test('disabled unless the config asks for it', async () => {
    const authz = await createAuthz({ bundle: await buildTestBundle(cacheable, { revision: 'c1' }) })
    let evaluations = 0
    const policy = authz.bundle.policy
    const original = policy.evaluate.bind(policy)
    policy.evaluate = ((input: unknown, entrypoint?: number | string) => {
      evaluations++
      return original(input, entrypoint)
    }) as typeof policy.evaluate
    authz.decide(alice, readCall())
    authz.decide(alice, readCall())
    assert.equal(evaluations, 2)
  })

  test('bad options fail fast with a TypeError naming the option', async () => {
    const bundle = await buildTestBundle(cacheable, { revision: 'c1' })
    await assert.rejects(createAuthz({ bundle, decisionCache: { max: 0 } }), (e: unknown) => e instanceof TypeError && /decisionCache\.max/.test(e.message))
    await assert.rejects(createAuthz({ bundle, decisionCache: null as never }), (e: unknown) => e instanceof TypeError && /decisionCache/.test(e.message))
  })
})
