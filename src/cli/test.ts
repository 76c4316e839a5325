/**
 * `mcp-authz test [paths...]`: the policy author's test loop on the production engine. Runs the Rego
 * unit tests (`*_test.rego`, with the real `opa test`, the library and the data beside them) and the
 * decision tables (`decisions.yaml`, `*.decisions.yaml`, also `.yml` / `.json`) through the bundle
 * built from the same Rego and data by `mcp-authz build` and decided by `createAuthz().decide` —
 * what the tests check is what the server runs.
 *
 * @module
 */
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createAuthz } from '../authz.ts'
import { filesUnder } from '../policy/walk-files.ts'
import { buildBundle, readDataFile } from '../policy/build.ts'
import { isDecisionTable, runTable, TableError, type TestOutcome } from './decision-table.ts'
import { defaultDataFile } from './build.ts'
import { EXIT, UsageError } from './errors.ts'
import { runRegoTests, shownPath } from './rego-test.ts'
import { plainReport, tapReport } from './report.ts'

/** What `test` found under its paths. */
export interface TestInputs {
  /** Folders and .rego files holding the policy and its Rego tests. */
  rego: string[]
  /** Decision table files. */
  tables: string[]
  /** The policy data file (given, or found in the first folder). */
  data?: string
}

/** Sorts the given paths into Rego and decision tables, and finds the data. */
export async function findTestInputs(paths: readonly string[], data?: string): Promise<TestInputs> {
  const rego: string[] = []
  const tables: string[] = []
  let found = data
  for (const p of paths.length > 0 ? paths : ['.']) {
    const info = await stat(p).catch(() => undefined)
    if (info === undefined) throw new UsageError(`${p}: no such file or folder`)
    if (info.isDirectory()) {
      rego.push(p)
      tables.push(...(await filesUnder(p, isDecisionTable)))
      found ??= defaultDataFile(p)
    } else if (p.endsWith('.rego')) rego.push(p)
    else if (isDecisionTable(p)) tables.push(p)
    else throw new UsageError(`${p}: not a folder, a .rego file or a decision table (decisions.yaml, *.decisions.yaml)`)
  }
  return { rego, tables: [...new Set(tables.map((t) => resolve(t)))].sort(), ...(found !== undefined ? { data: found } : {}) }
}

/**
 * Runs every Rego test and decision table found under the paths.
 *
 * @example
 * ```ts
 * const outcomes = await runPolicyTests(['examples/policies'])
 * outcomes.filter((o) => !o.ok) // []
 * ```
 */
export async function runPolicyTests(paths: readonly string[], options: { data?: string } = {}): Promise<TestOutcome[]> {
  const inputs = await findTestInputs(paths, options.data)
  const data = inputs.data !== undefined ? await readDataFile(inputs.data) : undefined
  if (inputs.tables.length > 0 && inputs.data === undefined) throw new UsageError(`decision tables need the policy data: --data <file> (none found: no data.json / data.yaml in ${paths[0] ?? '.'})`)
  const outcomes: TestOutcome[] = await runRegoTests(inputs.rego, data)
  if (inputs.data !== undefined) {
    // Build the bundle exactly as mcp-authz build would: the same checks, the same engine.
    const work = await mkdtemp(join(tmpdir(), 'mcp-authz-test-bundle-'))
    try {
      const { out } = await buildBundle({ data: inputs.data, out: join(work, 'bundle.tar.gz'), include: inputs.rego, revision: 'mcp-authz-test' })
      const authz = await createAuthz({ bundle: out, transport: 'test' })
      for (const table of inputs.tables) {
        try {
          outcomes.push(...(await runTable(authz, table, shownPath(table))))
        } catch (err) {
          if (err instanceof TableError) throw new UsageError(err.message)
          throw err
        }
      }
    } finally {
      await rm(work, { recursive: true, force: true })
    }
  }
  return outcomes
}

/** Adds `test`. */
export function registerTest(program: Command): void {
  program
    .command('test')
    .argument('[paths...]', 'policy folders, .rego files and decision tables (default: the current folder)')
    .description('Run your Rego unit tests (opa test, with the library) and decision tables (through the compiled bundle, on the production engine)')
    .option('-d, --data <file>', 'policy data, JSON or YAML (default: data.json / data.yaml in the first folder)')
    .option('--format <format>', 'report format: plain or tap', 'plain')
    .option('-v, --verbose', 'list passing tests too')
    .addHelpText('after', '\nDecision tables are files named decisions.yaml or *.decisions.yaml (.yml, .json). Exit codes: 0 all passed, 1 a test failed, 2 bad usage, data, Rego or table.')
    .action(async (paths: string[], opts: { data?: string; format: string; verbose?: boolean }) => {
      if (opts.format !== 'plain' && opts.format !== 'tap') throw new UsageError('--format must be plain or tap')
      const outcomes = await runPolicyTests(paths, opts.data !== undefined ? { data: opts.data } : {})
      if (outcomes.length === 0) throw new UsageError(`no tests found under ${paths.length > 0 ? paths.join(', ') : '.'}: write *_test.rego files or a decisions.yaml`)
      process.stdout.write(opts.format === 'tap' ? tapReport(outcomes) : plainReport(outcomes, opts.verbose === true))
      if (outcomes.some((o) => !o.ok)) process.exitCode = EXIT.failure
    })
}
