/**
 * Mistakes caught at build with messages that name the fix (12.5), builtins the runtime cannot
 * execute refused at build and at every load (12.2), and evaluation errors reported with their real
 * message in the decision, the decision record and the engine's error hook.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { createAuthz, type DecisionEvent } from '../../src/authz.ts'
import { buildBundle, LIBRARY_DIR } from '../../src/policy/build.ts'
import { PolicyError } from '../../src/policy/errors.ts'
import { testData, testPrincipal } from '../helpers/bundle.ts'

const run = promisify(execFile)
const OPA = process.env.MCP_AUTHZ_OPA ?? 'opa'

let dir: string
let data: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-authz-mistakes-'))
  data = join(dir, 'data.json')
  await writeFile(data, JSON.stringify(testData))
})
after(() => rm(dir, { recursive: true, force: true }))

/** Writes Rego files into a fresh folder and returns it. */
async function policies(files: Record<string, string>): Promise<string> {
  const folder = join(dir, `p${Math.random().toString(36).slice(2)}`)
  await mkdir(folder, { recursive: true })
  for (const [name, text] of Object.entries(files)) await writeFile(join(folder, name), text)
  return folder
}

async function buildError(include: string[], dataFile = data): Promise<PolicyError> {
  try {
    await buildBundle({ data: dataFile, out: join(dir, 'x.tar.gz'), include })
  } catch (err) {
    assert.ok(err instanceof PolicyError, String(err))
    return err
  }
  assert.fail('the build should have been refused')
}

const header = 'package mcp.authz.custom\n\nimport rego.v1\n\n'

