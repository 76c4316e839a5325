/**
 * The build-time analysis of what custom Rego reads (`metadata.mcp_authz.inputRefs` in the
 * bundle manifest), form by form, and the rest of the analysis as a user's bundle carries it.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { generateKeyPairSync } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import tarStream from 'tar-stream'
import { createAuthz } from '../../src/authz.ts'
import { createSignatureVerifier, untarFiles } from '../../src/policy/signature.ts'
import { moduleInputRefs, normalizePaths, readAnalysis } from '../../src/policy/analysis.ts'
import { buildBundle } from '../../src/policy/build.ts'
import { readBundle } from '../../src/policy/bundle.ts'
import { parseRegoFiles } from '../../src/policy/rego-ast.ts'
import { testData } from '../helpers/bundle.ts'

const run = promisify(execFile)
const OPA = process.env.MCP_AUTHZ_OPA ?? 'opa'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-authz-analysis-'))
})
after(() => rm(dir, { recursive: true, force: true }))

/** The input paths a custom module reads, as the build records them. */
async function reads(body: string, imports = ''): Promise<string[][]> {
  const name = `m${Math.random().toString(36).slice(2)}.rego`
  await writeFile(join(dir, name), `package mcp.authz.custom\n\nimport rego.v1\n${imports}\n${body}\n`)
  const asts = await parseRegoFiles(OPA, dir, [name])
  return normalizePaths(moduleInputRefs(asts.get(name) as never))
}

describe('analysis: the input paths custom Rego reads', () => {
  test('a direct reference, truncated at the first non-constant part', async () => {
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if input.action.arguments.path == "/etc"'), [['action', 'arguments', 'path']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { some x; input.action.arguments[x] == 1 }'), [['action', 'arguments']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if input.action["arguments"].mode == "w"'), [['action', 'arguments', 'mode']])
  })

  test('through a variable, an alias chain, and unification either way round', async () => {
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { a := input.action; a.arguments.path == "/etc" }'), [['action', 'arguments', 'path']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { a := input.action; b := a.arguments; b.n > 1 }'), [['action', 'arguments', 'n']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { input.principal = p; p.subject == "x" }'), [['principal', 'subject']])
    // A variable used whole is a read of everything under it.
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { a := input.action; is_object(a) }'), [['action']])
    // An alias nobody uses still needs its path to exist for the body to hold.
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { a := input.server.name }'), [['server', 'name']])
  })

  test('through functions, `with`, walk, object.get and the keyword forms', async () => {
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if low(input.principal)\n\nlow(p) if p.claims.level < 2'), [['principal']])
    // The target of `with` is replaced, not read; the value is read.
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { f with input.context.transport as input.action.name }\n\nf if input.context.transport == "x"'), [['action', 'name'], ['context', 'transport']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { walk(input, [_, v]); v == "secret" }'), [[]])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if object.get(input, ["context", "request_id"], "") == "bad"'), [['context', 'request_id']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if object.get(input.action, "name", "") == "bad"'), [['action', 'name']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { k := "action"; input[k].name == "x" }'), [[]])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { some k, v in input.action.arguments; k == v }'), [['action', 'arguments']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { every s in input.principal.scopes { s != "x" } }'), [['principal', 'scopes']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { xs := [n | some n in input.action.arguments.tags]; count(xs) > 1 }'), [['action', 'arguments', 'tags']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { not input.action.arguments.path }'), [['action', 'arguments', 'path']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if { count(input) > 100 }'), [[]])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if who.tenant == "evil"', 'import input.principal as who'), [['principal', 'tenant']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": input.action.name} if true\n\nx := input.context.time_ns'), [['action', 'name'], ['context', 'time_ns']])
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if data.mcp_authz.tools[input.action.name]'), [['action', 'name']])
  })

  test('no custom module that reads input: an empty list', async () => {
    assert.deepEqual(await reads('deny contains {"code": "c", "message": "m"} if data.mcp_authz.resource == "x"'), [])
  })
})

