/**
 * Per-principal decision tables (src/authz/table.ts): for a principal the verifier's memo hands out
 * (one deeply frozen object), decisions that depend only on principal, method and item are answered
 * from a table after their first evaluation. A table answer must be exactly the policy's answer —
 * allow, reasons and their messages, required scopes, HTTP outcome, decision event — for every call
 * it answers; anything it cannot prove it covers goes to WASM.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { createAuthz, type Authz, type DecisionEvent, type DecisionResult, type ListItem } from '../../src/authz.ts'
import { classifyMessage } from '../../src/action/classify.ts'
import type { Principal } from '../../src/contracts/principal.ts'
import { DecisionTables, itemPath, TABLE_OVERHEAD_BYTES } from '../../src/authz/table.ts'
import { deepFreeze } from '../../src/verify/memo.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { annotations, message, PROMPTS, principal, policyData, TOOLS, URIS } from '../helpers/policy-arbitraries.ts'

const seed = Number(process.env.FUZZ_SEED ?? 20261203)
const numRuns = Number(process.env.FUZZ_RUNS ?? 60)
const PRINCIPAL_RULES = fileURLToPath(new URL('./fixtures/principal-rules', import.meta.url))
const CONTEXT_RULES = fileURLToPath(new URL('./fixtures/context-rules', import.meta.url))
const HOME_PATHS = fileURLToPath(new URL('./fixtures/home-paths', import.meta.url))

const hour = () => Math.floor(Date.now() / 1000) + 3600
const frozen = (p: Principal): Principal => deepFreeze(structuredClone(p))
const alice: Principal = { ...testPrincipal, expiresAt: hour() }
const call = (name: string, id: number | string = 1, args?: Record<string, unknown>) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, ...(args ? { arguments: args } : {}) } })

/** An engine whose WASM evaluations are counted, with its decision events. */
async function counted(options: Parameters<typeof createAuthz>[0]): Promise<{ authz: Authz; events: DecisionEvent[]; evaluations: () => number }> {
  const events: DecisionEvent[] = []
  const authz = await createAuthz({ ...options, onDecision: (e) => events.push(e) })
  let n = 0
  let spied: unknown
  const spy = () => {
    const policy = authz.bundle.policy
    if (spied === policy) return
    const original = policy.evaluate.bind(policy)
    policy.evaluate = ((...args: Parameters<typeof original>) => (n++, original(...args))) as typeof original
    spied = policy
  }
  spy()
  return {
    authz,
    events,
    evaluations: () => {
      spy()
      return n
    },
  }
}

/** A decision result with what differs on every call (ids, time) blanked. */
function comparable(r: DecisionResult): unknown {
  const data = r.jsonRpcError?.data as { decision_id?: string } | undefined
  return {
    ...r,
    decisionId: '',
    ...(r.input !== undefined ? { input: { ...r.input, context: { ...r.input.context, time_ns: 0 } } } : {}),
    ...(r.jsonRpcError !== undefined ? { jsonRpcError: { ...r.jsonRpcError, ...(data !== undefined ? { data: { ...data, decision_id: '' } } : {}) } } : {}),
  }
}

function comparableEvent(e: DecisionEvent | undefined): unknown {
  if (e === undefined) return undefined
  const { decisionId: _id, timestamp: _t, metrics: _m, relatedDecisionId: _r, ...rest } = e
  return { ...rest, ...(e.input !== undefined ? { input: { ...e.input, context: { ...e.input.context, time_ns: 0 } } } : {}) }
}

