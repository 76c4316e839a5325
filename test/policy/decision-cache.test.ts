import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import type { Action } from '../../src/action/action.ts'
import { createAuthz, type DecisionEvent } from '../../src/authz.ts'
import { DecisionCache, ENTRY_OVERHEAD_BYTES, entryBytes } from '../../src/policy/decision-cache.ts'
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

describe('decision cache: the key', () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261201)
  const numRuns = Number(process.env.FUZZ_RUNS ?? 300)
  const text = fc.string({ maxLength: 12, unit: fc.constantFrom('a', 'b', ':', '-', ',', '[', '"', '1', ' ', 'é') })
  const json = fc.option(fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean()), { maxKeys: 3 }), { nil: undefined })
  const principalArb = fc.record({
    subject: text, clientId: fc.option(text, { nil: undefined }), issuer: text, tenant: fc.option(text, { nil: undefined }),
    audience: fc.array(text, { maxLength: 3 }), scopes: fc.array(text, { maxLength: 3 }),
    authMethod: fc.constantFrom('jwt', 'introspection', 'api_key', 'static'), tokenId: text,
    expiresAt: fc.option(fc.integer({ min: 0, max: 2 ** 31 }), { nil: undefined }), issuedAt: fc.option(fc.integer({ min: 0, max: 2 ** 31 }), { nil: undefined }),
    claims: fc.dictionary(text, text, { maxKeys: 2 }),
  }, { requiredKeys: ['subject', 'issuer', 'audience', 'scopes', 'authMethod', 'tokenId', 'claims'] })
  const actionArb = fc.record({
    method: text, kind: fc.constantFrom('tool', 'resource', 'prompt', 'list', 'session', 'notification', 'other'),
    name: fc.option(text, { nil: undefined }), uri: fc.option(text, { nil: undefined }),
    arguments: json, annotations: json, meta: json, id: fc.option(fc.oneof(fc.integer(), text), { nil: undefined }),
  }, { requiredKeys: ['method', 'kind'] })

  /** Every field a policy can read, with a way to change it to something else. */
  const changes: Array<[string, (i: { revision: string; transport: string; principal: Principal; action: Action }) => void]> = [
    ['revision', (i) => void (i.revision += 'x')],
    ['transport', (i) => void (i.transport += 'x')],
    ['action.method', (i) => void (i.action.method += 'x')],
    ['action.kind', (i) => void (i.action.kind = i.action.kind === 'tool' ? 'resource' : 'tool')],
    ['action.name', (i) => void (i.action.name = i.action.name === undefined ? '' : undefined)],
    ['action.uri', (i) => void (i.action.uri = `${i.action.uri ?? ''}x`)],
    ['action.arguments', (i) => void (i.action.arguments = { ...i.action.arguments, changed: 1 })],
    ['action.annotations', (i) => void (i.action.annotations = i.action.annotations === undefined ? {} : undefined)],
    ['action.meta', (i) => void (i.action.meta = { ...i.action.meta, changed: true })],
    ['principal.subject', (i) => void (i.principal.subject += 'x')],
    ['principal.clientId', (i) => void (i.principal.clientId = i.principal.clientId === undefined ? '' : undefined)],
    ['principal.issuer', (i) => void (i.principal.issuer += 'x')],
    ['principal.tenant', (i) => void (i.principal.tenant = `${i.principal.tenant ?? ''}x`)],
    ['principal.audience', (i) => void (i.principal.audience = [...i.principal.audience, ''])],
    ['principal.scopes', (i) => void (i.principal.scopes = [...i.principal.scopes, 'x'])],
    ['principal.authMethod', (i) => void (i.principal.authMethod = i.principal.authMethod === 'jwt' ? 'api_key' : 'jwt')],
    ['principal.tokenId', (i) => void (i.principal.tokenId += 'x')],
    ['principal.expiresAt', (i) => void (i.principal.expiresAt = (i.principal.expiresAt ?? 0) + 1)],
    ['principal.issuedAt (set or unset)', (i) => void (i.principal.issuedAt = i.principal.issuedAt === undefined ? 0 : undefined)],
    ['principal.issuedAt (value)', (i) => void (i.principal.issuedAt = (i.principal.issuedAt ?? 0) + 1)],
    ['principal.expiresAt (set or unset)', (i) => void (i.principal.expiresAt = i.principal.expiresAt === undefined ? 0 : undefined)],
    ['principal.claims', (i) => void (i.principal.claims = { ...i.principal.claims, roles: ['x'] })],
  ]

  test(`changing any one field a policy can read changes the key (${numRuns} runs per field, seed ${seed})`, () => {
    const cache = new DecisionCache()
    for (const [field, change] of changes) {
      const result = fc.check(
        fc.property(fc.record({ revision: text, transport: text, principal: principalArb, action: actionArb }), (input) => {
          const base = cache.key(input.revision, input.principal as Principal, input.action as Action, input.transport)
          const changed = structuredClone(input) as { revision: string; transport: string; principal: Principal; action: Action }
          change(changed)
          const key = cache.key(changed.revision, changed.principal, changed.action, changed.transport)
          return key !== base
        }),
        { seed, numRuns },
      )
      assert.equal(result.failed, false, `changing ${field} left the key unchanged for ${JSON.stringify(result.counterexample)}`)
    }
  })

  test('the request id does not split the cache (a cacheable policy never reads it)', () => {
    const cache = new DecisionCache()
    const action: Action = { method: 'tools/call', kind: 'tool', name: 'notes_read', id: 1 }
    assert.equal(cache.key('r', alice, action, 'http'), cache.key('r', alice, { ...action, id: 2 }, 'http'))
  })

  test('no two different inputs share a key, whatever separators their values hold', () => {
    const cache = new DecisionCache()
    fc.assert(
      fc.property(principalArb, actionArb, principalArb, actionArb, (p1, a1, p2, a2) => {
        const strip = (a: typeof a1) => ({ ...a, id: undefined })
        const same = JSON.stringify([p1, strip(a1)]) === JSON.stringify([p2, strip(a2)])
        return same || cache.key('r', p1 as Principal, a1 as Action, 't') !== cache.key('r', p2 as Principal, a2 as Action, 't')
      }),
      { seed, numRuns: numRuns * 3 },
    )
  })

  test('method and kind are in the key: an allowed resources/read never answers a denied resources/subscribe of the same URI', async () => {
    const { authz, evaluations } = await counted(cacheable)
    const read = authz.decide(alice, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: 'notes://a' } })
    assert.equal(read.allow, true)
    const subscribe = authz.decide(alice, { jsonrpc: '2.0', id: 2, method: 'resources/subscribe', params: { uri: 'notes://a' } })
    assert.equal(subscribe.allow, false)
    assert.equal(evaluations(), 2)
  })
})

