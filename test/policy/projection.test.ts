/**
 * The engine sends the policy only the input fields its compiled rules can read
 * (src/policy/projection.ts). What it leaves out must never change a decision: a property over
 * random policy data and random whole inputs (every contract field varied, plus ids, time, context,
 * `_meta` and claims no rule reads) evaluates each input whole and projected on the same compiled
 * library; custom rules reading those fields get them (a bundle's analysis); and the library's own
 * reads, written down in `LIBRARY_READS`, are checked against its Rego source.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { LIBRARY_DIR } from '../../src/policy/build.ts'
import { PolicyEngine } from '../../src/policy/engine.ts'
import { libraryBundle } from '../../src/policy/library.ts'
import { inputProjection, LIBRARY_READS, projectedText } from '../../src/policy/projection.ts'
import { loadWasmPolicy, type WasmPolicy } from '../../src/policy/wasm.ts'
import { RUNTIME_BUILTINS } from '../../src/policy/builtins/index.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { policyData, policyInput } from '../helpers/policy-arbitraries.ts'

const seed = Number(process.env.FUZZ_SEED ?? 20261202)
const numRuns = Number(process.env.FUZZ_RUNS ?? 200)
const HOME_PATHS = fileURLToPath(new URL('../authz/fixtures/home-paths', import.meta.url))

describe('the input projection', () => {
  test('a bundle without analysis, or with a rule reading the whole input, is sent the whole input', () => {
    assert.equal(inputProjection(testData.mcp_authz, undefined).whole, true)
    assert.equal(inputProjection(testData.mcp_authz, { inputRefs: [[]] }).whole, true)
    const input = { principal: { ...testPrincipal, tokenId: 'x' }, action: { method: 'ping', kind: 'session' }, context: { time_ns: 1, transport: 'http' } }
    assert.equal(projectedText(inputProjection(testData.mcp_authz, undefined), input), JSON.stringify(input))
  })

  test('the library alone: what it reads, arguments only of items with conditions, the roles claim only', () => {
    const p = inputProjection({ ...testData.mcp_authz, defaults: { roles_claim: 'groups' } }, { inputRefs: [] })
    const input = {
      principal: { ...testPrincipal, expiresAt: 5, issuedAt: 4, claims: { groups: ['ops'], email: 'a@b' } },
      action: { method: 'tools/call', kind: 'tool', name: 'notes_read', id: 7, arguments: { q: 1 }, meta: { m: 1 }, annotations: { readOnlyHint: true } },
      server: { resource: testData.mcp_authz.resource },
      context: { time_ns: 1, transport: 'http', request_id: 'r' },
    }
    const sent = JSON.parse(projectedText(p, input)) as Record<string, Record<string, unknown>>
    assert.deepEqual(Object.keys(sent).sort(), ['action', 'principal'])
    assert.deepEqual(sent.principal, { subject: 'alice', issuer: testPrincipal.issuer, scopes: ['notes:read'], authMethod: 'jwt', tenant: 'acme', audience: testPrincipal.audience, clientId: 'notes-app', claims: { groups: ['ops'] } })
    assert.deepEqual(sent.action, { method: 'tools/call', kind: 'tool', name: 'notes_read', annotations: { readOnlyHint: true } })
    const ruled = JSON.parse(projectedText(p, { ...input, action: { ...input.action, name: 'notes_write' } })) as { action: Record<string, unknown> }
    assert.deepEqual(ruled.action.arguments, { q: 1 }, 'notes_write has argument conditions: its arguments are sent')
  })

  test('what custom rules read is sent: claims, _meta, ids, context, server, arguments of every tool', () => {
    const p = inputProjection(testData.mcp_authz, {
      inputRefs: [['principal', 'claims', 'department'], ['principal', 'tokenId'], ['action', 'meta', 'dryRun'], ['action', 'id'], ['action', 'arguments', 'path'], ['context', 'transport'], ['server']],
    })
    const input = {
      principal: { ...testPrincipal, claims: { department: 'ops', email: 'x' } },
      action: { method: 'tools/call', kind: 'tool', name: 'fs_read', id: 3, arguments: { path: '/x' }, meta: { dryRun: true } },
      server: { resource: 'r' },
      context: { time_ns: 1, transport: 'stdio' },
    }
    const sent = JSON.parse(projectedText(p, input)) as Record<string, Record<string, unknown>>
    assert.deepEqual(sent.principal?.claims, { department: 'ops' })
    assert.equal(sent.principal?.tokenId, testPrincipal.tokenId)
    assert.deepEqual(sent.action, input.action)
    assert.deepEqual(sent.context, input.context, 'a rule reading context.transport gets the whole context block')
    assert.deepEqual(sent.server, input.server)
  })

  test('a JSON key named __proto__ is sent as a key, never as a prototype', () => {
    const p = inputProjection({ ...testData.mcp_authz, defaults: { roles_claim: '__proto__' } }, { inputRefs: [] })
    const input = JSON.parse('{"principal":{"subject":"a","issuer":"i","scopes":[],"authMethod":"jwt","claims":{"__proto__":["admin"]}},"action":{"method":"ping","kind":"session"}}') as object
    assert.deepEqual(JSON.parse(projectedText(p, input)).principal.claims, JSON.parse('{"__proto__":["admin"]}'))
  })

  test("the library's reads, as its Rego source names them, are all in LIBRARY_READS", async () => {
    // A tripwire beside the property below: the library's functions take the principal as `p` and
    // the action as `a`; any field they, or `input.…`, name must be sent.
    const files = (await readdir(join(LIBRARY_DIR, 'mcp/authz'))).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego'))
    assert.ok(files.length >= 8)
    const principal = new Set<string>()
    const action = new Set<string>()
    const top = new Set<string>()
    for (const f of files) {
      const source = (await readFile(join(LIBRARY_DIR, 'mcp/authz', f), 'utf8')).replace(/#.*$/gm, '')
      for (const [, field] of source.matchAll(/input\.principal\.(\w+)/g)) principal.add(field as string)
      for (const [, field] of source.matchAll(/input\.action\.(\w+)/g)) action.add(field as string)
      for (const [, field] of source.matchAll(/\binput\.(\w+)/g)) top.add(field as string)
      for (const [, field] of source.matchAll(/[^\w.]p\.(\w+)/g)) principal.add(field as string)
      for (const [, field] of source.matchAll(/[^\w.]a\.(\w+)/g)) action.add(field as string)
      for (const [, field] of source.matchAll(/object\.get\(p, "(\w+)"/g)) principal.add(field as string)
      for (const [, field] of source.matchAll(/object\.get\(p, \["(\w+)"/g)) principal.add(field as string)
      for (const [, field] of source.matchAll(/object\.get\((?:a|input\.action), "(\w+)"/g)) action.add(field as string)
      // Function heads taking the principal or the action under another name would escape the patterns above.
      for (const [, args] of source.matchAll(/^_\w+\(([^)]*)\)/gm)) for (const arg of (args as string).split(',').map((s) => s.trim())) assert.ok(!/^(principal|action|pr|act)$/.test(arg), `${f}: parameter ${arg}`)
    }
    assert.ok(principal.size >= 6 && action.size >= 4, 'the patterns still find the library reads')
    for (const f of principal) assert.ok([...LIBRARY_READS.principal, 'claims'].includes(f as never), `principal.${f} is read by the library but not sent`)
    for (const f of action) assert.ok([...LIBRARY_READS.action, 'arguments'].includes(f as never), `action.${f} is read by the library but not sent`)
    for (const f of top) assert.ok((LIBRARY_READS.top as readonly string[]).includes(f), `input.${f} is read by the library but not sent`)
  })
})

describe('property: the projected input decides as the whole input', () => {
  let library: WasmPolicy
  before(async () => {
    library = await loadWasmPolicy((await libraryBundle()).wasm, { initialPages: 16, maximumPages: 1024, builtins: RUNTIME_BUILTINS })
  })

  test(`random data × random inputs, the shipped library (${numRuns} runs, seed ${seed})`, () => {
    let allowed = 0
    let denied = 0
    fc.assert(
      fc.property(policyData, fc.array(policyInput, { minLength: 1, maxLength: 8 }), (data, inputs) => {
        library.setData(data)
        const p = inputProjection(data.mcp_authz, { inputRefs: [] })
        for (const input of inputs) {
          for (const entrypoint of ['mcp/authz/decision', 'mcp/authz/visible'] as const) {
            const asked = entrypoint === 'mcp/authz/decision' ? input : { principal: input.principal, kind: input.action.kind, items: [input.action, { name: 'notes_read' }, { uri: 'notes://a' }], server: input.server, context: input.context }
            const whole = library.evaluate(JSON.stringify(asked), entrypoint)
            assert.deepEqual(library.evaluate(projectedText(p, asked), entrypoint), whole, `${entrypoint}: ${JSON.stringify(asked)}`)
            if (entrypoint === 'mcp/authz/decision') ((whole as Array<{ result: { allow: boolean } }>)[0]?.result.allow ? allowed++ : denied++)
          }
        }
      }),
      { seed, numRuns },
    )
    assert.ok(allowed > numRuns / 10 && denied > numRuns / 10, `both outcomes are exercised (${allowed} allowed, ${denied} denied)`)
  })

  test(`custom rules reading arguments, _meta, claims and context, through the engine (${numRuns} runs)`, async () => {
    const data = { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, fs_read: { scopes: ['notes:read'] }, fs_write: {}, fs_admin: {} } } }
    const engine = new PolicyEngine()
    await engine.load(await readFile(await buildTestBundle(data, { include: [HOME_PATHS], revision: 'projection-custom' })))
    assert.equal(engine.active?.projection.whole, false)
    const custom = policyInput.map((input) => ({ ...input, action: { ...input.action, ...(input.action.kind === 'tool' ? { name: ['fs_read', 'fs_write', 'fs_admin', 'notes_read'][input.context.time_ns % 4] } : {}) } }))
    fc.assert(
      fc.property(custom, (input) => {
        // A string is evaluated as given: the whole input.
        assert.deepEqual(engine.evaluate(input), engine.evaluate(JSON.stringify(input)))
      }),
      { seed, numRuns },
    )
  })
})