describe('property: a table answers exactly what the policy answers', () => {
  test(`random data, principals, messages and list items, data-only engine (${numRuns} runs, seed ${seed})`, async () => {
    let tabledCalls = 0
    let answeredFromTable = 0
    await fc.assert(
      fc.asyncProperty(
        policyData,
        fc.array(principal, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(2), message, annotations), { minLength: 1, maxLength: 10 }),
        fc.constantFrom('required' as const, 'granted-and-required' as const),
        fc.constantFrom<boolean | { tools: string[] }>(false, true, { tools: ['notes_read', 'disabled'] }),
        fc.boolean(),
        async (data, principals, calls, stepUpScopes, shadow, withCache) => {
          // With the decision cache on, the table sits in front of it (and the cache still serves the WASM path).
          const cache = withCache ? { decisionCache: { max: 100 } } : {}
          const tabled = await counted({ data, stepUpScopes, shadow, ...cache })
          const plain = await counted({ data, stepUpScopes, shadow, decisionTable: false, ...cache })
          const memoized = principals.map(frozen)
          const ruled = new Set(Object.entries({ ...data.mcp_authz.tools, ...data.mcp_authz.prompts }).filter(([, r]) => (r as { arguments?: unknown }).arguments !== undefined).map(([n]) => n))
          for (const [i, m, ann] of calls) {
            const p = principals[i % principals.length] as Principal
            const q = memoized[i % memoized.length] as Principal
            const context = ann === undefined ? {} : { annotations: ann }
            for (let round = 0; round < 2; round++) {
              const before = tabled.evaluations()
              const a = tabled.authz.decide(q, m, context)
              const evaluated = tabled.evaluations() > before
              const b = plain.authz.decide(p, m, context)
              assert.deepEqual(comparable(a), comparable(b), `decide ${JSON.stringify(m)} round ${round}`)
              assert.deepEqual(comparableEvent(tabled.events.at(-1)), comparableEvent(plain.events.at(-1)), 'the decision event is the same')
              const c = classifyMessage(m)
              const tableable = c.ok && !(c.action.name !== undefined && ruled.has(c.action.name) && (c.action.kind === 'tool' || c.action.kind === 'prompt')) && (q.expiresAt === undefined || q.expiresAt * 1000 > Date.now() + 1000)
              if (round === 1 && tableable) {
                tabledCalls++
                if (!evaluated) answeredFromTable++
                assert.equal(evaluated, false, `the second identical call is answered from the table: ${JSON.stringify(m)}`)
              }
              if (c.ok && !tableable && !withCache) assert.equal(evaluated, true, 'a call the table cannot cover is evaluated')
            }
          }
          for (const kind of ['tool', 'resource', 'prompt'] as const) {
            const items: ListItem[] = kind === 'tool' ? TOOLS.map((name, j) => (j % 2 === 0 ? { name } : { name, annotations: { readOnlyHint: j % 4 === 1 } })) : kind === 'prompt' ? PROMPTS.map((name) => ({ name })) : URIS.map((uri) => ({ uri }))
            for (const [j, q] of memoized.entries()) {
              const expected = plain.authz.visible(principals[j] as Principal, kind, items)
              assert.deepEqual(tabled.authz.visible(q, kind, items), expected, `visible ${kind}`)
              assert.deepEqual(tabled.authz.visible(q, kind, items), expected, `visible ${kind}, again (from the table)`)
              assert.deepEqual(comparableEvent(tabled.events.at(-1)), comparableEvent(plain.events.at(-1)), 'the list-filtering event is the same')
            }
          }
        },
      ),
      { seed, numRuns },
    )
    assert.ok(tabledCalls > numRuns && answeredFromTable === tabledCalls, `table answers exercised (${answeredFromTable}/${tabledCalls})`)
  })

  test(`custom rules reading principal claims, method, item and server keep decisions table-able (${numRuns} runs)`, async () => {
    const data = { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, notes_read: { scopes: ['notes:read'] } } } }
    const bundle = await readFile(await buildTestBundle(data, { include: [PRINCIPAL_RULES], revision: 'principal-rules' }))
    const tabled = await counted({ bundle })
    const plain = await counted({ bundle, decisionTable: false })
    assert.deepEqual(tabled.authz.bundle.analysis?.inputRefs.map((r) => r.join('.')).sort(), ['action.kind', 'action.method', 'action.name', 'principal.claims.department', 'server.resource'])
    let fromTable = 0
    await fc.assert(
      fc.asyncProperty(principal, fc.array(message, { minLength: 1, maxLength: 6 }), async (p, messages) => {
        const q = frozen({ ...p, expiresAt: hour() })
        const reference = { ...p, expiresAt: q.expiresAt } as Principal
        for (const m of [...messages, ...messages]) {
          const before = tabled.evaluations()
          assert.deepEqual(comparable(tabled.authz.decide(q, m)), comparable(plain.authz.decide(reference, m)))
          if (tabled.evaluations() === before) fromTable++
        }
      }),
      { seed, numRuns },
    )
    assert.ok(fromTable > numRuns, `answers came from tables (${fromTable})`)
  })
})

