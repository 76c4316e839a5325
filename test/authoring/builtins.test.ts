/**
 * "Same as opa" is a test: every builtin the runtime provides in JavaScript is called on the same
 * operands by `opa eval` and by the compiled module running on the runtime, and the answers (value
 * and Rego type, or both undefined) must be equal. A second test compiles a call to every builtin
 * of `opa capabilities --current` and checks each one the module imports is either provided or
 * refused by name, so an opa upgrade that moves a builtin out of WebAssembly is caught here.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, test } from 'node:test'
import { readBundle } from '../../src/policy/bundle.ts'
import { RUNTIME_BUILTINS } from '../../src/policy/builtins/index.ts'
import { importedBuiltins, loadWasmPolicy } from '../../src/policy/wasm.ts'
import { BUILTIN_CASES, BUILTIN_EXPRESSIONS } from './builtin-cases.ts'

const run = promisify(execFile)
const OPA = process.env.MCP_AUTHZ_OPA ?? 'opa'

/** JSON text with bigints written out in full. */
const stringify = (v: unknown) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? (JSON as unknown as { rawJSON(t: string): unknown }).rawJSON(x.toString()) : x))

/** Parses JSON keeping every number as a canonical string (integers exact, others as doubles). */
function parseExact(text: string): unknown {
  return JSON.parse(text, ((_k: string, v: unknown, ctx?: { source?: string }) => {
    if (typeof v !== 'number') return v
    const src = ctx?.source ?? String(v)
    return /^-?\d+$/.test(src) ? `#${BigInt(src).toString()}` : `#${Number(src)}`
  }) as (k: string, v: unknown) => unknown)
}

/** Canonical text: object keys sorted; a set (type "set") compared as a sorted list. */
function canonical(v: unknown, isSet = false): string {
  const walk = (x: unknown): unknown => (Array.isArray(x) ? x.map(walk) : x !== null && typeof x === 'object' ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, walk((x as Record<string, unknown>)[k])])) : x)
  if (isSet && Array.isArray(v)) return JSON.stringify(v.map((e) => JSON.stringify(walk(e))).sort())
  return JSON.stringify(walk(v)) ?? 'undefined'
}