describe('decision cache: bounded in bytes', () => {
  const allow: Decision = { allow: true, reasons: [], required_scopes: [] }
  const actionWithMeta = (pad: number, name = 'notes_read'): Action => ({ method: 'tools/call', kind: 'tool', name, meta: { pad: 'x'.repeat(pad) } })

  test('an entry is counted as two bytes per character of its key and decision, plus a fixed overhead', () => {
    const cache = new DecisionCache()
    const key = cache.key('r', alice, actionWithMeta(10), 'http')
    assert.equal(entryBytes(key, allow), 2 * (key.length + JSON.stringify(allow).length) + ENTRY_OVERHEAD_BYTES)
    cache.set(key, { ...allow }, alice)
    assert.equal(cache.bytes, entryBytes(key, allow))
  })

  test('default: an entry over 16 KiB is not cached (its input is decided every time); one under is', async () => {
    const { authz, evaluations } = await counted(cacheable)
    // notes_write has argument rules: its arguments (caller-chosen, as large as the message limits allow) are read, so keyed.
    const call = (pad: number, id: number) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'x', pad: 'x'.repeat(pad) } } })
    authz.decide(alice, call(9000, 1))
    authz.decide(alice, call(9000, 2))
    assert.equal(evaluations(), 2, 'over 16 KiB: evaluated twice')
    authz.decide(alice, call(6000, 3))
    authz.decide(alice, call(6000, 4))
    assert.equal(evaluations(), 3, 'under 16 KiB: cached')
  })

  test('a stored decision is frozen, reasons included, so no caller can change what the next one is served', () => {
    const cache = new DecisionCache()
    const key = cache.key('r', alice, actionWithMeta(1), 'http')
    const stored = cache.set(key, { allow: false, reasons: [{ code: 'default_deny', message: 'no rule' }], required_scopes: ['x'] } as Decision, alice)
    assert.ok(Object.isFrozen(stored) && Object.isFrozen(stored.reasons) && Object.isFrozen(stored.reasons[0]) && Object.isFrozen(stored.required_scopes))
    assert.throws(() => void ((stored.reasons[0] as { code: string }).code = 'changed'), TypeError)
    assert.equal(cache.get(key)?.reasons[0]?.code, 'default_deny')
  })

  test('policy errors are never cached; the decision is handed back as it came', () => {
    const cache = new DecisionCache()
    const key = cache.key('r', alice, actionWithMeta(1), 'http')
    const failed = { allow: false, reasons: [{ code: 'policy_error', message: 'trap' }], required_scopes: [] } as unknown as Decision
    assert.equal(cache.set(key, failed, alice), failed)
    assert.equal(cache.size, 0)
  })

  test('an entry too large because of its decision (the key alone fits) is handed back, not cached', () => {
    const cache = new DecisionCache({ maxEntryBytes: 4096 })
    const key = cache.key('r', alice, actionWithMeta(1), 'http')
    assert.ok(2 * key.length + ENTRY_OVERHEAD_BYTES < 4096)
    const big = { allow: false, reasons: [{ code: 'default_deny', message: 'm'.repeat(3000) }], required_scopes: [] } as unknown as Decision
    assert.equal(cache.set(key, big, alice), big)
    assert.equal(cache.size, 0)
  })

  test('clear() drops every entry and its bytes', () => {
    const cache = new DecisionCache()
    cache.set(cache.key('r', alice, actionWithMeta(1), 'http'), { ...allow }, alice)
    cache.clear()
    assert.deepEqual([cache.size, cache.bytes], [0, 0])
  })

  test('maxEntryBytes exactly: cached; one byte more: not', () => {
    const probe = new DecisionCache()
    const key = probe.key('r', alice, actionWithMeta(100), 'http')
    const exact = entryBytes(key, allow)
    const fits = new DecisionCache({ maxEntryBytes: exact })
    fits.set(key, { ...allow }, alice)
    assert.equal(fits.size, 1)
    const tooSmall = new DecisionCache({ maxEntryBytes: exact - 1 })
    const handedBack = { ...allow }
    assert.equal(tooSmall.set(key, handedBack, alice), handedBack)
    assert.equal(tooSmall.size, 0)
    assert.equal(tooSmall.get(key), undefined)
  })

  test('maxBytes: the least recently used entries go once the total passes it', () => {
    const cache = new DecisionCache({ maxBytes: 10_000 })
    const keys = Array.from({ length: 10 }, (_, i) => cache.key('r', alice, actionWithMeta(1000, `tool${i}`), 'http'))
    for (const key of keys) {
      cache.set(key, { ...allow }, alice)
      assert.ok(cache.bytes <= 10_000, `${cache.bytes}`)
    }
    assert.ok(cache.size < 10)
    assert.equal(cache.get(keys[9] as string)?.allow, true)
    assert.equal(cache.get(keys[0] as string), undefined)
  })

  test('default: 32 MiB in all — 3000 entries of 15 KiB keep under it', () => {
    const cache = new DecisionCache()
    const limit = 32 * 1024 * 1024
    for (let i = 0; i < 3000; i++) cache.set(cache.key('r', alice, actionWithMeta(7400, `t${i}`), 'http'), { ...allow }, alice)
    assert.ok(cache.bytes <= limit, `${cache.bytes}`)
    assert.ok(cache.size < 3000 && cache.size > 2000, `${cache.size}`)
  })

  test('default: 10 000 entries', () => {
    const cache = new DecisionCache()
    for (let i = 0; i <= 10_000; i++) cache.set(cache.key('r', alice, { method: 'tools/call', kind: 'tool', name: `t${i}` }, 'http'), { ...allow }, alice)
    assert.equal(cache.size, 10_000)
  })

  test('bad byte bounds fail fast with a TypeError naming the option', () => {
    for (const name of ['maxBytes', 'maxEntryBytes'] as const) {
      for (const value of [0, -1, 1.5, '1']) assert.throws(() => new DecisionCache({ [name]: value as never }), new RegExp(`decisionCache\\.${name}`))
    }
  })
})