describe('what the table never answers', () => {
  let library: Buffer
  before(async () => {
    library = await readFile(await buildTestBundle(testData, { revision: 'table-plain' }))
  })

  test('a principal that is not deeply frozen is evaluated on every call', async () => {
    const { authz, evaluations } = await counted({ bundle: library })
    authz.decide(alice, call('notes_read'))
    authz.decide(alice, call('notes_read'))
    assert.equal(evaluations(), 2, 'a plain object can change between calls')
    const shallow = Object.freeze({ ...alice, scopes: ['notes:read'] })
    authz.decide(shallow, call('notes_read'))
    authz.decide(shallow, call('notes_read'))
    assert.equal(evaluations(), 4, 'frozen on top, but its scopes can change')
    const memo = frozen(alice)
    authz.decide(memo, call('notes_read', 1))
    authz.decide(memo, call('notes_read', 2))
    assert.equal(evaluations(), 5, 'deeply frozen: evaluated once, then answered from its table')
  })

  test('two principals that differ in anything never share a table', async () => {
    const { authz } = await counted({ bundle: library })
    const reader = frozen(alice)
    const nobody = frozen({ ...alice, scopes: [] })
    assert.equal(authz.decide(reader, call('notes_read')).allow, true)
    const denied = authz.decide(nobody, call('notes_read'))
    assert.equal(denied.status, 403)
    assert.equal(authz.decide(reader, call('notes_read')).allow, true)
    assert.deepEqual(authz.decide(nobody, call('notes_read')).requiredScopes, ['notes:read'])
  })

  test('tools with argument conditions are evaluated with their arguments every time', async () => {
    const { authz, evaluations } = await counted({ bundle: library })
    const writer = frozen({ ...alice, scopes: ['notes:write'] })
    assert.equal(authz.decide(writer, call('notes_write', 1, { title: 'ok' })).allow, true)
    assert.equal(authz.decide(writer, call('notes_write', 2, { title: 'far too long a title' })).allow, false)
    assert.equal(authz.decide(writer, call('notes_write', 3, { title: 'ok' })).allow, true)
    assert.equal(evaluations(), 3)
  })

  test('a bundle whose custom rules read arguments, _meta or context has no tables', async () => {
    const data = { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, fs_read: { scopes: ['notes:read'] }, fs_admin: { scopes: ['notes:read'] } } } }
    const { authz, evaluations } = await counted({ bundle: await readFile(await buildTestBundle(data, { include: [HOME_PATHS], revision: 'table-home-paths' })) })
    const p = frozen({ ...alice, claims: { department: 'ops' } })
    const args = (path: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'fs_read', arguments: { path } } })
    assert.equal(authz.decide(p, args('/home/alice/a')).allow, true)
    assert.equal(authz.decide(p, args('/etc/shadow')).allow, false, 'the arguments of fs_read are read by a custom rule')
    assert.equal(authz.decide(p, call('fs_admin'), { transport: 'stdio' }).allow, false, 'the context is read by a custom rule')
    assert.equal(authz.decide(p, call('fs_admin')).allow, true)
    assert.equal(authz.decide(p, call('notes_read')).allow, true)
    authz.decide(p, call('notes_read'))
    assert.equal(evaluations(), 6)
  })

  test('a bundle whose custom rules read the context or _meta (and no arguments) has no tables', async () => {
    const { authz, evaluations } = await counted({ bundle: await readFile(await buildTestBundle(testData, { include: [CONTEXT_RULES], revision: 'table-context' })) })
    const p = frozen(alice)
    const traced = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_read', _meta: { trace: true } } }
    assert.equal(authz.decide(p, call('notes_read')).allow, true)
    assert.equal(authz.decide(p, call('notes_read'), { transport: 'stdio' }).allow, false, 'the context is read by a custom rule')
    assert.equal(authz.decide(p, traced).allow, false, '_meta is read by a custom rule')
    assert.equal(authz.decide(p, call('notes_read')).allow, true)
    assert.equal(evaluations(), 4)
  })

  test('data decision_cache: false, or decisionTable: false, turns tables off', async () => {
    const off = await counted({ data: { mcp_authz: { ...testData.mcp_authz, decision_cache: false } } })
    const configuredOff = await counted({ bundle: library, decisionTable: false })
    for (const { authz, evaluations } of [off, configuredOff]) {
      const p = frozen(alice)
      authz.decide(p, call('notes_read'))
      authz.decide(p, call('notes_read'))
      assert.equal(evaluations(), 2)
    }
    await assert.rejects(createAuthz({ bundle: library, decisionTable: null as never }), /config\.decisionTable must be an object or false/)
    await assert.rejects(createAuthz({ bundle: library, decisionTable: { maxBytes: 0 } }), /decisionTable\.maxBytes must be a positive integer/)
  })

  test('a reload starts with empty tables: the new bundle decides', async () => {
    const { authz, evaluations } = await counted({ bundle: library })
    const p = frozen(alice)
    assert.equal(authz.decide(p, call('notes_read')).allow, true)
    assert.equal(authz.decide(p, call('notes_read')).allow, true)
    assert.equal(evaluations(), 1)
    await authz.load({ data: { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, notes_read: { scopes: ['notes:admin'] } } } } })
    const after = authz.decide(p, call('notes_read'))
    assert.equal(after.allow, false)
    assert.deepEqual(after.requiredScopes, ['notes:admin'])
    assert.equal(authz.visible(p, 'tool', [{ name: 'notes_read' }]).length, 0)
  })

  test("a table is dropped at the principal's expiry and never answers after it", async () => {
    const { authz, evaluations } = await counted({ bundle: library })
    const expiresAt = Math.floor(Date.now() / 1000) + 2
    const p = frozen({ ...alice, expiresAt })
    authz.decide(p, call('notes_read'))
    authz.decide(p, call('notes_read'))
    const before = evaluations()
    assert.equal(before, 1)
    // Wait (bounded) until the principal has expired, then ask again.
    const deadline = Date.now() + 10_000
    while (Date.now() < expiresAt * 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    authz.decide(p, call('notes_read'))
    authz.decide(p, call('notes_read'))
    assert.equal(evaluations(), before + 2, 'after expiry, every call is evaluated')
  })
})

