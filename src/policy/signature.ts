/**
 * Signed bundles, as OPA signs them (`opa build --bundle --signing-key`): the bundle holds
 * `.signatures.json` = `{ "signatures": ["<compact JWS>"] }` whose payload lists every file with its
 * SHA-256 (`files: [{ name, hash, algorithm }]`). JSON files (`*.json`, `.manifest`) are hashed in
 * OPA's canonical form (keys sorted, no whitespace); others byte for byte. A bundle is accepted
 * only when the JWS verifies with the configured public key AND the listed files are exactly the
 * bundle's files with matching hashes — an extra, missing or altered file refuses the bundle.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { compactVerify, importSPKI, type CryptoKey } from 'jose'
import tarStream from 'tar-stream'
import { PolicyError } from './errors.ts'

const SIGNATURES = '.signatures.json'

/** Options of {@link createSignatureVerifier}. */
export interface SignatureOptions {
  /** PEM (SPKI) public key, or the path of a PEM file. Required. */
  publicKey: string
  /** JWS algorithm. Default `RS256`. */
  algorithm?: string
  /** Refuse bundles without `.signatures.json`. Default `true`. */
  required?: boolean
  /** Largest unpacked bundle, bytes. Default 64 MiB. */
  maxUnpackedBytes?: number
}

/** Reads every regular file of a gzipped tarball (names without a leading `/`). */
export async function untarFiles(bytes: Uint8Array, maxUnpackedBytes = 64 * 1024 * 1024): Promise<Map<string, Buffer>> {
  let tar: Buffer
  try {
    tar = gunzipSync(bytes, { maxOutputLength: maxUnpackedBytes })
  } catch (cause) {
    throw new PolicyError('ERR_BUNDLE_INVALID', 'bundle is not a gzipped tarball (or unpacks beyond the size limit)', { cause })
  }
  const files = new Map<string, Buffer>()
  const extract = tarStream.extract()
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = []
      stream.on('data', (c: unknown) => {
        chunks.push(c as Buffer)
      })
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^\/+/, ''), Buffer.concat(chunks))
        next()
      })
      stream.on('error', reject)
    })
    extract.on('finish', () => resolve())
    extract.on('error', reject)
  })
  extract.end(tar)
  try {
    await done
  } catch (cause) {
    throw new PolicyError('ERR_BUNDLE_INVALID', 'bundle tarball is corrupt', { cause })
  }
  return files
}

/** OPA's canonical JSON: object keys sorted, no insignificant whitespace. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    return `{${Object.keys(obj)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`
  }
  return JSON.stringify(value)
}

/** SHA-256 of one bundle file as OPA computes it for signatures. */
export function bundleFileHash(name: string, content: Buffer): string {
  const hash = createHash('sha256')
  if (name.endsWith('.json') || name === '.manifest' || name.endsWith('/.manifest')) {
    try {
      return hash.update(canonicalJson(JSON.parse(content.toString('utf8'))), 'utf8').digest('hex')
    } catch {
      // Not JSON after all: fall back to the raw bytes (the comparison will then fail loudly).
    }
  }
  return hash.update(content).digest('hex')
}

/**
 * Builds the check that refuses unsigned (when required), badly signed or tampered bundles.
 * Plug it into `createBundleLoader({ verify })` and call it before the first `createAuthz`.
 *
 * @example
 * ```ts
 * const verify = await createSignatureVerifier({ publicKey: 'keys/bundle.pub.pem', algorithm: 'RS256' })
 * await verify(await readFile('build/bundle.tar.gz')) // throws PolicyError ERR_BUNDLE_INVALID
 * ```
 */
export async function createSignatureVerifier(options: SignatureOptions): Promise<(bytes: Uint8Array) => Promise<void>> {
  if (typeof options?.publicKey !== 'string') throw new TypeError('publicKey must be a PEM string or a file path')
  const algorithm = options.algorithm ?? 'RS256'
  const pem = options.publicKey.includes('-----BEGIN') ? options.publicKey : readFileSync(options.publicKey, 'utf8')
  let key: CryptoKey
  try {
    key = await importSPKI(pem, algorithm)
  } catch (cause) {
    throw new TypeError(`publicKey is not a ${algorithm} SPKI PEM public key: ${(cause as Error).message}`)
  }
  const required = options.required ?? true
  const refuse = (message: string, cause?: unknown) => new PolicyError('ERR_BUNDLE_INVALID', `bundle signature: ${message}`, cause === undefined ? {} : { cause })

  return async function verifyBundle(bytes: Uint8Array): Promise<void> {
    const files = await untarFiles(bytes, options.maxUnpackedBytes)
    const sigFile = files.get(SIGNATURES)
    if (sigFile === undefined) {
      if (required) throw refuse('the bundle is not signed (no .signatures.json) and signing is required')
      return
    }
    let jws: unknown
    try {
      jws = (JSON.parse(sigFile.toString('utf8')) as { signatures?: unknown[] }).signatures
    } catch (cause) {
      throw refuse('.signatures.json is not JSON', cause)
    }
    if (!Array.isArray(jws) || jws.length !== 1 || typeof jws[0] !== 'string') throw refuse('.signatures.json must hold exactly one signature')
    let payload: { files?: Array<{ name?: unknown; hash?: unknown; algorithm?: unknown }> }
    try {
      const verified = await compactVerify(jws[0], key, { algorithms: [algorithm] })
      payload = JSON.parse(new TextDecoder().decode(verified.payload))
    } catch (cause) {
      throw refuse(`the signature does not verify with the configured key (${(cause as Error).message})`, cause)
    }
    if (!Array.isArray(payload.files)) throw refuse('the signed payload lists no files')
    const listed = new Map<string, string>()
    for (const f of payload.files) {
      if (typeof f.name !== 'string' || typeof f.hash !== 'string') throw refuse('a signed file entry lacks name or hash')
      if (f.algorithm !== undefined && String(f.algorithm).toUpperCase() !== 'SHA-256') throw refuse(`file ${f.name}: unsupported hash algorithm ${String(f.algorithm)}`)
      listed.set(f.name.replace(/^\/+/, ''), f.hash.toLowerCase())
    }
    for (const [name, content] of files) {
      if (name === SIGNATURES) continue
      const want = listed.get(name)
      if (want === undefined) throw refuse(`file ${name} is not covered by the signature`)
      if (bundleFileHash(name, content) !== want) throw refuse(`file ${name} does not match its signed hash`)
      listed.delete(name)
    }
    if (listed.size > 0) throw refuse(`signed file(s) missing from the bundle: ${[...listed.keys()].join(', ')}`)
  }
}