describe('analysis in the bundle', () => {
  test('build writes it into the manifest with stable relative file names; the engine exposes it', async () => {
    const data = join(dir, 'data.json')
    await writeFile(data, JSON.stringify(testData))
    const out = join(dir, 'reads.tar.gz')
    const fixtures = new URL('fixtures/reads', import.meta.url).pathname
    const built = await buildBundle({ data, out, include: [fixtures], revision: 'r-analysis' })
    const bundle = await readBundle(await readFile(out))
    for (const path of bundle.files.keys()) assert.ok(!path.includes(tmpdir()) && !path.includes('/work/'), `bundle file names are relative: ${path}`)
    assert.ok(bundle.files.has('/custom/reads/reads.rego'))
    assert.ok(bundle.files.has('/lib/mcp/authz/scopes.rego'))
    const analysis = readAnalysis(bundle.manifest)
    assert.deepEqual(analysis, built.analysis)
    assert.ok(analysis !== undefined)
    assert.deepEqual(analysis.inputRefs, [
      ['action', 'arguments', 'count'], ['action', 'arguments', 'mode'], ['action', 'arguments', 'path'], ['action', 'arguments', 'tags'],
      ['action', 'meta', 'blob'], ['action', 'meta', 'flag'], ['action', 'method'], ['action', 'name'], ['action', 'options'],
      ['context', 'labels'], ['context', 'request_id'], ['context', 'transport'],
      ['principal', 'claims'], ['principal', 'scopes'], ['principal', 'subject'], ['principal', 'tenant'], ['server', 'name'],
    ])
    assert.ok(analysis.rules.some((r) => r.code === 'insufficient_scope' && r.file === 'lib/mcp/authz/scopes.rego' && r.title === 'insufficient_scope' && r.package === 'mcp.authz'))
    assert.ok(analysis.rules.some((r) => r.code === 'walk' && r.file === 'custom/reads/reads.rego' && r.package === 'mcp.authz.custom'))
    assert.equal(analysis.nondeterministic, false)
    const authz = await createAuthz({ bundle: out })
    assert.deepEqual(authz.bundle.analysis, analysis)
  })

  test('a signed bundle covers its analysis: changing what the manifest says the Rego reads breaks the signature', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    await writeFile(join(dir, 'key.pem'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }))
    const data = join(dir, 'data.json')
    await writeFile(data, JSON.stringify(testData))
    const out = join(dir, 'signed.tar.gz')
    const built = await buildBundle({ data, out, include: [new URL('fixtures/reads', import.meta.url).pathname], signingKey: join(dir, 'key.pem') })
    const verify = await createSignatureVerifier({ publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() })
    const signed = await readFile(out)
    await verify(signed)
    assert.deepEqual(readAnalysis((await readBundle(signed)).manifest), built.analysis)
    const files = await untarFiles(signed)
    const manifest = JSON.parse((files.get('.manifest') as Buffer).toString()) as { metadata: { mcp_authz: { inputRefs: unknown[] } } }
    manifest.metadata.mcp_authz.inputRefs = []
    files.set('.manifest', Buffer.from(JSON.stringify(manifest)))
    const pack = tarStream.pack()
    for (const [name, content] of files) pack.entry({ name: `/${name}` }, content)
    pack.finalize()
    const chunks: Buffer[] = []
    for await (const c of pack) chunks.push(c as Buffer)
    await assert.rejects(verify(gzipSync(Buffer.concat(chunks))), /\.manifest does not match/)
  })

  test('a library folder other than the shipped one is analysed too', async () => {
    const data = join(dir, 'data.json')
    await writeFile(data, JSON.stringify(testData))
    const library = join(dir, 'library-copy')
    await cp(new URL('../../policies', import.meta.url).pathname, library, { recursive: true })
    const shipped = await buildBundle({ data, out: join(dir, 'shipped.tar.gz') })
    assert.deepEqual(shipped.analysis.inputRefs, [])
    const copied = await buildBundle({ data, out: join(dir, 'copied.tar.gz'), library })
    // The library passes input.action and input.principal to its functions (read whole); visible reads kind and items.
    assert.deepEqual(copied.analysis.inputRefs, [['action'], ['items'], ['kind'], ['principal']])
  })

  test('a bundle built with plain opa build has no analysis: nothing may be assumed', async () => {
    const stage = join(dir, 'plain')
    await mkdir(stage, { recursive: true })
    await writeFile(join(stage, 'data.json'), JSON.stringify(testData))
    const out = join(dir, 'plain.tar.gz')
    await run(OPA, ['build', '-t', 'wasm', '-e', 'mcp/authz/decision', '-e', 'mcp/authz/visible', '--ignore', '*_test.rego', '-o', out, new URL('../../policies', import.meta.url).pathname, stage])
    const authz = await createAuthz({ bundle: out })
    assert.equal(authz.bundle.analysis, undefined)
    assert.equal(readAnalysis({ metadata: { mcp_authz: { version: 2 } } }), undefined)
    assert.equal(readAnalysis({ metadata: { mcp_authz: { version: 1, inputRefs: 'all', rules: [], builtins: [], nondeterministic: false } } }), undefined)
  })

  test('custom Rego reading the clock makes the bundle nondeterministic', async () => {
    const data = join(dir, 'data.json')
    await writeFile(data, JSON.stringify(testData))
    const custom = join(dir, 'clock')
    await mkdir(custom, { recursive: true })
    await writeFile(join(custom, 'clock.rego'), 'package mcp.authz.custom\n\nimport rego.v1\n\ndeny contains {"code": "night", "message": "closed"} if time.clock([time.now_ns(), "UTC"])[0] < 6\n')
    const { analysis } = await buildBundle({ data, out: join(dir, 'clock.tar.gz'), include: [custom] })
    assert.equal(analysis.nondeterministic, true)
    assert.deepEqual(analysis.builtins, ['time.clock', 'time.now_ns'])
  })
})