describe('mistakes caught at build', () => {
  test('a package the decision never consults, with "did you mean"', async () => {
    const folder = await policies({ 'rules.rego': 'package mcp.authz.customs\n\nimport rego.v1\n\ndeny contains {"code": "x", "message": "y"} if input.action.name == "x"\n' })
    const err = await buildError([folder])
    assert.equal(err.code, 'ERR_POLICY_INVALID')
    assert.match(err.message, /rules\.rego:1: package mcp\.authz\.customs is never consulted by the decision.*did you mean mcp\.authz\.custom\?/)
    const other = await policies({ 'acme.rego': 'package acme.rules\n\nimport rego.v1\n\ndeny contains {"code": "x", "message": "y"} if true\n' })
    assert.match((await buildError([other])).message, /package acme\.rules is never consulted.*move the rules there or use them from it/)
  })

  test('a helper package that mcp.authz.custom uses is consulted', async () => {
    const folder = await policies({
      'custom.rego': `${header}import data.acme.paths\n\ndeny contains {"code": "outside", "message": "outside"} if not paths.inside(input.action.arguments.path)\n`,
      'paths.rego': 'package acme.paths\n\nimport rego.v1\n\ninside(p) if startswith(p, "/srv/")\n',
    })
    const { analysis } = await buildBundle({ data, out: join(dir, 'ok.tar.gz'), include: [folder] })
    assert.deepEqual(analysis.inputRefs, [['action', 'arguments', 'path']])
  })

  test('deny rules whose elements are not {code, message}, deny that is not multi-value, allow that is, a deny typo', async () => {
    const folder = await policies({
      'shapes.rego': `${header}deny contains "not allowed" if input.action.name == "a"\n\ndeny contains {"code": "no_message"} if input.action.name == "b"\n\ndeny contains {"code": 7, "message": "m"} if input.action.name == "c"\n\ndenny contains {"code": "typo", "message": "m"} if input.action.name == "d"\n`,
      'allow.rego': `${header}allow contains "x" if input.action.name == "e"\n`,
    })
    const err = await buildError([folder])
    assert.equal(err.code, 'ERR_POLICY_INVALID')
    const lines = err.problems.map((p) => `${p.path.replace(/^.*\//, '')}: ${p.message}`)
    assert.ok(lines.some((l) => /^shapes\.rego:5: deny elements must be \{code, message\} objects, not the string "not allowed": write: deny contains \{"code"/.test(l)), lines.join('\n'))
    assert.ok(lines.some((l) => /^shapes\.rego:7: deny element has no message/.test(l)), lines.join('\n'))
    assert.ok(lines.some((l) => /^shapes\.rego:9: deny element's code is the number 7/.test(l)), lines.join('\n'))
    assert.ok(lines.some((l) => /^shapes\.rego:11: rule denny .*did you mean deny\?/.test(l)), lines.join('\n'))
    assert.ok(lines.some((l) => /^allow\.rego:5: allow in mcp\.authz\.custom must be a single boolean/.test(l)), lines.join('\n'))
    const boolean = await policies({ 'b.rego': `${header}deny if input.action.name == "a"\n` })
    assert.match((await buildError([boolean])).message, /b\.rego:5: deny in mcp\.authz\.custom must be a multi-value rule/)
  })

  test('a Rego syntax error names the file as the user wrote it', async () => {
    const folder = await policies({ 'bad.rego': `${header}deny contains x if {\n  x := \n}\n` })
    const err = await buildError([folder])
    assert.equal(err.code, 'ERR_OPA_BUILD')
    assert.ok(err.message.includes(`${join(folder, 'bad.rego')}:7:1: rego_parse_error`), err.message)
    assert.ok(!err.message.includes('mcp-authz-build-'), 'no staging path in the message')
  })

  test('data keys the schema does not know get "did you mean"; data may be YAML; syntax errors have line and column', async () => {
    const typo = join(dir, 'typo.json')
    await writeFile(typo, JSON.stringify({ mcp_authz: { ...testData.mcp_authz, tool: {}, defaults: { unlisted_tool: 'deny' } } }))
    const err = await buildError([], typo)
    assert.equal(err.code, 'ERR_DATA_INVALID')
    assert.ok(err.problems.some((p) => p.path === '$.mcp_authz' && p.message === 'has unknown property "tool" (did you mean "tools"?)'), JSON.stringify(err.problems))
    assert.ok(err.problems.some((p) => p.path === '$.mcp_authz.defaults' && /"unlisted_tool" \(did you mean "unlisted_tools"\?\)/.test(p.message)), JSON.stringify(err.problems))

    const yaml = join(dir, 'data.yaml')
    await writeFile(yaml, `mcp_authz:\n  resource: ${testData.mcp_authz.resource}\n  issuers:\n    https://as.example.com: { tenant: acme }\n  tools:\n    notes_read: { scopes: [notes:read] }\n`)
    const built = await buildBundle({ data: yaml, out: join(dir, 'yaml.tar.gz') })
    const authz = await createAuthz({ bundle: built.out })
    assert.equal(authz.decide(testPrincipal, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read' } }).allow, true)

    const badYaml = join(dir, 'bad.yaml')
    await writeFile(badYaml, 'mcp_authz:\n  resource: x\n  tools: [unclosed\n')
    const y = await buildError([], badYaml)
    assert.equal(y.code, 'ERR_DATA_INVALID')
    assert.match(y.message, /bad\.yaml:\d+:\d+: /)
    assert.ok(y.problems.every((p) => /bad\.yaml:[1-9]\d*:[1-9]\d*$/.test(p.path)), JSON.stringify(y.problems))

    const badJson = join(dir, 'bad.json')
    await writeFile(badJson, '{\n  "mcp_authz": {\n    "resource": "x",\n  }\n}\n')
    const j = await buildError([], badJson)
    assert.deepEqual(j.problems.map((p) => p.path), [`${badJson}:4:3`])
    const dup = join(dir, 'dup.json')
    await writeFile(dup, '{"mcp_authz": {"resource": "https://mcp.example.com/mcp", "issuers": {}, "tools": {}, "tools": {}}}')
    assert.match((await buildError([], dup)).message, /dup\.json:1:\d+: duplicate key/)
  })
})

describe('builtins the runtime cannot execute', () => {
  const netRule = `${header}deny contains {"code": "remote", "message": "m"} if {\n\tresp := http.send({"method": "GET", "url": "https://example.com"})\n\tresp.status_code != 200\n}\n`

  test('mcp-authz build refuses them, naming the builtin and where it is called', async () => {
    const folder = await policies({ 'net.rego': netRule })
    const err = await buildError([folder])
    assert.equal(err.code, 'ERR_BUILTIN_UNSUPPORTED')
    assert.ok(err.message.includes(`http.send (called at ${join(folder, 'net.rego')}:6)`), err.message)
    assert.match(err.message, /may not reach the network/)
  })

  test('every load refuses a bundle that needs one (built without mcp-authz), and a hot reload keeps the old bundle', async () => {
    const folder = await policies({ 'custom.rego': netRule, 'data.json': JSON.stringify(testData) })
    const out = join(dir, 'plain-net.tar.gz')
    await run(OPA, ['build', '-t', 'wasm', '-e', 'mcp/authz/decision', '-e', 'mcp/authz/visible', '--ignore', '*_test.rego', '-o', out, LIBRARY_DIR, folder])
    await assert.rejects(createAuthz({ bundle: out }), (e: unknown) => {
      assert.ok(e instanceof PolicyError)
      assert.equal(e.code, 'ERR_BUILTIN_UNSUPPORTED')
      assert.match(e.message, /http\.send \(called at [^)]*custom\.rego:6\)/)
      return true
    })
    const good = await buildBundle({ data, out: join(dir, 'good.tar.gz'), revision: 'good' })
    const authz = await createAuthz({ bundle: good.out })
    await assert.rejects(authz.load(out), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_BUILTIN_UNSUPPORTED')
    assert.equal(authz.bundle.revision, 'good')
  })

  test('time.weekday (once "evaluation failed: [object Object]") decides, and time.now_ns is the decision\'s context.time_ns', async () => {
    const folder = await policies({
      'weekend.rego': `${header}deny contains {"code": "weekend", "message": sprintf("closed on %s", [day])} if {\n\tday := time.weekday(time.now_ns())\n\tday in {"Saturday", "Sunday"}\n}\n`,
    })
    const built = await buildBundle({ data, out: join(dir, 'weekend.tar.gz'), include: [folder] })
    assert.deepEqual(built.analysis.builtins, ['sprintf', 'time.now_ns', 'time.weekday'])
    assert.equal(built.analysis.nondeterministic, true)
    const authz = await createAuthz({ bundle: built.out })
    const input = (time_ns: number) => ({ principal: testPrincipal, action: { method: 'tools/call', kind: 'tool' as const, name: 'notes_read' }, server: { resource: testData.mcp_authz.resource }, context: { time_ns, transport: 'http' } })
    const sunday = authz.evaluate(input(Date.UTC(2024, 5, 30, 12) * 1e6))
    assert.deepEqual(sunday.reasons.map((r) => [r.code, r.message]), [['weekend', 'closed on Sunday']])
    assert.equal(authz.evaluate(input(Date.UTC(2024, 6, 1, 12) * 1e6)).allow, true)
  })
})

describe('evaluation errors carry their real message', () => {
  test('in the decision, the decision record and the engine error hook', async () => {
    const folder = await policies({
      'conflict.rego': `${header}pick := "a" if input.action.name == "notes_read"\n\npick := "b" if input.action.name == "notes_read"\n\ndeny contains {"code": "never", "message": "m"} if pick == "c"\n`,
    })
    const built = await buildBundle({ data, out: join(dir, 'conflict.tar.gz'), include: [folder] })
    const events: DecisionEvent[] = []
    const errors: Array<{ message: string; entrypoint: string }> = []
    const authz = await createAuthz({ bundle: built.out, onDecision: (e) => events.push(e), engine: { onError: (e, ctx) => errors.push({ message: e.message, entrypoint: ctx.entrypoint }) } })
    const r = authz.decide(testPrincipal, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read' } })
    assert.equal(r.allow, false)
    assert.equal(r.reasons[0]?.code, 'policy_error')
    assert.match(r.reasons[0]?.message ?? '', /^evaluation failed: custom\/\w+\/conflict\.rego:\d+:1: var assignment conflict$/)
    assert.doesNotMatch(r.reasons[0]?.message ?? '', /object Object/)
    assert.deepEqual(events[0]?.result.reasons.map((x) => x.message), r.reasons.map((x) => x.message))
    assert.deepEqual(errors, [{ message: r.reasons[0]?.message as string, entrypoint: 'decision' }])
  })

  test('a deny element that is not a reason names the element', async () => {
    const folder = await policies({ 'msg.rego': `${header}deny contains msg if {\n\tinput.action.name == "notes_read"\n\tmsg := "plain string"\n}\n` })
    const built = await buildBundle({ data, out: join(dir, 'msg.tar.gz'), include: [folder] })
    const authz = await createAuthz({ bundle: built.out })
    const r = authz.decide(testPrincipal, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read' } })
    assert.equal(r.reasons[0]?.code, 'policy_error')
    assert.match(r.reasons[0]?.message ?? '', /a deny rule produced "plain string", which is not a reason: deny elements must be \{"code": string, "message": string\}/)
  })
})
