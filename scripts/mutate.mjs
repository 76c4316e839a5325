#!/usr/bin/env node
// Mutation testing of the TypeScript pipeline with StrykerJS: one configuration per area (the files
// mutated and the test files that cover them), run one area after the other, then a summary (score
// per area) printed and written to build/mutation/summary.json and summary.md.
//
//   npm run mutate                       # every area, one after the other
//   npm run mutate -- mcp policy         # only these areas (names below)
//   npm run mutate -- mcp --files src/mcp/http.ts,src/mcp/sessions.ts   # only these files of the area
//   npm run mutate -- mcp --files src/mcp/http.ts --tests test/mcp/guard.test.ts   # only these test files
//   MUTATE_STATIC=1 npm run mutate       # also mutants of module-level code (each re-runs every test file)
//   MUTATE_CONCURRENCY=2 npm run mutate  # Stryker workers (default 1: the machine is shared)
//
// Test runner: @stryker-mutator/tap-runner. Each test file is run as `node --test-reporter=tap
// <file>` (node:test in-process, so Stryker sees which mutants each file reaches); a mutant only
// runs the test files that reach it and stops at the first failing one. Test files that start the
// code in a child process (dist/, the CLI) cannot see a mutant and are not listed.
//
// Per-area reports: build/mutation/<area>.json (mutation-testing-report-schema) and the survivors
// in build/mutation/<area>.txt. Not run in CI: an area takes minutes to an hour on 2 cores.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { Stryker } from '@stryker-mutator/core'

const root = resolve(import.meta.dirname, '..')
process.chdir(root)

/** One Stryker configuration per area: what is mutated and which test files cover it. */
export const AREAS = {
  mcp: {
    mutate: ['src/mcp/**/*.ts', '!src/mcp/index.ts'],
    tests: ['test/mcp/*.test.ts'],
  },
  policy: {
    mutate: ['src/policy/**/*.ts'],
    tests: ['test/policy/*.test.ts', 'test/authoring/*.test.ts', 'test/hardening/bundle-faults.test.ts', 'test/server/bundles.test.ts'],
  },
  action: {
    mutate: ['src/action/**/*.ts'],
    tests: ['test/action/*.test.ts', 'test/fuzz/resource-uri.property.test.ts'],
  },
  enforce: {
    mutate: ['src/enforce/**/*.ts'],
    tests: ['test/enforce/*.test.ts', 'test/mcp/http.test.ts', 'test/mcp/guard.test.ts', 'test/mcp/protect.test.ts'],
  },
  verify: {
    mutate: ['src/verify/**/*.ts'],
    tests: ['test/verify/*.test.ts', 'test/hardening/verifier-faults.test.ts', 'test/hardening/verifier-fuzz.property.test.ts', 'test/contracts/*.test.ts'],
  },
  redact: {
    mutate: ['src/decision-log/redact.ts'],
    tests: ['test/decision-log/*.test.ts'],
  },
}

const argv = process.argv.slice(2)
const valueOf = (flag) => {
  const at = argv.indexOf(flag)
  return at >= 0 ? argv[at + 1].split(',') : undefined
}
const onlyFiles = valueOf('--files')
const onlyTests = valueOf('--tests')
const names = argv.filter((a, i) => !a.startsWith('--') && !['--files', '--tests'].includes(argv[i - 1]))
const selected = names.length > 0 ? names : Object.keys(AREAS)
for (const name of selected) {
  if (!AREAS[name]) {
    console.error(`unknown area "${name}"; areas: ${Object.keys(AREAS).join(', ')}`)
    process.exit(2)
  }
}
const concurrency = Math.max(1, Number(process.env.MUTATE_CONCURRENCY ?? 1))
const out = join(root, 'build', 'mutation')
mkdirSync(out, { recursive: true })

/**
 * Tests left out under Stryker: ratio-of-timings tests (instrumented code is several times slower
 * per character, which is exactly what they measure).
 */
const SKIP = 'takes time linear'