describe('tables are bounded in bytes', () => {
  const now = Date.now()
  const allow = { allow: true, reasons: [], required_scopes: [] }
  const deny = () => ({ allow: false, reasons: [{ code: 'tool_not_allowed', message: 'tool is not allowed by any rule' }], required_scopes: [] })

  test('one principal with 10 000 tools stays within maxPrincipalBytes; what does not fit is not kept', () => {
    const tables = new DecisionTables({ maxPrincipalBytes: 64 * 1024 })
    const p = frozen(alice)
    for (let i = 0; i < 10_000; i++) tables.keepDecision(p, { method: 'tools/call', kind: 'tool', name: `tool_${i}` }, i % 2 === 0 ? { ...allow } : deny(), now)
    const stats = tables.stats()
    assert.ok(stats.bytes <= 64 * 1024, `${stats.bytes} bytes`)
    assert.ok(tables.decision(p, { method: 'tools/call', kind: 'tool', name: 'tool_0' }, now)?.allow)
    assert.equal(tables.decision(p, { method: 'tools/call', kind: 'tool', name: 'tool_9999' }, now), undefined)
  })

  test('all tables together stay within maxBytes: the oldest principal goes first', () => {
    const tables = new DecisionTables({ maxBytes: 16 * 1024, maxPrincipalBytes: 4 * 1024 })
    const principals = Array.from({ length: 50 }, (_, i) => frozen({ ...alice, subject: `user-${i}` }))
    for (const p of principals) for (let i = 0; i < 5; i++) tables.keepDecision(p, { method: 'tools/call', kind: 'tool', name: `t${i}` }, deny(), now)
    const stats = tables.stats()
    assert.ok(stats.bytes <= 16 * 1024, `${stats.bytes} bytes`)
    assert.ok(stats.principals < 50 && stats.principals >= 16 * 1024 / (4 * 1024))
    assert.equal(tables.decision(principals[0] as Principal, { method: 'tools/call', kind: 'tool', name: 't0' }, now), undefined, 'the oldest table was dropped')
    assert.ok(tables.decision(principals[49] as Principal, { method: 'tools/call', kind: 'tool', name: 't0' }, now))
    assert.ok(TABLE_OVERHEAD_BYTES > 0)
  })

  test("a table counts the principal it holds alive: a principal larger than maxPrincipalBytes gets none", () => {
    const tables = new DecisionTables({ maxBytes: 64 * 1024, maxPrincipalBytes: 16 * 1024 })
    const big = frozen({ ...alice, claims: { blob: 'x'.repeat(8 * 1024) } })
    tables.keepDecision(big, { method: 'tools/call', kind: 'tool', name: 'a' }, deny(), now)
    assert.equal(tables.decision(big, { method: 'tools/call', kind: 'tool', name: 'a' }, now), undefined)
    assert.deepEqual([tables.stats().principals, tables.stats().bytes], [0, 0])
    const small = frozen({ ...alice, claims: { blob: 'x'.repeat(1024) } })
    tables.keepDecision(small, { method: 'tools/call', kind: 'tool', name: 'a' }, deny(), now)
    assert.ok(tables.stats().bytes > 2 * 1024, `the principal's ${tables.stats().bytes} bytes are counted`)
  })

  test('expired tables are swept when another principal gets a table, even if never asked again', () => {
    const tables = new DecisionTables()
    const soon = frozen({ ...alice, subject: 'soon', expiresAt: Math.floor(now / 1000) + 1 })
    tables.keepDecision(soon, { method: 'tools/call', kind: 'tool', name: 'a' }, deny(), now)
    assert.equal(tables.stats().principals, 1)
    const later = now + 5000
    tables.keepDecision(frozen({ ...alice, subject: 'other' }), { method: 'tools/call', kind: 'tool', name: 'a' }, deny(), later)
    assert.equal(tables.stats().principals, 1, 'the expired table is gone')
    assert.equal(tables.decision(soon, { method: 'tools/call', kind: 'tool', name: 'a' }, now), undefined)
  })

  test('policy errors are never kept; actions that differ in any part never meet', () => {
    const tables = new DecisionTables()
    const p = frozen(alice)
    tables.keepDecision(p, { method: 'tools/call', kind: 'tool', name: 'x' }, { allow: false, reasons: [{ code: 'policy_error', message: 'boom' }], required_scopes: [] }, now)
    assert.equal(tables.decision(p, { method: 'tools/call', kind: 'tool', name: 'x' }, now), undefined)
    tables.keepDecision(p, { method: 'tools/call', kind: 'tool', name: 'a' }, deny(), now)
    for (const other of [
      { method: 'tools/call', kind: 'notification', name: 'a' },
      { method: 'tools/call', kind: 'tool', name: 'a', annotations: { readOnlyHint: true } },
      { method: 'tools/call', kind: 'tool', uri: 'a' },
      { method: 'tools/call', kind: 'tool', name: 'a', uri: 'b' },
      { method: 'tools/call', kind: 'tool', name: 'a\u0000' },
      { method: 'tools/call', kind: 'tool' },
    ]) assert.equal(tables.decision(p, other, now), undefined, JSON.stringify(other))
    assert.ok(tables.decision(p, { method: 'tools/call', kind: 'tool', name: 'a' }, now))
    tables.keepVisibility(p, itemPath('tool', 'a', undefined), true, now)
    assert.equal(tables.visibility(p, itemPath('prompt', 'a', undefined), now), undefined)
    assert.equal(tables.visibility(p, itemPath('tool', 'a', undefined), now), true)
  })

  test('a kept decision is frozen and cannot be altered through a result', async () => {
    const authz = await createAuthz({ bundle: await readFile(await buildTestBundle(testData, { revision: 'table-plain' })) })
    const p = frozen({ ...alice, scopes: [] })
    authz.decide(p, call('notes_read'))
    const r = authz.decide(p, call('notes_read'))
    assert.throws(() => (r.requiredScopes as string[]).push('x'))
    assert.deepEqual(authz.decide(p, call('notes_read')).requiredScopes, ['notes:read'])
  })
})
