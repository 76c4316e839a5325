/** The `mcp-authz build` and `eval` commands, run as processes the way a user runs them. */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { testData } from '../helpers/bundle.ts'
import { tempDir } from '../helpers/temp.ts'

const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr })
    })
  })
}

const principal = { subject: 'alice', clientId: 'notes-app', issuer: 'https://as.example.com', tenant: 'acme', audience: ['https://mcp.example.com/mcp'], scopes: ['notes:read'], authMethod: 'jwt', tokenId: 't1', claims: {} }

describe('mcp-authz build / eval', () => {
  test('build compiles a bundle, eval decides with it; --exit-code turns a deny into exit 3', async () => {
    const dir = await tempDir('mcp-authz-cli-')
    await writeFile(join(dir, 'data.json'), JSON.stringify(testData))
    const out = join(dir, 'bundle.tar.gz')
    const built = await cli(['build', '--data', join(dir, 'data.json'), '--out', out, '--revision', 'r1'])
    assert.equal(built.code, 0, built.stderr)
    assert.deepEqual(JSON.parse(built.stdout), { bundle: out, revision: 'r1', input_refs: [], builtins: [] })

    const allow = await cli(['eval', '--bundle', out, '--principal', JSON.stringify(principal), '--message', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"notes_read"}}'])
    assert.equal(allow.code, 0, allow.stderr)
    assert.equal(JSON.parse(allow.stdout).allow, true)

    await writeFile(join(dir, 'message.json'), '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"notes_write","arguments":{"title":"x"}}}')
    const deny = await cli(['eval', '--bundle', out, '--principal', JSON.stringify(principal), '--message', `@${join(dir, 'message.json')}`, '--exit-code'])
    assert.equal(deny.code, 3)
    const d = JSON.parse(deny.stdout)
    assert.equal(d.status, 403)
    assert.deepEqual(d.required_scopes, ['notes:write'])
    assert.match(d.www_authenticate, /^Bearer error="insufficient_scope"/)

    const raw = await cli(['eval', '--bundle', out, '--input', JSON.stringify({ principal, action: { method: 'admin/x', kind: 'other' }, server: { resource: 'https://mcp.example.com/mcp' }, context: { time_ns: 1, transport: 'cli' } })])
    assert.equal(raw.code, 0, raw.stderr)
    assert.deepEqual(JSON.parse(raw.stdout).reasons.map((r: { code: string }) => r.code), ['method_not_allowed'])
  })

  test('build refuses invalid data with exit 2 and every problem by JSON path', async () => {
    const dir = await tempDir('mcp-authz-cli-')
    await writeFile(join(dir, 'data.json'), JSON.stringify({ mcp_authz: { resource: 'https://x.example/mcp/', issuers: {}, defaults: { unlisted_tools: 'maybe' } } }))
    const r = await cli(['build', '--data', join(dir, 'data.json'), '--out', join(dir, 'b.tar.gz')])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /\$\.mcp_authz\.resource/)
    assert.match(r.stderr, /\$\.mcp_authz\.defaults\.unlisted_tools: must be one of \["by_annotation","deny"\]/)
  })

  test('eval in shorthand: the principal defaults from the data, the message from --tool/--args; --explain names custom rules', async () => {
    const dir = await tempDir('mcp-authz-cli-')
    await writeFile(join(dir, 'data.json'), JSON.stringify(testData))
    await writeFile(join(dir, 'custom.rego'), 'package mcp.authz.custom\n\nimport rego.v1\n\n# METADATA\n# title: Mallory is blocked\ndeny contains {"code": "blocked", "message": "blocked"} if input.principal.subject == "mallory"\n')
    const out = join(dir, 'bundle.tar.gz')
    assert.equal((await cli(['build', '--data', join(dir, 'data.json'), '--include', join(dir, 'custom.rego'), '--out', out])).code, 0)
    const r = await cli(['eval', '--bundle', out, '--sub', 'mallory', '--scopes', 'notes:read notes:write', '--roles', 'admin,editor', '--client', 'notes-app', '--tool', 'notes_read', '--args', '{"q": 1}', '--explain'])
    assert.equal(r.code, 0, r.stderr)
    const d = JSON.parse(r.stdout)
    assert.equal(d.allow, false)
    assert.deepEqual(d.reasons.map((r: { code: string; message: string }) => [r.code, r.message]), [['blocked', 'blocked']])
    assert.deepEqual(d.explain, [{ code: 'blocked', message: 'blocked', rule: 'deny', package: 'mcp.authz.custom', file: 'custom/custom.rego', line: 7, title: 'Mallory is blocked' }])
    // The exact input the policy evaluated: defaults from the data's first trusted issuer, its tenant and the resource.
    assert.deepEqual(d.input.principal, { subject: 'mallory', issuer: 'https://as.example.com', tenant: 'acme', audience: ['https://mcp.example.com/mcp'], scopes: ['notes:read', 'notes:write'], authMethod: 'jwt', tokenId: 'eval', claims: { roles: ['admin', 'editor'] }, clientId: 'notes-app' })
    assert.equal(d.input.action.name, 'notes_read')
    const library = await cli(['eval', '--bundle', out, '--sub', 'alice', '--scopes', 'notes:read', '--tool', 'notes_write', '--args', '{"title": "x"}', '--explain', '--exit-code'])
    assert.equal(library.code, 3)
    const e = JSON.parse(library.stdout).explain[0]
    assert.equal(e.code, 'insufficient_scope')
    assert.equal(e.file, 'lib/mcp/authz/scopes.rego')
    assert.equal(e.title, 'insufficient_scope')
    for (const [args, message] of [
      [['--tool', 'notes_read'], /eval needs a principal/],
      [['--sub', 'a'], /eval needs a message/],
      [['--sub', 'a', '--tool', 'x', '--uri', 'notes://a'], /give only one of tool, uri/],
      [['--sub', 'a', '--principal', '{}', '--tool', 'x'], /give the principal one way/],
      [['--token', 'abc', '--tool', 'x'], /--token needs --config/],
    ] as const) {
      const u = await cli(['eval', '--bundle', out, ...args])
      assert.equal(u.code, 2, `${args.join(' ')}: ${u.stderr}`)
      assert.match(u.stderr, message)
    }
  })

  test('usage errors exit 2 with a clear message', async () => {
    const r = await cli(['eval', '--bundle', 'build/bundle.tar.gz', '--principal', '{"subject":1}', '--message', '{}'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--principal is not a principal/)
    assert.equal((await cli(['nonsense'])).code, 2)
  })
})
