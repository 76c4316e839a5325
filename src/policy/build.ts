/**
 * `mcp-authz build`: validates the policy data, stages the policy library and your Rego under
 * stable bundle paths (`lib/mcp/authz/scopes.rego`, `custom/<folder>/<file>.rego`), checks the Rego
 * for authoring mistakes `opa check` accepts (src/policy/lint.ts), compiles it with the real `opa`
 * CLI in bundle mode (`opa build -t wasm -b`), refuses builtins the runtime cannot execute, and
 * writes what the Rego reads and can answer into the bundle's `.manifest` (`metadata.mcp_authz`,
 * src/policy/analysis.ts) — so what runs is what was analysed, and signing covers the analysis.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DocumentSyntaxError, parseDocumentText } from '../parse-document.ts'
import { schemaProblems } from '../schemas.ts'
import { analyseModules, calledFunctions, MANIFEST_KEY, type BundleAnalysis, type BundleModule } from './analysis.ts'
import { RUNTIME_BUILTINS, unsupportedReason } from './builtins/index.ts'
import { readBundle } from './bundle.ts'
import { ENTRYPOINTS } from './engine.ts'
import { PolicyError } from './errors.ts'
import { lintModules } from './lint.ts'
import { OPA_INSTALL_HINT, OPA_VERSION, opaBinary, runOpa } from './opa-cli.ts'
import { parseRegoFiles } from './rego-ast.ts'
import { filesUnder } from './walk-files.ts'
import { importedBuiltins } from './wasm.ts'

export { OPA_INSTALL_HINT, OPA_VERSION }

/** The default policy library shipped with mcp-authz (`policies/`). */
export const LIBRARY_DIR = fileURLToPath(new URL('../../policies', import.meta.url))

/** Options of {@link buildBundle}. */
export interface BuildOptions {
  /** Policy data file, JSON or YAML (validated against `schemas/data.schema.json`). Required. */
  data: string
  /** Output bundle path. Required. */
  out: string
  /** Extra Rego folders or files (your `mcp.authz.custom` package). `_test.rego` files are skipped. Default none. */
  include?: readonly string[]
  /** The policy library folder. Default: the one shipped with mcp-authz (then it is not analysed for input reads). */
  library?: string
  /** Bundle revision. Default: `sha256-` + 16 hex digits of the staged Rego and the data (same input, same revision). */
  revision?: string
  /** The `opa` binary. Default: `$MCP_AUTHZ_OPA`, else `opa` on PATH. */
  opa?: string
  /** Time limit for each `opa` run in ms. Default 120000. */
  timeoutMs?: number
  /** PEM private key to sign the bundle with (`opa build --signing-key`: writes `.signatures.json`). Default: unsigned. */
  signingKey?: string
  /** Signing algorithm (`opa build --signing-alg`), e.g. `RS256`, `ES256`. Default `RS256`. */
  signingAlg?: string
}

/** What {@link buildBundle} produced. */
export interface BuildResult {
  /** The bundle's revision. */
  revision: string
  /** Absolute path of the bundle written. */
  out: string
  /** The analysis written into the manifest. */
  analysis: BundleAnalysis
}

/** A Rego file to stage: where it comes from and where it goes in the bundle. */
interface Source {
  /** The file as the user named it (for messages). */
  from: string
  /** Path inside the bundle (`lib/…` or `custom/…`), with `/` separators. */
  to: string
  library: boolean
}

const isRegoSource = (name: string) => name.endsWith('.rego') && !name.endsWith('_test.rego')

const regoFilesUnder = (dir: string) => filesUnder(dir, isRegoSource)

const toPosix = (p: string) => p.split(sep).join('/')

/** The user's spelling of a path, relative to the current folder when inside it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel !== '' && !rel.startsWith('..') ? rel : path
}

/** Lists the Rego to stage: the library under `lib/`, each `--include` under `custom/`. */
async function collectSources(library: string, include: readonly string[]): Promise<Source[]> {
  const sources: Source[] = []
  const libraryFiles = await regoFilesUnder(library).catch((cause: unknown) => {
    throw new PolicyError('ERR_POLICY_INVALID', `policy library ${library} cannot be read: ${(cause as Error).message}`, { cause })
  })
  for (const f of libraryFiles) sources.push({ from: f, to: `lib/${toPosix(relative(library, f))}`, library: true })
  for (const given of include) {
    const path = resolve(given)
    const info = await stat(path).catch(() => undefined)
    if (info === undefined) throw new PolicyError('ERR_POLICY_INVALID', `--include ${given}: no such file or folder`, { problems: [{ path: given, message: 'no such file or folder' }] })
    if (info.isDirectory()) {
      const files = await regoFilesUnder(path)
      if (files.length === 0) throw new PolicyError('ERR_POLICY_INVALID', `--include ${given}: no .rego files (test files *_test.rego are not part of a bundle)`, { problems: [{ path: given, message: 'no .rego files' }] })
      for (const f of files) sources.push({ from: f, to: `custom/${basename(path)}/${toPosix(relative(path, f))}`, library: false })
    } else {
      if (!isRegoSource(path)) throw new PolicyError('ERR_POLICY_INVALID', `--include ${given}: not a .rego policy file${path.endsWith('_test.rego') ? ' (test files are run by mcp-authz test, not bundled)' : ''}`, { problems: [{ path: given, message: 'not a .rego policy file' }] })
      sources.push({ from: path, to: `custom/${basename(path)}`, library: false })
    }
  }
  const seen = new Map<string, string>()
  for (const s of sources) {
    const other = seen.get(s.to)
    if (other !== undefined) throw new PolicyError('ERR_POLICY_INVALID', `${shown(s.from)} and ${shown(other)} would both be ${s.to} in the bundle: give the folders distinct names`)
    seen.set(s.to, s.from)
  }
  return sources
}

