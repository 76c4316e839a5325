/**
 * Compiles the policy library (plus any extra Rego) and a `data.json` into a WASM bundle with the
 * real `opa` CLI: `opa build -t wasm -e mcp/authz/decision -e mcp/authz/visible`.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFile, mkdtemp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { schemaProblems } from '../schemas.ts'
import { ENTRYPOINTS } from './engine.ts'
import { PolicyError } from './errors.ts'

const run = promisify(execFile)

/** The default policy library shipped with mcp-authz (`policies/`). */
export const LIBRARY_DIR = fileURLToPath(new URL('../../policies', import.meta.url))

/** Options of {@link buildBundle}. */
export interface BuildOptions {
  /** Policy data file (validated against `schemas/data.schema.json`). Required. */
  data: string
  /** Output bundle path. Required. */
  out: string
  /** Extra Rego folders or files (e.g. your `mcp.authz.custom` package). Default none. */
  include?: readonly string[]
  /** The policy library folder. Default: the one shipped with mcp-authz. */
  library?: string
  /** Bundle revision. Default: `sha256-` + 16 hex digits of the policies and data (same input, same revision). */
  revision?: string
  /** The `opa` binary. Default: `$MCP_AUTHZ_OPA`, else `opa` on PATH. */
  opa?: string
  /** Time limit for `opa build` in ms. Default 120000. */
  timeoutMs?: number
  /** PEM private key to sign the bundle with (`opa build --signing-key`: writes `.signatures.json`). Default: unsigned. */
  signingKey?: string
  /** Signing algorithm (`opa build --signing-alg`), e.g. `RS256`, `ES256`. Default `RS256`. */
  signingAlg?: string
}

async function regoFiles(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true, recursive: true }).catch(() => undefined)
  if (entries === undefined) return [path]
  return entries.filter((e) => e.isFile() && e.name.endsWith('.rego') && !e.name.endsWith('_test.rego')).map((e) => join(e.parentPath, e.name)).sort()
}

/**
 * Validates the data, then runs `opa build`. Returns the revision.
 *
 * @throws {PolicyError} `ERR_DATA_INVALID` (with every problem by JSON path) or `ERR_OPA_BUILD`.
 * @example
 * ```ts
 * const { revision } = await buildBundle({ data: 'data.json', out: 'build/bundle.tar.gz', include: ['my-policies'] })
 * ```
 */
export async function buildBundle(options: BuildOptions): Promise<{ revision: string; out: string }> {
  if (typeof options.data !== 'string') throw new TypeError('data must be a file path')
  if (typeof options.out !== 'string') throw new TypeError('out must be a file path')
  const library = options.library ?? LIBRARY_DIR
  const include = options.include ?? []
  let data: unknown
  const dataText = await readFile(options.data, 'utf8')
  try {
    data = JSON.parse(dataText)
  } catch (cause) {
    throw new PolicyError('ERR_DATA_INVALID', `${options.data} is not valid JSON`, { cause, problems: [{ path: '$', message: 'is not valid JSON' }] })
  }
  const problems = schemaProblems('data', data)
  if (problems.length > 0) {
    throw new PolicyError('ERR_DATA_INVALID', `${options.data} is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { problems })
  }
  const hash = createHash('sha256')
  for (const dir of [library, ...include]) for (const f of await regoFiles(dir)) hash.update(f.slice(dir.length)).update(await readFile(f))
  hash.update(JSON.stringify(data))
  const revision = options.revision ?? `sha256-${hash.digest('hex').slice(0, 16)}`

  const stage = await mkdtemp(join(tmpdir(), 'mcp-authz-build-'))
  try {
    await writeFile(join(stage, 'data.json'), JSON.stringify(data))
    const out = resolve(options.out)
    await mkdir(dirname(out), { recursive: true })
    const opa = options.opa ?? process.env.MCP_AUTHZ_OPA ?? 'opa'
    const args = ['build', '-t', 'wasm', '-e', ENTRYPOINTS.decision, '-e', ENTRYPOINTS.visible, '--ignore', '*_test.rego', '--revision', revision, '-o', out]
    if (options.signingKey === undefined) {
      args.push(library, ...include, stage)
    } else {
      // Signing needs bundle mode, which wants one root: copy the Rego into the staging folder.
      const sources = [library, ...include]
      for (const [i, dir] of sources.entries()) {
        for (const f of await regoFiles(dir)) {
          const target = join(stage, `src${i}`, f === dir ? basename(f) : f.slice(dir.length))
          await mkdir(dirname(target), { recursive: true })
          await copyFile(f, target)
        }
      }
      args.push('--bundle', '--signing-key', resolve(options.signingKey), '--signing-alg', options.signingAlg ?? 'RS256', stage)
    }
    try {
      await run(opa, args, { timeout: options.timeoutMs ?? 120_000, maxBuffer: 4 * 1024 * 1024 })
    } catch (cause) {
      const stderr = ((cause as { stderr?: string }).stderr?.trim() || (cause as { stdout?: string }).stdout?.trim())
      const missing = (cause as { code?: string }).code === 'ENOENT'
      throw new PolicyError('ERR_OPA_BUILD', missing ? `opa CLI not found (${opa}); run npm run setup or set MCP_AUTHZ_OPA` : `opa build failed${stderr ? `:\n${stderr}` : ''}`, { cause })
    }
    return { revision, out }
  } finally {
    await rm(stage, { recursive: true, force: true })
  }
}
