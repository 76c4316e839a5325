/**
 * Policies that fail inside WASM: a bundle whose custom rules trap for some calls (a complete rule
 * with conflicting values — `rego_conflict_error`, a function with two outputs for one input, an
 * allocation beyond `maximumMemoryPages`), and inputs that exhaust the WASM memory (a huge list
 * for `visible`, a huge raw input for `evaluate`). Every failure is a deny with `policy_error`
 * (fail closed, logged once), and the very next call on the same engine is decided normally.
 *
 * Runaway evaluation: WASM evaluation is synchronous and cannot be pre-empted, so mcp-authz bounds
 * what reaches the policy (message limits, WASM memory) instead of timing evaluations out; see
 * docs/security.md. The bounded-work case below shows a heavy-but-bounded rule completing.
 */
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { createAuthz, type Authz, type DecisionEvent } from '../../src/authz.ts'
import { mcpAuthzHandler } from '../../src/mcp/index.ts'
import type { Principal } from '../../src/verify/index.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { summaryAtExit } from './helpers.ts'

const TRAP_REGO = fileURLToPath(new URL('./fixtures/trap', import.meta.url))
const alice: Principal = testPrincipal
const read = (name: string) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } })
const trapData = {
  mcp_authz: {
    ...testData.mcp_authz,
    tools: { ...testData.mcp_authz.tools, trap_conflict: { scopes: ['notes:read'] }, trap_function: { scopes: ['notes:read'] }, trap_memory: { scopes: ['notes:read'] }, busy: { scopes: ['notes:read'] } },
  },
}

let authz: Authz
const events: DecisionEvent[] = []
let faults = 0

function assertPolicyError(result: { allow: boolean; reasons: Array<{ code: string }>; decisionId?: string }, what: string): void {
  assert.equal(result.allow, false, `${what} allowed`)
  assert.deepEqual(
    result.reasons.map((r) => r.code),
    ['policy_error'],
    `${what}: ${JSON.stringify(result.reasons)}`,
  )
}

function assertHealthy(what: string): void {
  const r = authz.decide(alice, read('notes_read'))
  assert.equal(r.allow, true, `the engine no longer decides after ${what}: ${JSON.stringify(r.reasons)}`)
  const w = authz.decide(alice, read('notes_write'))
  assert.equal(w.allow, false)
  assert.deepEqual(w.requiredScopes, ['notes:write'], `after ${what}`)
}

before(async () => {
  authz = await createAuthz({
    bundle: await buildTestBundle(trapData, { include: [TRAP_REGO], revision: 'trap' }),
    engine: { maximumMemoryPages: 256 }, // 16 MiB: the memory trap fails fast
    onDecision: (e) => events.push(e),
  })
})
summaryAtExit('policy-faults', () => ({ 'trap and memory faults': faults }))

describe('a policy that traps inside WASM denies with policy_error; the engine keeps working', () => {
  for (const [tool, what] of [
    ['trap_conflict', 'complete rule with conflicting values (rego_conflict_error)'],
    ['trap_function', 'function with two outputs for one input'],
    ['trap_memory', 'allocation beyond maximumMemoryPages (opa_malloc fails)'],
  ] as const) {
    it(`${what}`, () => {
      assertHealthy('warm-up')
      for (let i = 0; i < 3; i++) {
        const before = events.length
        const r = authz.decide(alice, read(tool))
        assertPolicyError(r, tool)
        assert.equal(r.status, 200, 'answered with a JSON-RPC error, not an HTTP error')
        assert.equal(r.jsonRpcError?.code, -32003)
        assert.equal(events.length, before + 1, 'logged exactly once')
        assert.equal(events.at(-1)?.result.reasons[0]?.code, 'policy_error')
        assertHealthy(tool)
      }
      faults++
    })
  }

  it('traps interleaved with normal calls, many times: every normal call is still decided correctly', () => {
    for (let i = 0; i < 200; i++) {
      const tool = ['trap_conflict', 'trap_function', 'notes_read', 'notes_write'][i % 4] as string
      const r = authz.decide(alice, read(tool))
      if (tool === 'notes_read') assert.equal(r.allow, true)
      else if (tool === 'notes_write') assert.deepEqual(r.requiredScopes, ['notes:write'])
      else assertPolicyError(r, tool)
    }
    faults++
  })

  it('heavy but bounded work completes and is decided by the rule', () => {
    const r = authz.decide(alice, read('busy'))
    assert.deepEqual(
      r.reasons.map((x) => x.code),
      ['busy'],
    )
    assertHealthy('busy')
  })

  it('the OPA-compatible evaluate() path fails closed the same way', () => {
    const input = { principal: alice, action: { method: 'tools/call', kind: 'tool', name: 'trap_conflict' }, server: { resource: authz.resource }, context: { time_ns: 0, transport: 'http' } }
    assertPolicyError(authz.evaluate(input as never), 'evaluate(trap_conflict)')
    // The huge part is one the policy reads (the subject): a field no rule reads is not sent to WASM at all (src/policy/projection.ts).
    const huge = { ...input, action: { ...input.action, name: 'notes_read' }, principal: { ...alice, subject: 'z'.repeat(20 * 1024 * 1024) } }
    assertPolicyError(authz.evaluate(huge as never), 'evaluate(input beyond WASM memory)')
    assert.equal(authz.evaluate({ ...input, action: { ...input.action, name: 'notes_read' } } as never).allow, true)
    faults += 2
  })

  it('visible() with a list beyond the WASM memory shows nothing (fail closed), then works again', () => {
    const items = Array.from({ length: 200_000 }, (_, i) => ({ name: `tool_${i}_${'n'.repeat(80)}`, annotations: { title: 't'.repeat(20) } }))
    items.push({ name: 'notes_read', annotations: { title: 'x' } })
    assert.deepEqual(authz.visible(alice, 'tool', items), [])
    const small = [{ name: 'notes_read' }, { name: 'notes_write' }, { name: 'disabled' }]
    assert.deepEqual(
      authz.visible(alice, 'tool', small).map((i) => i.name),
      ['notes_read'],
    )
    // A large list within the memory bound (about 1000 items per 16 MiB; ~14k with the default 64 MiB) is filtered in one evaluation.
    const many = Array.from({ length: 1_000 }, (_, i) => ({ name: i % 10 === 0 ? 'notes_read' : `other_${i}` }))
    assert.equal(authz.visible(alice, 'tool', many).length, 100)
    assertHealthy('visible beyond memory')
    faults++
  })
})

describe('through the HTTP enforcement: a trapping policy is a JSON-RPC Forbidden, the next request is served', () => {
  let server: Server
  let url: string
  before(async () => {
    const verifier = { verify: async () => alice }
    const httpAuthz = await createAuthz({ bundle: await buildTestBundle(trapData, { include: [TRAP_REGO], revision: 'trap' }), engine: { maximumMemoryPages: 256 }, verifier })
    server = createServer(mcpAuthzHandler({ authz: httpAuthz, handle: (_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":1,"result":{}}') }))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
  })

  it('trap → 200 with error -32003 and a decision id; the next call → 200 result', async () => {
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(5000) })
    for (const tool of ['trap_conflict', 'trap_memory', 'trap_function']) {
      const denied = await post(read(tool))
      assert.equal(denied.status, 200)
      const body = (await denied.json()) as { error?: { code: number; data?: { decision_id?: string } } }
      assert.equal(body.error?.code, -32003)
      assert.equal(body.error?.data?.decision_id, denied.headers.get('mcp-authz-decision-id'))
      const ok = await post(read('notes_read'))
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { jsonrpc: '2.0', id: 1, result: {} })
    }
    faults++
  })
})
