import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { after, before, describe, it } from 'node:test'
import tarStream from 'tar-stream'
import { createAuthz } from '../../src/authz.ts'
import { buildBundle } from '../../src/policy/build.ts'
import { createBundleLoader } from '../../src/policy/loader.ts'
import { createSignatureVerifier, untarFiles } from '../../src/policy/signature.ts'
import { buildTestBundle } from '../helpers/bundle.ts'
import { bundleServer, eventually, quickData } from './helpers.ts'
import { tempDir } from '../helpers/temp.ts'

async function repack(files: Map<string, Buffer>): Promise<Buffer> {
  const pack = tarStream.pack()
  for (const [name, content] of files) pack.entry({ name: `/${name}` }, content)
  pack.finalize()
  const chunks: Buffer[] = []
  for await (const c of pack) chunks.push(c as Buffer)
  return gzipSync(Buffer.concat(chunks))
}

describe('bundles in operation', () => {
  let r1: Uint8Array
  let r2: Uint8Array
  before(async () => {
    r1 = await readFile(await buildTestBundle(quickData, { revision: 'r1' }))
    r2 = await readFile(await buildTestBundle(quickData, { revision: 'r2' }))
  })

  it('reloads a watched local bundle when the file is replaced, and keeps the last good one on a bad file', async () => {
    const dir = await tempDir('mcp-authz-watch-')
    const path = join(dir, 'bundle.tar.gz')
    await writeFile(path, r1)
    const authz = await createAuthz({ bundle: path })
    const activated: string[] = []
    const errors: string[] = []
    const loader = createBundleLoader({ target: authz, path, debounceMs: 30, initial: { bytes: r1 }, onActivate: (r) => activated.push(r), onError: (_e, why) => errors.push(why) })
    loader.start()
    try {
      await writeFile(join(dir, 'next.tmp'), r2)
      await rename(join(dir, 'next.tmp'), path)
      await eventually(() => authz.bundle.revision === 'r2')
      assert.deepEqual(activated, ['r2'])
      await writeFile(path, 'not a bundle')
      await eventually(() => errors.length > 0)
      assert.deepEqual(errors, ['load'])
      assert.equal(authz.bundle.revision, 'r2')
    } finally {
      loader.stop()
    }
  })

  it('polls a remote bundle with If-None-Match, gets 304 while unchanged, and switches on a new ETag', async () => {
    const bs = bundleServer()
    const url = await bs.listen()
    try {
      bs.set(r1, '"r1"')
      const authz = await createAuthz({ bundle: r1 })
      const loader = createBundleLoader({ target: authz, url, pollIntervalMs: 50, initial: { bytes: r1, etag: '"r1"' } })
      loader.start()
      await eventually(() => bs.requests.filter((r) => r.status === 304).length >= 2)
      assert.ok(bs.requests.every((r) => r.ifNoneMatch === '"r1"'))
      bs.set(r2, '"r2"')
      await eventually(() => authz.bundle.revision === 'r2')
      assert.equal(loader.etag, '"r2"')
      loader.stop()
    } finally {
      bs.server.close()
    }
  })

  it('refuses a remote bundle over maxBytes and keeps serving', async () => {
    const bs = bundleServer()
    const url = await bs.listen()
    try {
      bs.set(r2, '"r2"')
      const authz = await createAuthz({ bundle: r1 })
      const loader = createBundleLoader({ target: authz, url, maxBytes: 1024 })
      await assert.rejects(loader.refresh(), { code: 'ERR_BUNDLE_TOO_LARGE' })
      assert.equal(authz.bundle.revision, 'r1')
    } finally {
      bs.server.close()
    }
  })

  describe('signed bundles', () => {
    let signed: Buffer
    let publicKey: string
    before(async () => {
      const dir = await tempDir('mcp-authz-sign-')
      const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
      publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' }).toString()
      await writeFile(join(dir, 'key.pem'), pair.privateKey.export({ type: 'pkcs8', format: 'pem' }))
      await writeFile(join(dir, 'data.json'), JSON.stringify(quickData))
      await buildBundle({ data: join(dir, 'data.json'), out: join(dir, 'signed.tar.gz'), signingKey: join(dir, 'key.pem'), revision: 'signed-1' })
      signed = await readFile(join(dir, 'signed.tar.gz'))
    })

    it('accepts a bundle signed by opa build --signing-key, and the engine loads it', async () => {
      const verify = await createSignatureVerifier({ publicKey })
      await verify(signed)
      const authz = await createAuthz({ bundle: signed })
      assert.equal(authz.bundle.revision, 'signed-1')
    })

    it('refuses unsigned, tampered, extended and truncated bundles, and another key', async () => {
      const verify = await createSignatureVerifier({ publicKey })
      await assert.rejects(verify(r1), /not signed/)
      const files = await untarFiles(signed)
      const tampered = new Map(files)
      tampered.set('data.json', Buffer.from(JSON.stringify({ mcp_authz: { ...quickData.mcp_authz, tools: {} } })))
      await assert.rejects(verify(await repack(tampered)), /data\.json does not match/)
      const extended = new Map(files).set('extra.rego', Buffer.from('package x'))
      await assert.rejects(verify(await repack(extended)), /extra\.rego is not covered/)
      const truncated = new Map(files)
      truncated.delete('policy.wasm')
      await assert.rejects(verify(await repack(truncated)), /missing from the bundle: policy\.wasm/)
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString()
      await assert.rejects((await createSignatureVerifier({ publicKey: other }))(signed), /does not verify/)
      // Not required: an unsigned bundle passes, a badly signed one still does not.
      await (await createSignatureVerifier({ publicKey, required: false }))(r1)
    })

    it('a loader with signature verification keeps the last good bundle on a bad signature', async () => {
      const authz = await createAuthz({ bundle: signed })
      const errors: string[] = []
      const dir = await tempDir('mcp-authz-sigload-')
      await writeFile(join(dir, 'b.tar.gz'), r2)
      const loader = createBundleLoader({ target: authz, path: join(dir, 'b.tar.gz'), verify: await createSignatureVerifier({ publicKey }), onError: (_e, why) => errors.push(why) })
      await assert.rejects(loader.refresh())
      assert.deepEqual(errors, ['signature'])
      assert.equal(authz.bundle.revision, 'signed-1')
    })
  })
})