const short = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}… (${s.length} chars)` : s)

async function compile(dir: string, rego: string): Promise<Uint8Array> {
  await writeFile(join(dir, 'cases.rego'), rego)
  const out = join(dir, 'cases.tar.gz')
  await run(OPA, ['build', '-t', 'wasm', '-e', 'cases', '-o', out, join(dir, 'cases.rego')], { timeout: 120_000 })
  return (await readBundle(await readFile(out))).wasm
}

/**
 * The builtins opa v1.22.2 leaves out of WebAssembly (the module imports them) that the runtime
 * does not provide, so a bundle calling one is refused. An opa upgrade that changes which builtins
 * are imported makes the capabilities test below fail: update this list and the runtime together.
 */
const REFUSED = [
  'crypto.parse_private_keys', 'crypto.x509.parse_and_verify_certificates', 'crypto.x509.parse_and_verify_certificates_with_options', 'crypto.x509.parse_certificate_request',
  'crypto.x509.parse_certificates', 'crypto.x509.parse_keypair', 'crypto.x509.parse_rsa_private_key', 'glob.quote_meta', 'graph.reachable_paths', 'graphql.is_valid', 'graphql.parse',
  'graphql.parse_and_verify', 'graphql.parse_query', 'graphql.parse_schema', 'graphql.schema_is_valid', 'http.send', 'io.jwt.decode', 'io.jwt.decode_verify', 'io.jwt.encode_sign',
  'io.jwt.encode_sign_raw', 'io.jwt.verify_eddsa', 'io.jwt.verify_es256', 'io.jwt.verify_es384', 'io.jwt.verify_es512', 'io.jwt.verify_hs256', 'io.jwt.verify_hs384', 'io.jwt.verify_hs512',
  'io.jwt.verify_ps256', 'io.jwt.verify_ps384', 'io.jwt.verify_ps512', 'io.jwt.verify_rs256', 'io.jwt.verify_rs384', 'io.jwt.verify_rs512', 'json.marshal_with_options', 'json.match_schema',
  'json.patch', 'json.verify_schema', 'net.lookup_ip_addr', 'object.subset', 'opa.runtime', 'providers.aws.sign_req', 'rand.intn', 'regex.globs_match', 'regex.template_match',
  'rego.parse_module', 'semver.compare', 'semver.is_valid', 'strings.render_template', 'strings.split_n', 'trace', 'uri.is_valid', 'uri.parse', 'urlquery.decode_object',
  'urlquery.encode_object', 'uuid.parse', 'uuid.rfc4122', 'yaml.marshal',
]

describe('which builtins the WebAssembly module imports (opa capabilities --current)', () => {
  test('every builtin is compiled into WebAssembly, provided by the runtime, or refused by name', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'mcp-authz-capabilities-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const { stdout } = await run(OPA, ['capabilities', '--current'], { maxBuffer: 16 * 1024 * 1024 })
    const capabilities = JSON.parse(stdout) as { builtins: Array<{ name: string; decl?: { args?: unknown[] }; infix?: string; deprecated?: boolean }> }
    // Operators (=, :=, +, …) and print are not called as functions; internal.* are the compiler's;
    // deprecated builtins cannot be called from Rego v1 at all.
    const callable = capabilities.builtins.filter((b) => b.infix === undefined && !b.deprecated && !b.name.startsWith('internal.') && b.name !== 'print' && b.name !== 'assign' && b.name !== 'eq')
    assert.ok(callable.length > 150, `opa knows ${callable.length} builtins`)
    let lines = callable.map((b, i) => `b${i} := ${b.name}(${(b.decl?.args ?? []).map((_, j) => `input.a${j}`).join(', ')})`)
    let wasm: Uint8Array | undefined
    const skipped: string[] = []
    for (let attempt = 0; wasm === undefined && attempt < 20; attempt++) {
      try {
        wasm = await compile(dir, `package cases\n\nimport rego.v1\n\n${lines.join('\n')}\n`)
      } catch (err) {
        // A builtin that cannot be compiled this way (type errors): drop its line and say which.
        const e = err as { stdout?: string; stderr?: string }
        const bad = new Set([...`${e.stdout ?? ''}${e.stderr ?? ''}`.matchAll(/cases\.rego:(\d+)/g)].map((m) => Number(m[1]) - 5))
        if (bad.size === 0) throw err
        skipped.push(...[...bad].map((i) => lines[i] as string))
        lines = lines.filter((_, i) => !bad.has(i))
      }
    }
    assert.ok(wasm !== undefined)
    assert.ok(skipped.length <= 3, `too many builtins could not be compiled: ${skipped.join('; ')}`)
    const imported = await importedBuiltins(wasm)
    const provided = Object.keys(RUNTIME_BUILTINS)
    assert.deepEqual(provided.filter((n) => !imported.includes(n)), [], 'builtins now compiled into WebAssembly: drop them from the runtime')
    assert.deepEqual(imported.filter((n) => !provided.includes(n)).sort(), [...REFUSED].sort(), 'the builtins opa imports changed: provide the new ones or add them to REFUSED')
  })
})

describe('bounds the runtime keeps where opa has none', () => {
  test('net.cidr_expand beyond 65 536 addresses is undefined (opa would build the whole set)', async () => {
    const { netBuiltins } = await import('../../src/policy/builtins/net.ts')
    assert.equal((netBuiltins['net.cidr_expand'].fn('10.0.0.0/16') as { items: unknown[] }).items.length, 65_536)
    assert.throws(() => netBuiltins['net.cidr_expand'].fn('10.0.0.0/15'), /more than 65536 addresses/)
  })
})

describe('runtime builtins behave as opa eval', () => {
  test('every provided builtin, on every case, gives the same value (or the same undefined) as opa eval', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'mcp-authz-builtins-'))
    t.after(() => rm(dir, { recursive: true, force: true }))
    const lines = ['package cases', '']
    const input: Record<string, unknown[]> = {}
    const described: Record<string, string> = {}
    let i = 0
    for (const [name, cases] of BUILTIN_CASES) {
      for (const operands of cases) {
        const key = `c${i++}`
        input[key] = operands
        lines.push(`${key} := ${name}(${operands.map((_, j) => `input.${key}[${j}]`).join(', ')})`, `${key}_type := type_name(${key})`)
        described[key] = `${name}(${stringify(operands).slice(1, -1)})`
      }
    }
    for (const expr of BUILTIN_EXPRESSIONS) {
      const key = `c${i++}`
      lines.push(`${key} := ${expr}`, `${key}_type := type_name(${key})`)
      described[key] = expr
    }
    const rego = `${lines.join('\n')}\n`
    await writeFile(join(dir, 'input.json'), stringify(input))
    const wasm = await compile(dir, rego)
    const imported = await importedBuiltins(wasm)
    for (const name of new Set(BUILTIN_CASES.map(([n]) => n))) assert.ok(imported.includes(name), `${name} is compiled into WebAssembly now: drop it from the runtime`)

    const { stdout } = await run(OPA, ['eval', '--format', 'json', '-d', join(dir, 'cases.rego'), '-i', join(dir, 'input.json'), 'data.cases'], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 })
    const expected = (parseExact(stdout) as { result: Array<{ expressions: Array<{ value: Record<string, unknown> }> }> }).result[0]?.expressions[0]?.value ?? {}

    const policy = await loadWasmPolicy(wasm, { initialPages: 16, maximumPages: 1024, builtins: RUNTIME_BUILTINS })
    const text = policy.evaluateText(await readFile(join(dir, 'input.json'), 'utf8'), 'cases')
    const answer = (parseExact(text) as Array<{ result?: Record<string, unknown> }>)[0]?.result ?? {}

    const mismatches: string[] = []
    for (const key of Object.keys(described)) {
      for (const k of [key, `${key}_type`]) {
        const isSet = expected[`${key}_type`] === 'set'
        const e = canonical(expected[k], isSet && k === key)
        const g = canonical(answer[k], isSet && k === key)
        if (e !== g) mismatches.push(`${described[key]}${k.endsWith('_type') ? ' (type)' : ''}\n    opa eval: ${short(e)}\n    runtime:  ${short(g)}`)
      }
    }
    assert.deepEqual(mismatches, [], `\n${mismatches.join('\n')}`)
  })
})