/** Stryker options for one area. */
function optionsFor(name) {
  const area = AREAS[name]
  return {
    mutate: onlyFiles ?? area.mutate,
    testRunner: 'tap',
    plugins: ['@stryker-mutator/tap-runner'],
    tap: { testFiles: onlyTests ?? area.tests, nodeArgs: ['--test-reporter=tap', '--test-timeout=120000', `--test-skip-pattern=${SKIP}`], forceBail: true },
    coverageAnalysis: 'perTest',
    // Mutants of module-level code (schemas, constants) would re-run every test file: left out
    // (reported as ignored) unless MUTATE_STATIC=1.
    ignoreStatic: process.env.MUTATE_STATIC !== '1',
    concurrency,
    timeoutMS: 10_000,
    timeoutFactor: 2,
    dryRunTimeoutMinutes: 20,
    ignorePatterns: ['dist', 'build', 'coverage', '.tools', 'bench/results', 'reports', '.stryker-tmp'],
    // Re-runs reuse the results of mutants whose code and covering test files did not change.
    incremental: true,
    incrementalFile: join('build', 'mutation', `${name}.incremental.json`),
    tempDirName: '.stryker-tmp',
    cleanTempDir: 'always',
    reporters: ['json', 'progress'],
    jsonReporter: { fileName: join('build', 'mutation', `${name}.json`) },
    thresholds: { high: 90, low: 80, break: null },
    logLevel: 'warn',
    fileLogLevel: 'off',
  }
}

function summarise(name, results, seconds) {
  const by = (s) => results.filter((r) => r.status === s).length
  const killed = by('Killed')
  const timeout = by('Timeout')
  const survived = by('Survived')
  const noCoverage = by('NoCoverage')
  const errors = by('RuntimeError') + by('CompileError')
  const ignored = by('Ignored')
  const valid = killed + timeout + survived + noCoverage
  const score = valid === 0 ? 100 : (100 * (killed + timeout)) / valid
  const survivors = results
    .filter((r) => r.status === 'Survived' || r.status === 'NoCoverage')
    .map((r) => `${relative(root, r.fileName)}:${r.location.start.line}:${r.location.start.column + 1} ${r.status} ${r.mutatorName}: ${JSON.stringify(r.replacement ?? '')}`)
    .sort()
  writeFileSync(join(out, `${name}.txt`), survivors.join('\n') + '\n')
  return { area: name, mutants: valid, killed, timeout, survived, noCoverage, errors, ignored, score: Number(score.toFixed(2)), seconds: Math.round(seconds), files: (onlyFiles ?? AREAS[name].mutate).join(' '), tests: (onlyTests ?? AREAS[name].tests).join(' ') }
}

const rows = []
for (const name of selected) {
  const started = performance.now()
  console.log(`== mutate ${name}: ${(onlyFiles ?? AREAS[name].mutate).join(' ')}`)
  const results = await new Stryker(optionsFor(name)).runMutationTest()
  const row = summarise(name, results, (performance.now() - started) / 1000)
  rows.push(row)
  console.log(`== ${name}: ${row.score} % (${row.killed} killed, ${row.timeout} timeout, ${row.survived} survived, ${row.noCoverage} no coverage; ${row.seconds} s); survivors: build/mutation/${name}.txt`)
}

// The summary keeps the last result of every area (an area run alone replaces only its own row).
const summaryFile = join(out, 'summary.json')
const previous = existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')) : []
const all = [...previous.filter((p) => !rows.some((r) => r.area === p.area)), ...rows]
  .sort((a, b) => Object.keys(AREAS).indexOf(a.area) - Object.keys(AREAS).indexOf(b.area))
const header = '| area | score | mutants | killed | timeout | survived | no coverage | errors | ignored (static) | seconds | files mutated |\n|---|---|---|---|---|---|---|---|---|---|---|\n'
const table = header + all.map((r) => `| ${r.area} | ${r.score} % | ${r.mutants} | ${r.killed} | ${r.timeout} | ${r.survived} | ${r.noCoverage} | ${r.errors} | ${r.ignored} | ${r.seconds} | ${r.files} |`).join('\n') + '\n'
writeFileSync(summaryFile, JSON.stringify(all, null, 2) + '\n')
writeFileSync(join(out, 'summary.md'), table)
console.log(table)
