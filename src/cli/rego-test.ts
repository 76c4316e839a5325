/**
 * Runs a user's Rego unit tests with the real `opa test`, the policy library beside them (so tests
 * can import `data.mcp.authz`) and the policy data loaded, and reports each test with the file and
 * line the user wrote.
 *
 * @module
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { LIBRARY_DIR } from '../policy/build.ts'
import { PolicyError } from '../policy/errors.ts'
import { opaBinary, runOpa } from '../policy/opa-cli.ts'
import { filesUnder } from '../policy/walk-files.ts'
import type { TestOutcome } from './decision-table.ts'

/** The file as the user would type it (relative to the current folder when inside it). */
export function shownPath(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel !== '' && !rel.startsWith('..') ? rel : path
}

/** Every `.rego` file under the given paths (tests included), with its place in the staging folder. */
export async function regoSources(paths: readonly string[]): Promise<Array<{ from: string; to: string }>> {
  const out: Array<{ from: string; to: string }> = []
  for (const given of paths) {
    const path = resolve(given)
    const info = await stat(path)
    if (info.isDirectory()) {
      for (const from of await filesUnder(path, (name) => name.endsWith('.rego'))) out.push({ from, to: ['custom', basename(path), ...relative(path, from).split(sep)].join('/') })
    } else if (path.endsWith('.rego')) out.push({ from: path, to: `custom/${basename(path)}` })
  }
  return out.sort((a, b) => a.to.localeCompare(b.to))
}

interface OpaTestResult {
  location?: { file?: string; row?: number }
  package?: string
  name?: string
  fail?: boolean
  error?: { message?: string; code?: string }
  skip?: boolean
  output?: string
}

/**
 * Runs `opa test` on the library (without its own tests), the user's Rego (tests included) and the
 * data (already validated, or undefined).
 *
 * @throws {PolicyError} `ERR_OPA_BUILD` when the Rego does not compile (opa's message, user file names), `ERR_OPA_MISSING`.
 */
export async function runRegoTests(paths: readonly string[], data: Record<string, unknown> | undefined, options: { opa?: string; timeoutMs?: number } = {}): Promise<TestOutcome[]> {
  const sources = await regoSources(paths)
  if (!sources.some((s) => s.from.endsWith('_test.rego'))) return []
  const work = await mkdtemp(join(tmpdir(), 'mcp-authz-test-'))
  try {
    const library = await readdir(LIBRARY_DIR, { withFileTypes: true, recursive: true })
    for (const e of library) {
      if (!e.isFile() || !e.name.endsWith('.rego') || e.name.endsWith('_test.rego')) continue
      const from = join(e.parentPath, e.name)
      const target = join(work, 'lib', relative(LIBRARY_DIR, from))
      await mkdir(dirname(target), { recursive: true })
      await copyFile(from, target)
    }
    for (const s of sources) {
      const target = join(work, ...s.to.split('/'))
      await mkdir(dirname(target), { recursive: true })
      await copyFile(s.from, target)
    }
    if (data !== undefined) await writeFile(join(work, 'data.json'), JSON.stringify(data))
    const stdout = await runOpa(opaBinary(options.opa), ['test', '.', '--format', 'json'], { cwd: work, timeoutMs: options.timeoutMs ?? 300_000, allowFailure: true }).catch((err: unknown) => {
      if (err instanceof PolicyError && err.code === 'ERR_OPA_BUILD') throw new PolicyError('ERR_OPA_BUILD', renamed(err.message, sources), { cause: err.cause })
      throw err
    })
    let results: OpaTestResult[]
    try {
      results = JSON.parse(stdout) as OpaTestResult[]
      if (!Array.isArray(results)) throw new Error('not a list')
    } catch {
      throw new PolicyError('ERR_OPA_BUILD', `opa test failed:\n${renamed(stdout.trim(), sources)}`)
    }
    const outcomes = results.map((r) => {
      const to = r.location?.file ?? ''
      const source = sources.find((s) => s.to === to || `./${s.to}` === to)
      const failed = r.fail === true || r.error !== undefined
      return {
        kind: 'rego',
        name: `${r.package?.replace(/^data\./, '') ?? ''}.${r.name ?? ''}`,
        file: source !== undefined ? shownPath(source.from) : to,
        line: r.location?.row ?? 0,
        ok: !failed && r.skip !== true,
        ...(r.error !== undefined ? { error: renamed(r.error.message ?? 'error', sources) } : {}),
      } satisfies TestOutcome
    })
    return outcomes.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** opa's staging names (custom/…) back to the user's files. */
function renamed(text: string, sources: ReadonlyArray<{ from: string; to: string }>): string {
  let out = text
  for (const s of [...sources].sort((a, b) => b.to.length - a.to.length)) out = out.split(s.to).join(shownPath(s.from))
  return out
}
