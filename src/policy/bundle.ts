/**
 * Reads an OPA bundle (`opa build -t wasm`): a gzipped tarball with `/policy.wasm`, `/data.json`
 * and `/.manifest`, plus `/.signatures.json` when signed. Sizes are bounded before anything is
 * buffered whole.
 *
 * @module
 */
import { gunzipSync } from 'node:zlib'
import { extract } from 'tar-stream'
import { PolicyError } from './errors.ts'

/** The files of a WASM bundle that the engine uses. */
export interface Bundle {
  /** The compiled policy. */
  wasm: Uint8Array
  /** The parsed `data.json` (an empty object when the bundle has none). */
  data: Record<string, unknown>
  /** The parsed `.manifest` (`revision`, `roots`, `wasm` entrypoint list). */
  manifest: { revision?: string; roots?: string[]; wasm?: Array<{ entrypoint: string; module: string }>; [k: string]: unknown }
  /** The raw `.signatures.json`, when present (verified by the loader, not here). */
  signatures?: unknown
  /** Every file's bytes by path, for signature verification. */
  files: Map<string, Uint8Array>
}

/** Limits on a bundle; defaults in parentheses. */
export interface BundleLimits {
  /** Largest gzipped bundle in bytes (32 MiB). */
  maxCompressedBytes?: number
  /** Largest total of its files in bytes (128 MiB). */
  maxUncompressedBytes?: number
}

/**
 * Parses a gzipped bundle tarball held in memory.
 *
 * @throws {PolicyError} `ERR_BUNDLE_TOO_LARGE`, `ERR_BUNDLE_INVALID`.
 * @example
 * ```ts
 * const bundle = await readBundle(await readFile('build/bundle.tar.gz'))
 * bundle.manifest.revision // e.g. '2026-11-23T12:00:00Z-3f1a2b'
 * ```
 */
export async function readBundle(gz: Uint8Array, limits: BundleLimits = {}): Promise<Bundle> {
  const maxCompressed = limits.maxCompressedBytes ?? 32 * 1024 * 1024
  const maxUncompressed = limits.maxUncompressedBytes ?? 128 * 1024 * 1024
  if (gz.byteLength > maxCompressed) throw new PolicyError('ERR_BUNDLE_TOO_LARGE', `bundle exceeds ${maxCompressed} bytes`)
  let tarball: Buffer
  try {
    tarball = gunzipSync(gz, { maxOutputLength: maxUncompressed })
  } catch (cause) {
    const tooLarge = (cause as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
    throw new PolicyError(tooLarge ? 'ERR_BUNDLE_TOO_LARGE' : 'ERR_BUNDLE_INVALID', tooLarge ? `bundle expands beyond ${maxUncompressed} bytes` : 'bundle is not gzip data', { cause })
  }
  const files = await untar(tarball)
  const wasm = files.get('/policy.wasm')
  if (wasm === undefined) throw new PolicyError('ERR_BUNDLE_INVALID', 'bundle has no /policy.wasm (build it with opa build -t wasm)')
  const data = parseJsonFile(files, '/data.json') ?? {}
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new PolicyError('ERR_BUNDLE_INVALID', '/data.json must hold an object')
  const manifest = parseJsonFile(files, '/.manifest') ?? {}
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) throw new PolicyError('ERR_BUNDLE_INVALID', '/.manifest must hold an object')
  const bundle: Bundle = { wasm, data: data as Record<string, unknown>, manifest: manifest as Bundle['manifest'], files }
  const signatures = parseJsonFile(files, '/.signatures.json')
  if (signatures !== undefined) bundle.signatures = signatures
  return bundle
}

function parseJsonFile(files: Map<string, Uint8Array>, path: string): unknown {
  const bytes = files.get(path)
  if (bytes === undefined) return undefined
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch (cause) {
    throw new PolicyError('ERR_BUNDLE_INVALID', `${path} is not valid JSON`, { cause })
  }
}

function untar(tarball: Buffer): Promise<Map<string, Uint8Array>> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, Uint8Array>()
    const ex = extract()
    ex.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = []
      stream.on('data', (c: unknown) => chunks.push(c as Buffer))
      stream.on('end', () => {
        if (header.type === 'file') {
          const name = '/' + header.name.replace(/^\.?\/+/, '')
          if (name.split('/').includes('..')) return reject(new PolicyError('ERR_BUNDLE_INVALID', 'bundle path escapes its root'))
          files.set(name, Buffer.concat(chunks))
        }
        next()
      })
      stream.on('error', reject)
    })
    ex.on('finish', () => resolve(files))
    ex.on('error', (cause: Error) => reject(new PolicyError('ERR_BUNDLE_INVALID', 'bundle is not a valid tar archive', { cause })))
    ex.end(tarball)
  })
}