describe('decision cache: keys of principals that differ only in which fields are present (found by mutation)', () => {
  const cache = new DecisionCache()
  const action: Action = { method: 'tools/call', kind: 'tool', name: 'notes_read' }
  const base: Principal = { ...testPrincipal, claims: {} }
  const key = (p: Partial<Principal>) => cache.key('r', { ...base, ...p } as Principal, action, 't')

  test('an absent field never reads as the next one: tokenId "a" without a subject is not a subject "a" without a tokenId', () => {
    assert.notEqual(key({ tokenId: 'a', subject: undefined as never }), key({ tokenId: undefined as never, subject: 'a' }))
  })
  test('a value moved from one list to the next (audience → scopes) changes the key', () => {
    assert.notEqual(key({ audience: ['x'], scopes: [] }), key({ audience: [], scopes: ['x'] }))
  })
  test('expiry and issue time are kept apart (12 and 3 is not 1 and 23)', () => {
    assert.notEqual(key({ expiresAt: 12, issuedAt: 3 }), key({ expiresAt: 1, issuedAt: 23 }))
  })
  test('options left out take their defaults', () => {
    assert.doesNotThrow(() => new DecisionCache({}))
    assert.doesNotThrow(() => new DecisionCache({ max: undefined } as never))
  })
})