/**
 * Reads and validates a policy data file (JSON, or YAML for `.yaml` / `.yml`).
 *
 * @throws {PolicyError} `ERR_DATA_INVALID` with every problem: syntax errors by line and column,
 *   schema problems by JSON path (unknown keys with a "did you mean").
 * @example
 * ```ts
 * const data = await readDataFile('examples/policies/data.json') // { mcp_authz: { … } }
 * ```
 */
export async function readDataFile(file: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    throw new PolicyError('ERR_DATA_INVALID', `cannot read policy data ${file}: ${(cause as Error).message}`, { cause, problems: [{ path: '$', message: 'cannot be read' }] })
  }
  let data: unknown
  try {
    data = parseDocumentText(text, /\.ya?ml$/i.test(file) ? file : file.replace(/(\.json)?$/i, '.json'))
  } catch (cause) {
    if (!(cause instanceof DocumentSyntaxError)) throw cause
    throw new PolicyError('ERR_DATA_INVALID', cause.message.replace(/^[^\n]*\.json(?= is)/, file), { cause, problems: cause.problems.map((p) => ({ path: `${file}:${p.line}:${p.column}`, message: p.message })) })
  }
  const problems = schemaProblems('data', data)
  if (problems.length > 0) throw new PolicyError('ERR_DATA_INVALID', `${file} is invalid:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { problems })
  return data as Record<string, unknown>
}

/** Rewrites bundle paths (and the staging folder) in opa's messages to the files the user wrote. */
function userPaths(text: string, stage: string, sources: readonly Source[]): string {
  let out = text.split(`${stage}${sep}`).join('').split(`${toPosix(stage)}/`).join('')
  for (const s of [...sources].sort((a, b) => b.to.length - a.to.length)) if (!s.library) out = out.split(s.to).join(shown(s.from))
  return out
}

function rethrowWithUserPaths(err: unknown, stage: string, sources: readonly Source[]): never {
  if (err instanceof PolicyError && err.code === 'ERR_OPA_BUILD') throw new PolicyError('ERR_OPA_BUILD', userPaths(err.message, stage, sources), { cause: err.cause })
  throw err
}

/**
 * Validates the data, stages and checks the Rego, compiles it with `opa build -t wasm`, and writes
 * the bundle with its analysis in the manifest. Returns the revision and the analysis.
 *
 * @throws {PolicyError} `ERR_DATA_INVALID` (every problem by JSON path or line:column),
 *   `ERR_POLICY_INVALID` (authoring mistakes, each with file:line and the fix),
 *   `ERR_BUILTIN_UNSUPPORTED` (naming the builtin and where it is called), `ERR_OPA_BUILD`
 *   (opa's own message, with your file names), `ERR_OPA_MISSING` (how to install opa).
 * @example
 * ```ts
 * const { revision, analysis } = await buildBundle({ data: 'data.json', out: 'build/bundle.tar.gz', include: ['my-policies'] })
 * analysis.inputRefs // [['action', 'arguments', 'path'], ['principal', 'subject']]
 * ```
 */
export async function buildBundle(options: BuildOptions): Promise<BuildResult> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object')
  if (typeof options.data !== 'string' || options.data === '') throw new TypeError('data must be a file path')
  if (typeof options.out !== 'string' || options.out === '') throw new TypeError('out must be a file path')
  if (options.include !== undefined && (!Array.isArray(options.include) || !options.include.every((i) => typeof i === 'string'))) throw new TypeError('include must be an array of paths')
  return compile(await readDataFile(options.data), options)
}

/** Options of {@link buildLibraryBundle}. */
export interface LibraryBuildOptions {
  /** Output bundle path. Required. */
  out: string
  /** The `opa` binary. Default: `$MCP_AUTHZ_OPA`, else `opa` on PATH. */
  opa?: string
  /** Time limit for each `opa` run in ms. Default 120000. */
  timeoutMs?: number
}

/**
 * Compiles the shipped policy library alone, with no data: the prebuilt module the package ships,
 * into which `createAuthz({ data })` loads policy data at run time (so data-only users need no
 * `opa`). Run by `scripts/setup.sh` and before `npm pack`.
 *
 * @example
 * ```ts
 * await buildLibraryBundle({ out: 'dist/policy-library.tar.gz' })
 * ```
 */
export async function buildLibraryBundle(options: LibraryBuildOptions): Promise<BuildResult> {
  if (options === null || typeof options !== 'object' || typeof options.out !== 'string' || options.out === '') throw new TypeError('out must be a file path')
  return compile({}, { ...options, data: '(none)' })
}

async function compile(data: Record<string, unknown>, options: BuildOptions): Promise<BuildResult> {
  const library = resolve(options.library ?? LIBRARY_DIR)
  const shippedLibrary = (await realpath(library).catch(() => library)) === (await realpath(LIBRARY_DIR).catch(() => LIBRARY_DIR))
  const opa = opaBinary(options.opa)
  const timeoutMs = options.timeoutMs ?? 120_000
  const sources = await collectSources(library, options.include ?? [])

  const hash = createHash('sha256')
  for (const s of sources) hash.update(s.to).update('\0').update(await readFile(s.from)).update('\0')
  hash.update(JSON.stringify(data))
  const revision = options.revision ?? `sha256-${hash.digest('hex').slice(0, 16)}`

  const work = await mkdtemp(join(tmpdir(), 'mcp-authz-build-'))
  const stage = join(work, 'bundle')
  try {
    for (const s of sources) {
      const target = join(stage, ...s.to.split('/'))
      await mkdir(dirname(target), { recursive: true })
      await copyFile(s.from, target)
    }
    await writeFile(join(stage, 'data.json'), JSON.stringify(data))

    // Library only (no custom Rego, the shipped library): nothing user-written to lint or analyse
    // for input reads. (A prebuilt library module can replace the compile step on this path.)
    const libraryOnly = shippedLibrary && sources.every((s) => s.library)
    const asts = await parseRegoFiles(opa, stage, sources.map((s) => s.to), timeoutMs).catch((err: unknown) => rethrowWithUserPaths(err, stage, sources))
    const modules: BundleModule[] = sources.map((s) => ({ file: s.to, library: s.library && shippedLibrary, ast: asts.get(s.to) as BundleModule['ast'] }))
    if (!libraryOnly) {
      const problems = lintModules(modules)
      if (problems.length > 0) {
        const byFile = (file: string) => shown(sources.find((s) => s.to === file)?.from ?? file)
        const listed = problems.map((p) => ({ path: `${byFile(p.file)}:${p.line}`, message: p.message }))
        throw new PolicyError('ERR_POLICY_INVALID', `the policy has ${problems.length === 1 ? 'a mistake' : `${problems.length} mistakes`} that would make it run differently than written:\n${listed.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`, { problems: listed })
      }
    }

    const entrypoints = ['-e', ENTRYPOINTS.decision, '-e', ENTRYPOINTS.visible]
    // First compile: learn which builtins the module imports, before anything is written.
    const probe = join(work, 'probe.tar.gz')
    // Run inside the staging folder on '.', so the bundle names files lib/… and custom/…, never a path of the build machine.
    await runOpa(opa, ['build', '-t', 'wasm', '-b', '.', ...entrypoints, '-o', probe], { cwd: stage, timeoutMs }).catch((err: unknown) => rethrowWithUserPaths(err, stage, sources))
    const builtins = await importedBuiltins((await readBundle(await readFile(probe))).wasm)
    const missing = builtins.filter((b) => !Object.hasOwn(RUNTIME_BUILTINS, b))
    if (missing.length > 0) {
      const problems = missing.map((name) => {
        const sites = modules.flatMap((m) => calledFunctions(m.ast).filter((c) => c.name === name).map((c) => `${shown(sources.find((s) => s.to === m.file)?.from ?? m.file)}:${c.row}`))
        return { path: sites[0] ?? name, message: `${name}${sites.length > 0 ? ` (called at ${sites.slice(0, 5).join(', ')})` : ''}: ${unsupportedReason(name)}` }
      })
      throw new PolicyError('ERR_BUILTIN_UNSUPPORTED', `the policy calls ${missing.length === 1 ? 'a builtin' : 'builtins'} the mcp-authz runtime cannot execute, so every decision would fail:\n${problems.map((p) => `  ${p.message}`).join('\n')}`, { problems })
    }

    const analysis: BundleAnalysis = { ...analyseModules(modules), builtins }
    await writeFile(join(stage, '.manifest'), JSON.stringify({ revision, metadata: { [MANIFEST_KEY]: analysis } }))
    const out = resolve(options.out)
    await mkdir(dirname(out), { recursive: true })
    const args = ['build', '-t', 'wasm', '-b', '.', ...entrypoints, '-o', out]
    if (options.signingKey !== undefined) args.push('--signing-key', resolve(options.signingKey), '--signing-alg', options.signingAlg ?? 'RS256')
    await runOpa(opa, args, { cwd: stage, timeoutMs }).catch((err: unknown) => rethrowWithUserPaths(err, stage, sources))
    return { revision, out, analysis }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}
