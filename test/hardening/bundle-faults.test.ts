/**
 * Bundle faults in operation and at start-up (127.0.0.1, bounded):
 *
 * - a reload from a broken bundle — truncated, not gzip, corrupt / foreign / truncated WASM, data
 *   failing its schema, a path escaping the bundle root, a gzip bomb, a bad signature — or from a
 *   bundle server that is down, answers 500, hangs past the timeout, or sends an oversize body, is
 *   refused: the previous bundle keeps serving (same revision, same decisions), the failure is
 *   visible (loader `onError` reason; on the decision endpoint `/ready` stays ready on the old
 *   revision and `mcp_authz_bundle_reload_failures_total{reason}` counts it), and a later good
 *   bundle is picked up. A `304 Not Modified` is not a failure and changes nothing.
 * - a first start without any valid bundle refuses to start (`createAuthz` / `startServer` reject);
 *   nothing is ever allowed by default.
 */
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import tarStream from 'tar-stream'
import { createAuthz, type Authz } from '../../src/authz.ts'
import { parseConfig } from '../../src/config/load.ts'
import { buildBundle } from '../../src/policy/build.ts'
import { createBundleLoader } from '../../src/policy/loader.ts'
import { PolicyError } from '../../src/policy/errors.ts'
import { createSignatureVerifier, untarFiles } from '../../src/policy/signature.ts'
import { startServer, type RunningServer } from '../../src/server/start.ts'
import type { Principal } from '../../src/verify/index.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'
import { closedPortUrl, startLoopback, type LoopbackHandler, type LoopbackServer } from '../helpers/verify-loopback.ts'
import { noHang, summaryAtExit } from './helpers.ts'
import { tempDir } from '../helpers/temp.ts'

const alice: Principal = testPrincipal
const readCall = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_read', arguments: {} } }
const writeCall = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'x' } } }
const stricter = { mcp_authz: { ...testData.mcp_authz, tools: { ...testData.mcp_authz.tools, notes_read: { scopes: ['notes:admin'] } } } }

let good: Buffer
let next: Buffer
let broken: Array<[string, Buffer, string]> = []
const faults: string[] = []
/** A verifier configuration for the endpoint (API keys only: the bundle is what is under test). */
const VERIFIER = { apiKeys: { keys: [{ hash: `sha256:${'ab'.repeat(32)}`, subject: 'ci' }] } }
summaryAtExit('bundle-faults', () => ({ faults: faults.length }))

async function pack(files: Map<string, Buffer>, names: (n: string) => string = (n) => `/${n}`): Promise<Buffer> {
  const p = tarStream.pack()
  for (const [name, content] of files) p.entry({ name: names(name) }, content)
  p.finalize()
  const chunks: Buffer[] = []
  for await (const c of p) chunks.push(c as Buffer)
  return gzipSync(Buffer.concat(chunks))
}

async function withFile(bytes: Buffer, name: string, content: Buffer | undefined): Promise<Buffer> {
  const files = new Map(await untarFiles(bytes))
  if (content === undefined) files.delete(name)
  else files.set(name, content)
  return pack(files)
}

/** Same decisions as the good bundle: notes_read allowed, notes_write a scope step-up. */
function assertServingGood(authz: Authz, what: string): void {
  assert.equal(authz.bundle.revision, 'good', `${what}: revision changed`)
  assert.equal(authz.decide(alice, readCall).allow, true, what)
  assert.deepEqual(authz.decide(alice, writeCall).requiredScopes, ['notes:write'], what)
}

