/** `eval --token --config`: a real token, verified with the configuration's verifier as the server would. */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildTestBundle } from '../helpers/bundle.ts'
import { quickData } from '../server/helpers.ts'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname
const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 })

describe('mcp-authz eval --token', () => {
  let dir: string
  let config: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-authz-eval-token-'))
    config = join(dir, 'config.yaml')
    await writeFile(config, `bundle:\n  path: ${await buildTestBundle(quickData)}\ndevIssuer:\n  dir: ${join(dir, 'dev')}\n`)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('verifies the token and decides with the principal it yields; a bad token is a 401', () => {
    const token = cli('token', '--dir', join(dir, 'dev'), '--scope', 'notes:read', '--sub', 'alice').stdout.trim()
    const r = cli('eval', '--config', config, '--token', token, '--tool', 'notes_read')
    assert.equal(r.status, 0, r.stderr)
    const d = JSON.parse(r.stdout)
    assert.equal(d.allow, true)
    assert.equal(d.input.principal.subject, 'alice')
    assert.equal(d.input.principal.tenant, 'acme')
    const bad = cli('eval', '--config', config, '--token', `${token.slice(0, -4)}AAAA`, '--tool', 'notes_read', '--exit-code')
    assert.equal(bad.status, 3)
    const b = JSON.parse(bad.stdout)
    assert.equal(b.status, 401)
    assert.match(b.www_authenticate, /^Bearer error="invalid_token"/)
  })
})
