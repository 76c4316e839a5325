/**
 * The decision's fast path (allow without building reasons) and the deny rules are two views of
 * the same checks. This property evaluates both, through the compiled WASM, on arbitrary inputs:
 * a decision allows exactly when the deny set is empty.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm'
import { readBundle } from '../../src/policy/bundle.ts'
import { LIBRARY_DIR } from '../../src/policy/build.ts'
import { testData } from '../helpers/bundle.ts'

const run = promisify(execFile)
const seed = Number(process.env.FUZZ_SEED ?? 20261123)
const numRuns = Number(process.env.FUZZ_RUNS ?? 1000)

// The built-in defaults (default deny), and the unlisted_* opt-ins.
const optInData = { mcp_authz: { ...testData.mcp_authz, defaults: { ...testData.mcp_authz.defaults, unlisted_tools: 'by_annotation', unlisted_resources: 'allow', unlisted_prompts: 'allow' } } }

describe('property: the fast path agrees with the deny rules', () => {
  let policy: LoadedPolicy
  let data: Record<string, unknown>
  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mcp-authz-fast-'))
    try {
      await writeFile(join(dir, 'data.json'), JSON.stringify(testData))
      const out = join(dir, 'b.tar.gz')
      await run(process.env.MCP_AUTHZ_OPA ?? 'opa', ['build', '-t', 'wasm', '-e', 'mcp/authz/decision', '-e', 'mcp/authz/deny', '-e', 'mcp/authz/visible', '--ignore', '*_test.rego', '-o', out, LIBRARY_DIR, dir])
      const bundle = await readBundle(await readFile(out))
      policy = await loadPolicy(bundle.wasm)
      data = bundle.data
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  for (const [name, dataset] of [['built-in defaults', () => data], ['unlisted_* opted in', () => optInData]] as const)
  test(`allow ⇔ no deny reason, ${name} (${numRuns} runs, seed ${seed})`, () => {
    policy.setData(dataset())
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
        arguments: fc.record({
          title: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('0123456789', '01234567890'), fc.jsonValue({ maxDepth: 1 })),
          folder: fc.oneof(fc.constantFrom('work', 'x'), fc.jsonValue({ maxDepth: 1 })),
          path: fc.oneof(fc.constantFrom('/notes/a', '/etc'), fc.jsonValue({ maxDepth: 1 })),
          limit: fc.oneof(fc.integer({ min: -5, max: 200 }), fc.constantFrom(0, 1, 100, 101, 100.5, '5'), fc.jsonValue({ maxDepth: 1 })),
          sudo: fc.oneof(fc.boolean(), fc.constant(null)),
        }, { requiredKeys: [] }),
        annotations: fc.record({ readOnlyHint: fc.boolean() }, { requiredKeys: [] }),
      }, { requiredKeys: ['method', 'kind', 'name'] }),
      fc.record({ method: fc.constantFrom('resources/read', 'resources/subscribe', 'completion/complete'), kind: fc.constant('resource'), uri: fc.constantFrom('notes://a', 'notes://private/b', 'notes://private', 'notes://privatex/b', 'notes://private?x', 'notes://private#x', 'notes://private/{id}', 'notes:', 'file:///x') }),
      fc.record({ method: fc.constant('prompts/get'), kind: fc.constant('prompt'), name: fc.constantFrom('summarize', 'other'), arguments: fc.record({ style: fc.constantFrom('short', 'poem') }, { requiredKeys: [] }) }),
      fc.record({ method: fc.constantFrom('initialize', 'ping', 'tools/list', 'tasks/get', 'admin/x'), kind: fc.constantFrom('session', 'list', 'other') }),
    )
    let allowed = 0
    fc.assert(
      fc.property(principal, action, (p, a) => {
        const input = { principal: JSON.parse(JSON.stringify(p)), action: JSON.parse(JSON.stringify(a)), server: { resource: 'https://mcp.example.com/mcp' }, context: { time_ns: 0, transport: 'test' } }
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
