/**
 * The analysis is conservative: removing from the input every path the analysis says custom Rego
 * never reads changes no answer, over random inputs. Checked twice through the compiled WASM: on
 * the custom package alone (its deny reasons and allow), where nothing else reads the input, and on
 * the whole decision with the library's own reads added (what the engine's trimming must keep).
 */
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import { analyseModules, moduleInputRefs, normalizePaths, type BundleModule } from '../../src/policy/analysis.ts'
import { RUNTIME_BUILTINS } from '../../src/policy/builtins/index.ts'
import { buildBundle, LIBRARY_DIR } from '../../src/policy/build.ts'
import { readBundle } from '../../src/policy/bundle.ts'
import { PolicyEngine } from '../../src/policy/engine.ts'
import { runOpa } from '../../src/policy/opa-cli.ts'
import { parseRegoFiles } from '../../src/policy/rego-ast.ts'
import { loadWasmPolicy, type WasmPolicy } from '../../src/policy/wasm.ts'
import { testData } from '../helpers/bundle.ts'
import { trimInput } from './trim.ts'

const seed = Number(process.env.FUZZ_SEED ?? 20261201)
const numRuns = Number(process.env.FUZZ_RUNS ?? 1000)
const OPA = process.env.MCP_AUTHZ_OPA ?? 'opa'
const FIXTURE = new URL('fixtures/reads', import.meta.url).pathname

const junk = fc.dictionary(fc.constantFrom('extra', 'x_other', 'noise'), fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), { maxKeys: 2 })

const inputs = fc
  .record({
    principal: fc.record(
      {
        subject: fc.constantFrom('alice', 'mallory'),
        issuer: fc.constantFrom('https://as.example.com', 'https://other.example.com'),
        tenant: fc.option(fc.constantFrom('acme', 'evil'), { nil: undefined }),
        audience: fc.constant(['https://mcp.example.com/mcp']),
        scopes: fc.subarray(['x:a', 'y:b', 'x:c', 'notes:read', 'notes:write']),
        authMethod: fc.constant('jwt'),
        tokenId: fc.constant('t'),
        claims: fc.record({ level: fc.integer({ min: 0, max: 3 }), other: fc.constantFrom('x', 'y') }, { requiredKeys: [] }),
      },
      { requiredKeys: ['subject', 'issuer', 'audience', 'scopes', 'authMethod', 'tokenId', 'claims'] },
    ),
    action: fc.record(
      {
        method: fc.constantFrom('tools/call', 'custom/ping', 'ping'),
        kind: fc.constantFrom('tool', 'other', 'session'),
        name: fc.constantFrom('fs_read', 'notes_read', 'notes_write'),
        arguments: fc.record(
          {
            mode: fc.constantFrom('w', 'r'),
            path: fc.constantFrom('/etc', '/home/alice/a'),
            count: fc.integer({ min: 0, max: 6 }),
            tags: fc.subarray(['danger', 'safe']),
            other: fc.constantFrom('secret', 'plain'),
          },
          { requiredKeys: [] },
        ),
        options: fc.dictionary(fc.constantFrom('admin', 'verbose'), fc.boolean(), { maxKeys: 2 }),
        meta: fc.record({ flag: fc.boolean(), blob: fc.record({ deep: fc.constantFrom('secret', 'plain') }), other: fc.boolean() }, { requiredKeys: [] }),
        id: fc.integer({ min: 1, max: 9 }),
      },
      { requiredKeys: ['method', 'kind'] },
    ),
    server: fc.record({ resource: fc.constant('https://mcp.example.com/mcp'), name: fc.constantFrom('a', 'b') }, { requiredKeys: ['resource'] }),
    context: fc.record({ time_ns: fc.constant(1), transport: fc.constantFrom('http', 'stdio'), request_id: fc.constantFrom('bad', 'ok'), labels: fc.dictionary(fc.constantFrom('a', 'b'), fc.constantFrom('banned', 'ok'), { maxKeys: 2 }) }, { requiredKeys: ['time_ns', 'transport'] }),
    extra: junk,
  })
  .map(({ extra, ...input }) => ({ ...input, ...extra, principal: { ...input.principal }, action: { ...input.action } }))

describe('property: the input analysis is conservative', () => {
  let dir: string
  let custom: WasmPolicy
  let customRefs: string[][]
  let engine: PolicyEngine
  let decisionRefs: string[][]
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-authz-conservative-'))
    // The custom package alone, compiled, and its analysis.
    const out = join(dir, 'custom.tar.gz')
    await runOpa(OPA, ['build', '-t', 'wasm', '-e', 'mcp/authz/custom/deny', '-e', 'mcp/authz/custom/allow', '-o', out, FIXTURE], { timeoutMs: 120_000 })
    custom = await loadWasmPolicy((await readBundle(await readFile(out))).wasm, { initialPages: 16, maximumPages: 1024, builtins: RUNTIME_BUILTINS })
    const asts = await parseRegoFiles(OPA, FIXTURE, ['reads.rego'])
    customRefs = analyseModules([{ file: 'custom/reads.rego', library: false, ast: asts.get('reads.rego') as BundleModule['ast'] }]).inputRefs
    // The whole decision, built by mcp-authz build; the library's reads come from the same analyser.
    await writeFile(join(dir, 'data.json'), JSON.stringify({ mcp_authz: { ...testData.mcp_authz, methods: { ...testData.mcp_authz.methods, 'custom/ping': {} } } }))
    const built = await buildBundle({ data: join(dir, 'data.json'), out: join(dir, 'full.tar.gz'), include: [FIXTURE] })
    engine = new PolicyEngine()
    await engine.load(await readFile(built.out))
    const libraryFiles = readdirSync(join(LIBRARY_DIR, 'mcp/authz')).filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego')).map((f) => `mcp/authz/${f}`)
    const library = await parseRegoFiles(OPA, LIBRARY_DIR, libraryFiles)
    decisionRefs = normalizePaths([...built.analysis.inputRefs, ...[...library.values()].flatMap(moduleInputRefs)])
  })
  after(() => rm(dir, { recursive: true, force: true }))

  test(`custom deny and allow answer the same on the trimmed input (${numRuns} runs, seed ${seed})`, () => {
    assert.ok(customRefs.length > 3 && !customRefs.some((p) => p.length === 0), 'the fixture is analysed path by path')
    const seen = new Set<string>()
    fc.assert(
      fc.property(inputs, (input) => {
        const answer = (i: unknown) => JSON.stringify([custom.evaluate(i, 'mcp/authz/custom/deny'), custom.evaluate(i, 'mcp/authz/custom/allow')])
        const full = answer(input)
        for (const r of JSON.parse(full)[0]?.[0]?.result ?? []) seen.add(r.code)
        assert.equal(answer(trimInput(input, customRefs)), full)
      }),
      { seed, numRuns },
    )
    // The random inputs exercise every rule of the fixture (so no rule is trivially unaffected).
    assert.deepEqual([...seen].sort(), ['alias', 'chain', 'comprehension', 'direct', 'dynamic', 'every', 'exists', 'function', 'import', 'negated', 'object_get', 'some_in', 'unify', 'walk', 'with'])
  })

  test(`the decision is the same on the input trimmed to custom + library reads (${numRuns} runs, seed ${seed})`, () => {
    fc.assert(
      fc.property(inputs, (input) => {
        assert.deepEqual(engine.evaluate(trimInput(input, decisionRefs) as never), engine.evaluate(input as never))
      }),
      { seed, numRuns },
    )
  })
})