before(async () => {
  good = await readFile(await buildTestBundle(testData, { revision: 'good' }))
  next = await readFile(await buildTestBundle(stricter, { revision: 'next' }))
  const wasm = (await untarFiles(good)).get('policy.wasm') as Buffer
  broken = [
    ['truncated bundle', good.subarray(0, Math.floor(good.length / 2)), 'ERR_BUNDLE_INVALID'],
    ['empty file', Buffer.alloc(0), 'ERR_BUNDLE_INVALID'],
    ['not gzip', Buffer.from('<html>502 Bad Gateway</html>'), 'ERR_BUNDLE_INVALID'],
    ['gzip, not tar', gzipSync(Buffer.from('x'.repeat(4096))), 'ERR_BUNDLE_INVALID'],
    ['no policy.wasm', await withFile(good, 'policy.wasm', undefined), 'ERR_BUNDLE_INVALID'],
    ['truncated WASM', await withFile(good, 'policy.wasm', wasm.subarray(0, 200)), 'ERR_POLICY_LOAD'],
    ['garbage WASM', await withFile(good, 'policy.wasm', Buffer.from('\0asm garbage garbage garbage')), 'ERR_POLICY_LOAD'],
    ['a WASM module that is not a policy', await withFile(good, 'policy.wasm', Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])), 'ERR_POLICY_LOAD'],
    ['data failing its schema', await withFile(good, 'data.json', Buffer.from(JSON.stringify({ mcp_authz: { resource: 'not a uri', issuers: 7 } }))), 'ERR_DATA_INVALID'],
    ['data not JSON', await withFile(good, 'data.json', Buffer.from('{"mcp_authz":')), 'ERR_BUNDLE_INVALID'],
    ['data for another resource', await withFile(good, 'data.json', Buffer.from(JSON.stringify({ mcp_authz: { ...testData.mcp_authz, resource: 'https://other.example.com/mcp' } }))), 'ERR_DATA_INVALID'],
    ['a path escaping the bundle root', await pack(new Map(await untarFiles(good)), (n) => (n === 'data.json' ? '../../data.json' : `/${n}`)), 'ERR_BUNDLE_INVALID'],
    ['a gzip bomb (beyond maxUncompressedBytes)', gzipSync(Buffer.alloc(3 * 1024 * 1024)), 'ERR_BUNDLE_TOO_LARGE'],
  ]
})

async function makeAuthz(): Promise<Authz> {
  // resource pinned (as a deployment would): a bundle for another resource is refused.
  return createAuthz({ bundle: good, resource: testData.mcp_authz.resource, engine: { bundleLimits: { maxUncompressedBytes: 2 * 1024 * 1024 } } })
}

describe('reload faults: the previous bundle keeps serving and the failure is reported', () => {
  it('broken bundle files (authz.load and a watched path) are refused with a typed error', async () => {
    const authz = await makeAuthz()
    const dir = await tempDir('mcp-authz-bundle-')
    const path = join(dir, 'bundle.tar.gz')
    const reasons: string[] = []
    const loader = createBundleLoader({ target: authz, path, watch: false, onError: (_e, why) => reasons.push(why) })
    try {
      for (const [name, bytes, code] of broken) {
        await assert.rejects(authz.load(bytes), (e: unknown) => e instanceof PolicyError && e.code === code, `${name}: expected ${code}`)
        assertServingGood(authz, name)
        await writeFile(path, bytes)
        await assert.rejects(loader.refresh(), PolicyError, name)
        assert.equal(reasons.at(-1), 'load', name)
        assertServingGood(authz, `${name} (loader)`)
        faults.push(`file: ${name}`)
      }
      await rm(path)
      await assert.rejects(loader.refresh())
      assert.equal(reasons.at(-1), 'download', 'missing file')
      assertServingGood(authz, 'missing file')
      faults.push('file: missing')
      await writeFile(path, next)
      assert.equal(await loader.refresh(), 'next', 'a good bundle is picked up afterwards')
    } finally {
      loader.stop()
      await rm(dir, { recursive: true, force: true })
    }
  })

  describe('remote bundle server faults', () => {
    let server: LoopbackServer
    let authz: Authz
    const reasons: string[] = []
    let loader: ReturnType<typeof createBundleLoader>
    before(async () => {
      server = await startLoopback()
      authz = await makeAuthz()
      loader = createBundleLoader({ target: authz, url: `${server.url}/bundle.tar.gz`, timeoutMs: 300, maxBytes: 512 * 1024, initial: { bytes: good, etag: '"good"' }, onError: (_e, why) => reasons.push(why) })
    })
    after(() => server.close())

    const serve = (bytes: Buffer, etag: string): LoopbackHandler => (req, res) => {
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304).end()
      res.writeHead(200, { etag, 'content-type': 'application/gzip', 'content-length': bytes.length }).end(bytes)
    }
    const SERVER_FAULTS: Array<[string, LoopbackHandler]> = [
      ['HTTP 500', (_req, res) => void res.writeHead(500).end('oops')],
      ['HTTP 404', (_req, res) => void res.writeHead(404).end()],
      ['a redirect (not followed)', (_req, res) => void res.writeHead(302, { location: 'http://127.0.0.1:1/x' }).end()],
      ['slow headers (beyond the timeout)', () => new Promise(() => {})],
      [
        'slow body (beyond the timeout)',
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'application/gzip' })
          res.write(good.subarray(0, 100))
        },
      ],
      ['oversize body', (_req, res) => void res.writeHead(200, { 'content-type': 'application/gzip' }).end(Buffer.alloc(600 * 1024))],
      ['connection reset', (_req, res) => void res.socket?.destroy()],
    ]

    it('server faults: download failures, nothing activated, bounded by the timeout', async () => {
      for (const [name, handler] of SERVER_FAULTS) {
        server.handle(handler)
        const before = reasons.length
        await noHang(assert.rejects(loader.refresh(), PolicyError, name), 5000, name)
        assert.deepEqual(reasons.slice(before), ['download'], name)
        assertServingGood(authz, name)
        faults.push(`server: ${name}`)
      }
    })

    it('server down (closed port): download failure, previous bundle serving', async () => {
      const down = createBundleLoader({ target: authz, url: `${await closedPortUrl()}/bundle.tar.gz`, timeoutMs: 300, onError: (_e, why) => reasons.push(why) })
      await noHang(assert.rejects(down.refresh(), PolicyError), 5000, 'closed port')
      assert.equal(reasons.at(-1), 'download')
      assertServingGood(authz, 'closed port')
      faults.push('server: down')
    })

    it('broken bundles served with a new ETag: load failures; the ETag is not remembered, so the fix is retried', async () => {
      for (const [name, bytes] of broken) {
        server.handle(serve(bytes, `"broken-${name.length}"`))
        await assert.rejects(loader.refresh(), PolicyError, name)
        assert.equal(reasons.at(-1), 'load', name)
        assertServingGood(authz, name)
        assert.equal(loader.etag, '"good"', 'a refused bundle does not advance the ETag')
        faults.push(`served: ${name}`)
      }
    })

    it('304 Not Modified: no change, no failure', async () => {
      server.handle(serve(good, '"good"'))
      const before = reasons.length
      assert.equal(await loader.refresh(), undefined)
      assert.equal(reasons.length, before)
      assertServingGood(authz, '304')
      faults.push('server: 304')
      server.handle(serve(next, '"next"'))
      assert.equal(await loader.refresh(), 'next', 'recovers with the next good bundle')
      assert.equal(authz.decide(alice, readCall).allow, false, 'and its decisions apply')
    })
  })
})

