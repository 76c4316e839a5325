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
    assert.deepEqual(JSON.parse(built.stdout), { bundle: out, revision: 'r1' })

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

  test('usage errors exit 2 with a clear message', async () => {
    const r = await cli(['eval', '--bundle', 'build/bundle.tar.gz', '--principal', '{"subject":1}', '--message', '{}'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--principal is not a principal/)
    assert.equal((await cli(['nonsense'])).code, 2)
  })
})
