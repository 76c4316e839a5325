/**
 * The CLI's exit codes as documented (README "CLI"): 2 for configuration, bundle and usage errors,
 * with a message that says what to fix — never "unexpected error" for a user's mistake. Each case
 * runs the real CLI as a process.
 */
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { buildTestBundle } from '../helpers/bundle.ts'
import { quickData } from '../server/helpers.ts'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname
const cli = (args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000, cwd: options.cwd, env: { ...process.env, ...options.env } })

describe('CLI exit codes', () => {
  let dir: string
  let bundle: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-authz-exit-'))
    bundle = await buildTestBundle(quickData)
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('serve with a missing bundle: 2, naming the file', async () => {
    const config = join(dir, 'missing.yaml')
    await writeFile(config, `bundle:\n  path: ${join(dir, 'nope.tar.gz')}\nserver:\n  port: 0\n`)
    const r = cli(['serve', '--config', config])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /cannot read .*nope\.tar\.gz: no such file/)
    assert.doesNotMatch(r.stderr, /unexpected/)
  })

  it('serve with a verifier it cannot build: 2, naming $.verifier', async () => {
    const config = join(dir, 'badverifier.yaml')
    await writeFile(config, `bundle:\n  path: ${bundle}\nserver:\n  port: 0\nverifier:\n  clockTolerance: -5\n  issuers:\n    - { issuer: "http://127.0.0.1:8181/dev-issuer", jwksUri: "http://127.0.0.1:8181/dev-issuer/jwks" }\n`)
    const r = cli(['serve', '--config', config])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /\$\.verifier: .*clockTolerance/)
    assert.doesNotMatch(r.stderr, /unexpected/)
  })

  it('serve on a port already in use: 2, saying so', async (t) => {
    const busy = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    t.after(() => new Promise<void>((resolve) => busy.close(() => resolve())))
    const port = (busy.address() as { port: number }).port
    const config = join(dir, 'busy.yaml')
    await writeFile(config, `bundle:\n  path: ${bundle}\ndevIssuer:\n  dir: ${join(dir, 'dev')}\nserver:\n  port: ${port}\n`)
    // Asynchronous: the busy listener must keep answering while the CLI tries the port.
    const r = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN, 'serve', '--config', config, '--log-level', 'fatal'], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
      child.once('exit', (status) => {
        clearTimeout(timer)
        resolve({ status, stderr })
      })
    })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use`))
  })

  it('eval --bundle nope: 2', () => {
    const r = cli(['eval', '--bundle', join(dir, 'nope.tar.gz'), '--sub', 'alice', '--tool', 'notes_read'])
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /cannot read .*nope\.tar\.gz: no such file/)
  })

  it('build without --data and no data file here: 2 with the fix; it never reads data from the package folder', () => {
    const r = cli(['build', '--out', join(dir, 'b.tar.gz')], { cwd: dir })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /build needs the policy data: --data <file> \(no data\.json, data\.yaml or data\.yml in the current folder\)/)
  })

  it('build finds data.json in the current folder', async () => {
    const here = await mkdtemp(join(dir, 'here-'))
    await writeFile(join(here, 'data.json'), JSON.stringify(quickData))
    const r = cli(['build', '--out', 'b.tar.gz', '--revision', 'here'], { cwd: here })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(JSON.parse(r.stdout).revision, 'here')
  })

  it('opa missing: 2, saying how to install it (not npm run setup)', async () => {
    const data = join(dir, 'data.json')
    await writeFile(data, JSON.stringify(quickData))
    const r = cli(['build', '--data', data, '--out', join(dir, 'c.tar.gz')], { env: { MCP_AUTHZ_OPA: join(dir, 'no-such-opa') } })
    assert.equal(r.status, 2, r.stderr)
    assert.match(r.stderr, /go install github\.com\/open-policy-agent\/opa@v1\.22\.2/)
    assert.match(r.stderr, /MCP_AUTHZ_OPA/)
    assert.doesNotMatch(r.stderr, /npm run setup/)
  })

  it('unknown commands and options: 2', () => {
    assert.equal(cli(['nonsense']).status, 2)
    assert.equal(cli(['eval', '--no-such-flag']).status, 2)
  })
})