describe('the decision endpoint makes reload failures visible: /ready, metrics; signatures enforced', () => {
  let running: RunningServer
  let bundles: LoopbackServer
  let signedGood: Buffer
  let signedNext: Buffer
  let current: { bytes: Buffer; etag: string } | { fault: LoopbackHandler }
  const reloadErrors: string[] = []

  before(async () => {
    const dir = await tempDir('mcp-authz-signed-')
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    await writeFile(join(dir, 'key.pem'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }))
    await writeFile(join(dir, 'data.json'), JSON.stringify(testData))
    await writeFile(join(dir, 'next.json'), JSON.stringify(stricter))
    await buildBundle({ data: join(dir, 'data.json'), out: join(dir, 'good.tar.gz'), signingKey: join(dir, 'key.pem'), revision: 'good' })
    await buildBundle({ data: join(dir, 'next.json'), out: join(dir, 'next.tar.gz'), signingKey: join(dir, 'key.pem'), revision: 'next' })
    signedGood = await readFile(join(dir, 'good.tar.gz'))
    signedNext = await readFile(join(dir, 'next.tar.gz'))
    current = { bytes: signedGood, etag: '"good"' }
    bundles = await startLoopback((req, res) => {
      if ('fault' in current) return current.fault(req, res)
      if (req.headers['if-none-match'] === current.etag) return void res.writeHead(304).end()
      res.writeHead(200, { etag: current.etag, 'content-type': 'application/gzip' }).end(current.bytes)
    })
    const config = parseConfig(
      {
        bundle: { url: `${bundles.url}/bundle.tar.gz`, pollIntervalSeconds: 0.05, timeoutMs: 300, signing: { publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() } },
        server: { port: 0 },
        verifier: VERIFIER,
      },
      { env: {} },
    )
    running = await startServer(config, { onReloadError: (_e, why) => reloadErrors.push(why) })
  })
  after(async () => {
    await running?.close()
    await bundles?.close()
  })

  const ready = async () => (await (await fetch(`${running.url}/ready`, { signal: AbortSignal.timeout(5000) })).json()) as { status: string; revision?: string }
  const failures = async (reason: string) => {
    const text = await (await fetch(`${running.url}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
    return Number(new RegExp(`^mcp_authz_bundle_reload_failures_total\\{reason="${reason}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0)
  }
  async function waitFor(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
    await noHang(
      (async () => {
        while (!(await check())) await new Promise((r) => setTimeout(r, 20))
      })(),
      8000,
      what,
    )
  }

  it('bad signature, tampered data, unsigned bundle, server 500: ready on the old revision, counted by reason', async () => {
    const initial = await ready()
    assert.deepEqual([initial.status, initial.revision], ['ready', 'good'])
    const files = new Map(await untarFiles(signedGood))
    files.set('data.json', Buffer.from(JSON.stringify(stricter)))
    const tampered = await pack(files)
    const cases: Array<[string, typeof current, string]> = [
      ['unsigned bundle', { bytes: good, etag: '"unsigned"' }, 'signature'],
      ['tampered data (signature no longer matches)', { bytes: tampered, etag: '"tampered"' }, 'signature'],
      ['truncated signed bundle', { bytes: signedNext.subarray(0, 300), etag: '"truncated"' }, 'signature'],
      ['HTTP 500', { fault: (_req, res) => void res.writeHead(500).end() }, 'download'],
      ['slow server', { fault: () => new Promise(() => {}) }, 'download'],
    ]
    for (const [name, serve, reason] of cases) {
      const before = await failures(reason)
      current = serve
      await waitFor(async () => (await failures(reason)) >= before + 2, `${name}: failures counted`)
      const r = await ready()
      assert.equal(r.status, 'ready', name)
      assert.equal(r.revision, 'good', `${name}: still serving the previous bundle`)
      const d = await fetch(`${running.url}/v1/data/mcp/authz/decision`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ input: { principal: alice, action: { method: 'tools/call', kind: 'tool', name: 'notes_read' }, server: { resource: testData.mcp_authz.resource }, context: { time_ns: 0, transport: 'http' } } }),
        signal: AbortSignal.timeout(5000),
      })
      assert.equal(((await d.json()) as { result: { allow: boolean } }).result.allow, true, `${name}: decisions of the previous bundle`)
      faults.push(`endpoint: ${name}`)
    }
    assert.ok(reloadErrors.includes('signature') && reloadErrors.includes('download'))
    current = { bytes: signedNext, etag: '"next"' }
    await waitFor(async () => (await ready()).revision === 'next', 'the next signed bundle is activated')
  })
})

