/**
 * What a policy author writes is what runs: a custom rule always sees every input field it reads —
 * tool arguments of a tool without argument conditions, `_meta`, claims, context — in the embedded
 * engine, the CLI's `eval` and the decision endpoint alike; and the fields the engine leaves out
 * are only those the bundle proves no rule reads (a property over random inputs).
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { createAuthz, type Authz, type AuthzIncident } from '../../src/authz.ts'
import { classifyMessage } from '../../src/action/classify.ts'
import type { Principal } from '../../src/contracts/principal.ts'
import { inputPlan, policyInput } from '../../src/authz/input.ts'
import { PolicyEngine } from '../../src/policy/engine.ts'
import { buildServer } from '../../src/server/app.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'

const run = promisify(execFile)
const CUSTOM = fileURLToPath(new URL('./fixtures/home-paths', import.meta.url))
const CLI = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
const TRAP = fileURLToPath(new URL('../hardening/fixtures/trap', import.meta.url))

const data = {
  mcp_authz: {
    ...testData.mcp_authz,
    // No `arguments` block anywhere here: only the custom rules read these tools' inputs.
    tools: { ...testData.mcp_authz.tools, fs_read: { scopes: ['notes:read'] }, fs_write: { scopes: ['notes:read'] }, fs_admin: { scopes: ['notes:read'] } },
  },
}
const alice: Principal = { ...testPrincipal, claims: { department: 'ops' } }
const call = (name: string, params: Record<string, unknown> = {}) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, ...params } })
const codes = (r: { reasons: Array<{ code: string }> }) => r.reasons.map((x) => x.code)

describe('custom rules see every field they read', () => {
  let bundle: string
  let authz: Authz
  before(async () => {
    bundle = await buildTestBundle(data, { include: [CUSTOM], revision: 'custom-input' })
    authz = await createAuthz({ bundle })
  })

  test('embedded: a custom argument rule on a tool without argument conditions is enforced', () => {
    const denied = authz.decide(alice, call('fs_read', { arguments: { path: '/etc/shadow' } }))
    assert.equal(denied.allow, false)
    assert.deepEqual(codes(denied), ['path_outside_home'])
    assert.deepEqual(denied.input?.action.arguments, { path: '/etc/shadow' }, 'the input shown is the input evaluated')
    assert.equal(authz.decide(alice, call('fs_read', { arguments: { path: '/home/alice/notes.txt' } })).allow, true)
    assert.equal(authz.decide({ ...alice, subject: 'bob' }, call('fs_read', { arguments: { path: '/home/alice/notes.txt' } })).allow, false)
    assert.equal(authz.decide(alice, call('fs_read')).allow, false, 'no arguments at all: still refused')
  })

  test('the bundle says what its rules read: a library-only bundle leaves out what no rule reads', async () => {
    assert.deepEqual(authz.bundle.analysis?.inputRefs.some((r) => r[0] === 'action' && r[1] === 'arguments'), true, 'the custom rules read arguments')
    const libraryOnly = await createAuthz({ bundle: await buildTestBundle(data, { revision: 'library-only' }) })
    assert.deepEqual(libraryOnly.bundle.analysis?.inputRefs, [])
    const r = libraryOnly.decide(alice, call('fs_read', { arguments: { path: '/etc/shadow' }, _meta: { big: 'x' } }))
    assert.equal(r.input?.action.arguments, undefined, 'no rule reads fs_read arguments: left out')
    assert.equal(r.input?.action.meta, undefined, 'no rule reads _meta: left out')
    const ruled = libraryOnly.decide(alice, call('notes_write', { arguments: { title: 'x' } }))
    assert.deepEqual(ruled.input?.action.arguments, { title: 'x' }, 'the library reads arguments of items with conditions')
    const custom = authz.decide(alice, call('fs_read', { arguments: { path: '/etc/shadow' }, _meta: { big: 'x' } }))
    assert.deepEqual(custom.input?.action.meta, { big: 'x' })
  })

  test('embedded: _meta, claims and context reach custom rules', () => {
    assert.deepEqual(codes(authz.decide(alice, call('fs_write'))), ['meta_dry_run_only'])
    assert.equal(authz.decide(alice, call('fs_write', { _meta: { dryRun: true } })).allow, true)
    assert.equal(authz.decide(alice, call('fs_admin')).allow, true)
    assert.deepEqual(codes(authz.decide({ ...alice, claims: {} }, call('fs_admin'))), ['department_required'])
    assert.deepEqual(codes(authz.decide(alice, call('fs_admin'), { transport: 'stdio' })), ['http_only'])
  })

  test('eval (the CLI) decides the same, and prints the arguments it evaluated', async () => {
    const args = ['eval', '--bundle', bundle, '--principal', JSON.stringify(alice), '--message', JSON.stringify(call('fs_read', { arguments: { path: '/etc/shadow' } }))]
    const { stdout } = await run(process.execPath, [CLI, ...args], { timeout: 60_000 })
    const out = JSON.parse(stdout) as { allow: boolean; reasons: Array<{ code: string }> }
    assert.equal(out.allow, false)
    assert.deepEqual(codes(out), ['path_outside_home'])
    assert.match(stdout, /\/etc\/shadow/)
  })

  test('the decision endpoint decides the same', async () => {
    const verifier = { verify: async () => alice }
    const served = await createAuthz({ bundle, verifier })
    const app = buildServer({ authz: served, verifier })
    try {
      const decideBody = (path: string) => ({ token: 'opaque-token', message: call('fs_read', { arguments: { path } }) })
      const denied = await app.inject({ method: 'POST', url: '/v1/decide', payload: decideBody('/etc/shadow') })
      assert.equal(denied.json().allow, false)
      assert.deepEqual(codes(denied.json()), ['path_outside_home'])
      const allowed = await app.inject({ method: 'POST', url: '/v1/decide', payload: decideBody('/home/alice/a.txt') })
      assert.equal(allowed.json().allow, true)
    } finally {
      await app.close()
    }
  })
})

describe('the input plan', () => {
  const bundle = { config: testData.mcp_authz as never }
  test('a bundle without analysis gets the whole input', () => {
    const plan = inputPlan(bundle, undefined)
    assert.equal(plan.arguments, 'all')
    assert.equal(plan.meta, true)
    assert.equal(plan.deterministic, false)
  })
  test('the library alone: arguments only for ruled items, no _meta, deterministic', () => {
    const plan = inputPlan(bundle, { inputRefs: [], nondeterministic: false })
    assert.equal(plan.arguments, 'ruled')
    assert.deepEqual([...plan.ruled.tools], ['notes_write'])
    assert.deepEqual([...plan.ruled.prompts], ['summarize'])
    assert.equal(plan.meta, false)
    assert.equal(plan.deterministic, true)
  })
  test('each referenced path brings its field, a prefix or the whole input brings everything under it', () => {
    const plan = (refs: string[][], nondeterministic = false) => inputPlan(bundle, { inputRefs: refs, nondeterministic })
    assert.equal(plan([['action', 'arguments', 'path']]).arguments, 'all')
    assert.equal(plan([['action']]).arguments, 'all')
    assert.equal(plan([['action']]).meta, true)
    assert.equal(plan([[]]).arguments, 'all')
    assert.equal(plan([[]]).meta, true)
    assert.equal(plan([[]]).deterministic, false)
    assert.equal(plan([['action', 'meta', 'x']]).meta, true)
    assert.equal(plan([['action', 'meta', 'x']]).arguments, 'ruled')
    assert.equal(plan([['principal', 'claims']]).arguments, 'ruled')
    assert.equal(plan([['principal', 'claims']]).meta, false)
    assert.equal(plan([['context', 'time_ns']]).deterministic, false)
    assert.equal(plan([['context', 'request_id']]).deterministic, false)
    assert.equal(plan([['context', 'transport']]).deterministic, true)
    assert.equal(plan([['action', 'id']]).deterministic, false)
    assert.equal(plan([], true).deterministic, false)
  })
})

describe('property: leaving out what the library never reads never changes a decision', () => {
  const seed = Number(process.env.FUZZ_SEED ?? 20261201)
  const numRuns = Number(process.env.FUZZ_RUNS ?? 300)
  let engine: PolicyEngine
  before(async () => {
    engine = new PolicyEngine()
    await engine.load(await readFile(await buildTestBundle(testData, { revision: 'plan-property' })))
  })

  test(`library-only plan vs whole input (${numRuns} runs, seed ${seed})`, () => {
    const plan = inputPlan(engine.active as never, { inputRefs: [], nondeterministic: false })
    const whole = inputPlan(engine.active as never, undefined)
    const value = fc.oneof(fc.string(), fc.integer({ min: -5, max: 500 }), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.constantFrom('/notes/a', 'personal', 'work', 'short', 'long', 'x'.repeat(11)))
    const args = fc.dictionary(fc.constantFrom('title', 'folder', 'path', 'limit', 'sudo', 'style', 'other'), value, { maxKeys: 5 })
    const message = fc.oneof(
      fc.record({ name: fc.constantFrom('notes_read', 'notes_write', 'notes_delete', 'partner_sync', 'unlisted', 'disabled'), arguments: args, _meta: fc.option(fc.dictionary(fc.string(), value), { nil: undefined }) }).map((p) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: p })),
      fc.record({ name: fc.constantFrom('summarize', 'other'), arguments: args }).map((p) => ({ jsonrpc: '2.0', id: 2, method: 'prompts/get', params: p })),
      fc.constantFrom('notes://a', 'notes://private/x', 'other://y').map((uri) => ({ jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri, _meta: { big: 'x' } } })),
    )
    const principal = fc.record({
      subject: fc.constantFrom('alice', 'bob'),
      issuer: fc.constantFrom('https://as.example.com', 'https://other.example.com'),
      tenant: fc.option(fc.constantFrom('acme', 'globex'), { nil: undefined }),
      clientId: fc.option(fc.constantFrom('notes-app', 'partner-app'), { nil: undefined }),
      scopes: fc.subarray(['notes:read', 'notes:write', 'notes:private', 'tasks:read']),
      roles: fc.subarray(['admin', 'user']),
    })
    fc.assert(
      fc.property(principal, message, fc.constantFrom(undefined, { readOnlyHint: true }), (p, m, annotations) => {
        const { roles, tenant, clientId, ...rest } = p
        const who: Principal = { ...rest, ...(tenant ? { tenant } : {}), ...(clientId ? { clientId } : {}), audience: [testData.mcp_authz.resource], authMethod: 'jwt', tokenId: 't', claims: { roles } }
        const c = classifyMessage(m)
        assert.ok(c.ok)
        const ctx = { server: { resource: testData.mcp_authz.resource }, transport: 'http', ...(annotations ? { annotations } : {}) }
        const slim = engine.evaluate(policyInput(plan, who, c.action, ctx))
        const full = engine.evaluate(policyInput(whole, who, c.action, ctx))
        assert.deepEqual(slim, full)
      }),
      { seed, numRuns },
    )
  })
})

describe('policy errors are reported, not only denied', () => {
  test('onError gets the runtime message and the decision id; the record carries the error', async () => {
    const incidents: AuthzIncident[] = []
    const events: Array<{ decisionId: string; error?: { code: string; message: string } }> = []
    const trapData = { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, trap_conflict: { scopes: ['notes:read'] } } } }
    const authz = await createAuthz({
      bundle: await buildTestBundle(trapData, { include: [TRAP], revision: 'trap-report' }),
      onError: (i) => incidents.push(i),
      onDecision: (e) => events.push(e),
    })
    const r = authz.decide(testPrincipal, call('trap_conflict'))
    assert.deepEqual(codes(r), ['policy_error'])
    assert.equal(incidents.length, 1)
    assert.equal(incidents[0]?.decisionId, r.decisionId)
    assert.equal(incidents[0]?.code, 'ERR_POLICY_EVAL')
    assert.equal(events.at(-1)?.error?.code, 'ERR_POLICY_EVAL')
    assert.equal(authz.decide(testPrincipal, call('notes_read')).allow, true)
    assert.equal(incidents.length, 1, 'a healthy decision reports nothing')
  })
})
