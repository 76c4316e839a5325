import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { before, describe, it } from 'node:test'
import { decodeJwt, decodeProtectedHeader } from 'jose'
import { buildTestBundle } from '../helpers/bundle.ts'
import { quickData } from '../server/helpers.ts'
import { tempDir } from '../helpers/temp.ts'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname
const cli = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 30_000 })

describe('mcp-authz CLI (endpoint commands)', () => {
  let dir: string
  let config: string
  before(async () => {
    dir = await tempDir('mcp-authz-cli-')
    const bundle = await buildTestBundle(quickData)
    config = join(dir, 'config.yaml')
    await writeFile(config, `bundle:\n  path: ${bundle}\ndevIssuer:\n  dir: ${join(dir, 'dev')}\nserver:\n  port: 0\n`)
  })

  it('token mints a development at+jwt for the resource with the chosen scope', () => {
    const r = cli('token', '--dir', join(dir, 'dev'), '--scope', 'notes:read notes:write', '--sub', 'alice', '--client-id', 'app', '--ttl', '60')
    assert.equal(r.status, 0, r.stderr)
    const token = r.stdout.trim()
    assert.equal(decodeProtectedHeader(token).typ, 'at+jwt')
    assert.equal(decodeProtectedHeader(token).alg, 'ES256')
    const claims = decodeJwt(token)
    assert.equal(claims.iss, 'http://127.0.0.1:8181/dev-issuer')
    assert.equal(claims.aud, 'http://127.0.0.1:8181/mcp')
    assert.equal(claims.scope, 'notes:read notes:write')
    assert.equal(claims.sub, 'alice')
    assert.equal(claims.client_id, 'app')
    assert.equal((claims.exp as number) - (claims.iat as number), 60)
    assert.equal(cli('token', '--ttl', 'soon').status, 2)
  })

  it('check validates configuration, bundle and verifier: exit 0, or 2 with every problem', async () => {
    const ok = cli('check', '--config', config)
    assert.equal(ok.status, 0, ok.stderr)
    assert.equal(JSON.parse(ok.stdout).ok, true)
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'bundle: {}\nserver:\n  port: -1\n  host: 0.0.0.0\nextra: true\n')
    const r = cli('check', '--config', bad)
    assert.equal(r.status, 2)
    for (const path of ['$.bundle', '$.server.port', '$']) assert.ok(r.stderr.includes(`${path}:`), r.stderr)
    const noVerifier = join(dir, 'nover.yaml')
    await writeFile(noVerifier, `bundle:\n  path: ${join(dir, 'missing.tar.gz')}\nverifier:\n  issuers:\n    - issuer: https://as.example.com\n      jwksUri: http://as.example.com/jwks\n`)
    const r2 = cli('check', '--config', noVerifier)
    assert.equal(r2.status, 2)
    assert.match(r2.stderr, /\$\.bundle: .*ENOENT/)
    assert.match(r2.stderr, /\$\.verifier: .*https/)
    // The verifier trusts an issuer the bundle's data does not: refused, naming both places.
    const untrusted = join(dir, 'untrusted.yaml')
    await writeFile(untrusted, `${await readFile(config, 'utf8')}\nverifier:\n  issuers:\n    - issuer: https://evil.example.com\n      jwksUri: https://evil.example.com/jwks\n`)
    const r3 = cli('check', '--config', untrusted)
    assert.equal(r3.status, 2, r3.stderr)
    assert.match(r3.stderr, /\$\.verifier\.issuers\[0\]\.issuer: .*data\.mcp_authz\.issuers/)
  })

  it('serve listens, answers, and stops gracefully on SIGTERM', async () => {
    const child = spawn(process.execPath, [MAIN, 'serve', '--config', config, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let out = ''
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString()
          if (out.includes('\n')) resolve(out.split('\n')[0] as string)
        })
        child.once('exit', (code) => reject(new Error(`serve exited early (${code})`)))
      })
      const { listening } = JSON.parse(line) as { listening: string }
      assert.equal((await fetch(`${listening}/health`)).status, 200)
      const code = await new Promise<number | null>((resolve) => {
        child.once('exit', resolve)
        child.kill('SIGTERM')
      })
      assert.equal(code, 0)
    } finally {
      clearTimeout(timer)
    }
  })

  it('eval --explain names the Rego rule behind each reason', async () => {
    const bundle = await buildTestBundle(quickData)
    const principal = { subject: 'u', issuer: 'http://127.0.0.1:8181/dev-issuer', tenant: 'acme', audience: ['http://127.0.0.1:8181/mcp'], scopes: [], authMethod: 'jwt', tokenId: 't', claims: {} }
    const message = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: {} } }
    const r = cli('eval', '--bundle', bundle, '--principal', JSON.stringify(principal), '--message', JSON.stringify(message), '--explain', '--exit-code')
    assert.equal(r.status, 3, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.explain[0].code, 'insufficient_scope')
    assert.equal(out.explain[0].rule, 'deny') // the deny rule whose METADATA title is the reason code
    assert.match(out.explain[0].file, /scopes\.rego$/)
  })

  it('config-schema prints the JSON Schema of the configuration', () => {
    const r = cli('config-schema')
    assert.equal(r.status, 0)
    assert.equal(JSON.parse(r.stdout).title, 'mcp-authz configuration')
  })
})
