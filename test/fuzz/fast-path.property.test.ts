/**
 * The decision's fast path (allow without building reasons) and the deny rules are two views of
 * the same checks. This property evaluates both, through the compiled WASM, on arbitrary inputs:
 * a decision allows exactly when the deny set is empty.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm'
import { readBundle } from '../../src/policy/bundle.ts'
import { LIBRARY_DIR } from '../../src/policy/build.ts'
import { testData } from '../helpers/bundle.ts'
import { tempDir } from '../helpers/temp.ts'

const run = promisify(execFile)
const seed = Number(process.env.FUZZ_SEED ?? 20261123)
const numRuns = Number(process.env.FUZZ_RUNS ?? 1000)

describe('property: the fast path agrees with the deny rules', () => {
  let policy: LoadedPolicy
  before(async () => {
    const dir = await tempDir('mcp-authz-fast-')
    await writeFile(join(dir, 'data.json'), JSON.stringify(testData))
    const out = join(dir, 'b.tar.gz')
    await run(process.env.MCP_AUTHZ_OPA ?? 'opa', ['build', '-t', 'wasm', '-e', 'mcp/authz/decision', '-e', 'mcp/authz/deny', '-e', 'mcp/authz/visible', '--ignore', '*_test.rego', '-o', out, LIBRARY_DIR, dir])
    const bundle = await readBundle(await readFile(out))
    policy = await loadPolicy(bundle.wasm)
    policy.setData(bundle.data)
  })

  test(`allow ⇔ no deny reason (${numRuns} runs, seed ${seed})`, () => {
    const principal = fc.record({
      subject: fc.constantFrom('alice', 'bob'),
      clientId: fc.option(fc.constantFrom('notes-app', 'partner-app'), { nil: undefined }),
      issuer: fc.constantFrom('https://as.example.com', 'https://other.example.com', 'https://evil.example.com'),
      tenant: fc.option(fc.constantFrom('acme', 'globex'), { nil: undefined }),
      audience: fc.subarray(['https://mcp.example.com/mcp', 'https://x.example.com']),
      scopes: fc.subarray(['notes:read', 'notes:write', 'notes:private', 'tasks:read']),
      authMethod: fc.constantFrom('jwt', 'introspection', 'api_key', 'static'),
      tokenId: fc.constant('t'),
      claims: fc.record({ roles: fc.option(fc.oneof(fc.subarray(['admin', 'editor']), fc.constantFrom('admin', 'viewer')), { nil: undefined }) }, { requiredKeys: [] }),
    })
    const action = fc.oneof(
      fc.record({
        method: fc.constant('tools/call'),
        kind: fc.constant('tool'),
        name: fc.constantFrom('notes_read', 'notes_write', 'notes_delete', 'partner_sync', 'disabled', 'other'),
        arguments: fc.record({ title: fc.string({ maxLength: 12 }), folder: fc.constantFrom('work', 'x'), path: fc.constantFrom('/notes/a', '/etc'), limit: fc.integer({ min: -5, max: 200 }), sudo: fc.boolean() }, { requiredKeys: [] }),
        annotations: fc.record({ readOnlyHint: fc.boolean() }, { requiredKeys: [] }),
      }, { requiredKeys: ['method', 'kind', 'name'] }),
      fc.record({ method: fc.constantFrom('resources/read', 'resources/subscribe'), kind: fc.constant('resource'), uri: fc.constantFrom('notes://a', 'notes://private/b', 'file:///x') }),
      fc.record({ method: fc.constant('prompts/get'), kind: fc.constant('prompt'), name: fc.constantFrom('summarize', 'other'), arguments: fc.record({ style: fc.constantFrom('short', 'poem') }, { requiredKeys: [] }) }),
      fc.record({ method: fc.constantFrom('initialize', 'ping', 'tools/list', 'tasks/get', 'admin/x'), kind: fc.constantFrom('session', 'list', 'other') }),
    )
    let allowed = 0
    fc.assert(
      fc.property(principal, action, (p, a) => {
        const input = { principal: JSON.parse(JSON.stringify(p)), action: a, server: { resource: 'https://mcp.example.com/mcp' }, context: { time_ns: 0, transport: 'test' } }
        const decision = (policy.evaluate(input, 'mcp/authz/decision') as Array<{ result: { allow: boolean } }>)[0]!.result
        const deny = (policy.evaluate(input, 'mcp/authz/deny') as Array<{ result: unknown[] }>)[0]!.result
        assert.equal(decision.allow, deny.length === 0, JSON.stringify({ input, deny }))
        if (decision.allow) allowed++
      }),
      { seed, numRuns },
    )
    assert.ok(allowed > 0 && allowed < numRuns, `both outcomes explored (${allowed} allowed of ${numRuns})`)
    console.log(`fast path vs deny rules: ${numRuns} inputs, ${allowed} allowed, 0 disagreements`)
  })
})