describe('a first start without a valid bundle refuses to start (never allows by default)', () => {
  it('createAuthz rejects every broken bundle and a missing file', async () => {
    for (const [name, bytes] of broken) {
      await assert.rejects(createAuthz({ bundle: bytes, resource: testData.mcp_authz.resource, engine: { bundleLimits: { maxUncompressedBytes: 2 * 1024 * 1024 } } }), PolicyError, name)
    }
    await assert.rejects(createAuthz({ bundle: '/nonexistent/bundle.tar.gz' }), { code: 'ENOENT' })
    faults.push('start: broken bundles', 'start: missing file')
  })

  it('startServer rejects when the bundle server is down, answers 500, or serves a broken or unsigned bundle', async () => {
    const server = await startLoopback()
    try {
      const attempts: Array<[string, string, LoopbackHandler | undefined, Record<string, unknown>]> = [
        ['server down', `${await closedPortUrl()}/b.tar.gz`, undefined, {}],
        ['HTTP 500', `${server.url}/b.tar.gz`, (_req, res) => void res.writeHead(500).end(), {}],
        ['slow server', `${server.url}/b.tar.gz`, () => new Promise(() => {}), {}],
        ['truncated bundle', `${server.url}/b.tar.gz`, (_req, res) => void res.writeHead(200).end(good.subarray(0, 500)), {}],
        ['unsigned bundle with signing required', `${server.url}/b.tar.gz`, (_req, res) => void res.writeHead(200).end(good), { signing: { publicKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString() } }],
      ]
      for (const [name, url, handler, extra] of attempts) {
        if (handler) server.handle(handler)
        const config = parseConfig({ bundle: { url, timeoutMs: 300, ...extra }, server: { port: 0 }, verifier: VERIFIER }, { env: {} })
        await noHang(assert.rejects(startServer(config), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_BUNDLE_INVALID', name), 5000, name)
        faults.push(`start: ${name}`)
      }
    } finally {
      await server.close()
    }
  })
})
