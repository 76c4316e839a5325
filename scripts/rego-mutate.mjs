#!/usr/bin/env node
// Mutation check of the Rego library: applies one small textual mutation at a time to
// policies/mcp/authz/*.rego (not the _test.rego files), runs `opa test` on the mutated copy, and
// counts the mutant as killed when a test fails. Mutants that do not compile are left out of the
// score. Prints the score and every survivor (file:line, operator, before → after).
//
//   npm run mutate:rego                      # all mutants, 2 parallel opa runs (sources scripts/env.sh)
//   MUTATE_JOBS=1 npm run mutate:rego        # gentler on a shared machine
//   npm run mutate:rego -- --file arguments  # only files whose name contains "arguments"
//   npm run mutate:rego -- --min 90          # exit 1 when the score is below 90 %
//
// Not run in CI (a few minutes); run it after changing the library or its tests.
import { spawn } from 'node:child_process'
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const library = join(root, 'policies')
const libraryDir = join(library, 'mcp', 'authz')
const opa = process.env.MCP_AUTHZ_OPA ?? 'opa'
const jobs = Math.max(1, Number(process.env.MUTATE_JOBS ?? 2))
const timeoutMs = Number(process.env.MUTATE_TIMEOUT_MS ?? 60_000)

const args = process.argv.slice(2)
const option = (name) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}
const onlyFile = option('--file')
const minScore = option('--min') === undefined ? undefined : Number(option('--min'))

/** Replacements applied to each occurrence, one occurrence per mutant. */
const TOKEN_OPERATORS = [
  { name: 'eq→neq', re: / == /g, to: ' != ' },
  { name: 'neq→eq', re: / != /g, to: ' == ' },
  { name: 'le→lt', re: / <= /g, to: ' < ' },
  { name: 'ge→gt', re: / >= /g, to: ' > ' },
  { name: 'lt→le', re: / < /g, to: ' <= ' },
  { name: 'gt→ge', re: / > /g, to: ' >= ' },
  { name: 'lt→gt', re: / < /g, to: ' > ' },
  { name: 'gt→lt', re: / > /g, to: ' < ' },
  { name: 'true→false', re: /\btrue\b/g, to: 'false' },
  { name: 'false→true', re: /\bfalse\b/g, to: 'true' },
  { name: 'startswith→endswith', re: /\bstartswith\(/g, to: 'endswith(' },
  { name: 'endswith→startswith', re: /\bendswith\(/g, to: 'startswith(' },
  { name: 'max→min', re: /\bmax\(/g, to: 'min(' },
  { name: 'is_string→is_number', re: /\bis_string\(/g, to: 'is_number(' },
  { name: 'is_number→is_string', re: /\bis_number\(/g, to: 'is_string(' },
  { name: 'is_array→is_string', re: /\bis_array\(/g, to: 'is_string(' },
  { name: 'drop not', re: /\bnot /g, to: '' },
  { name: 'count-1→count', re: /count\(([^()]*)\) - 1/g, to: (m, x) => `count(${x})` },
  { name: '[0]→[1]', re: /\[0\]/g, to: '[1]' },
  { name: 'string literal', re: /"([^"\\]*)"/g, to: (m, s) => `"${s}_mutant"` },
]

function isCode(line) {
  const t = line.trim()
  return t !== '' && !t.startsWith('#') && !t.startsWith('package ') && !t.startsWith('import ')
}

/** Every mutant of one file: { file, line, operator, before, after, text }. */
function mutantsOf(file) {
  const source = readFileSync(file, 'utf8')
  const lines = source.split('\n')
  const out = []
  const push = (i, operator, after) => {
    if (after === lines[i]) return
    const copy = lines.slice()
    copy[i] = after
    out.push({ file, line: i + 1, operator, before: lines[i].trim(), after: after.trim(), text: copy.join('\n') })
  }
  lines.forEach((line, i) => {
    if (!isCode(line)) return
    for (const op of TOKEN_OPERATORS) {
      // METADATA-free, comment-free part of the line only.
      const hash = line.indexOf(' #')
      const code = hash >= 0 ? line.slice(0, hash) : line
      for (const m of code.matchAll(op.re)) {
        const replacement = typeof op.to === 'function' ? op.to(...m) : op.to
        push(i, op.name, line.slice(0, m.index) + replacement + line.slice(m.index + m[0].length))
      }
    }
    // Rule body lines (one tab, inside braces): negate the condition, or drop it.
    if (/^\t[^\t}]/.test(line) && !line.trimEnd().endsWith('{') && !line.trimEnd().endsWith('[') && !line.includes(':=') && !/^\t(some|every) /.test(line)) {
      if (!/^\tnot /.test(line)) push(i, 'negate', line.replace(/^\t/, '\tnot '))
      push(i, 'drop line', '')
    }
    if (/^\t[^\t}]/.test(line) && line.includes(':=') && !line.trimEnd().endsWith('{')) push(i, 'drop line', '')
  })
  return out
}

function runOpaTest(dir) {
  return new Promise((resolvePromise) => {
    const child = spawn(opa, ['test', dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolvePromise({ code, output })
    })
  })
}

const COMPILE_ERROR = /rego_(parse|compile|type|unsafe_var|recursion)_error|1 error occurred|errors occurred/

async function main() {
  const files = readdirSync(libraryDir)
    .filter((f) => f.endsWith('.rego') && !f.endsWith('_test.rego'))
    .filter((f) => onlyFile === undefined || f.includes(onlyFile))
    .map((f) => join(libraryDir, f))
  const baseline = await runOpaTest(library)
  if (baseline.code !== 0) {
    console.error('opa test fails on the unmutated library; fix it first:\n' + baseline.output)
    process.exit(2)
  }
  const mutants = files.flatMap(mutantsOf)
  console.log(`rego-mutate: ${mutants.length} mutants of ${files.length} files, ${jobs} parallel opa test runs`)
  const workdirs = Array.from({ length: jobs }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'rego-mutate-'))
    cpSync(library, join(dir, 'policies'), { recursive: true })
    return dir
  })
  const cleanup = () => workdirs.forEach((d) => rmSync(d, { recursive: true, force: true }))
  process.on('SIGINT', () => {
    cleanup()
    process.exit(130)
  })
  const results = []
  let next = 0
  let done = 0
  async function worker(dir) {
    const copyOf = (file) => join(dir, 'policies', 'mcp', 'authz', basename(file))
    while (next < mutants.length) {
      const m = mutants[next++]
      const target = copyOf(m.file)
      writeFileSync(target, m.text)
      const { code, output } = await runOpaTest(join(dir, 'policies'))
      writeFileSync(target, readFileSync(m.file))
      const status = code === 0 ? 'survived' : COMPILE_ERROR.test(output) && !/FAIL:/.test(output) ? 'invalid' : 'killed'
      results.push({ ...m, status })
      done++
      if (done % 25 === 0) process.stdout.write(`  ${done}/${mutants.length}\n`)
    }
  }
  try {
    await Promise.all(workdirs.map(worker))
  } finally {
    cleanup()
  }
  const valid = results.filter((r) => r.status !== 'invalid')
  const killed = valid.filter((r) => r.status === 'killed')
  const survivors = valid.filter((r) => r.status === 'survived').sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line)
  const score = valid.length === 0 ? 100 : (100 * killed.length) / valid.length
  for (const s of survivors) console.log(`SURVIVED ${basename(s.file)}:${s.line} [${s.operator}] ${s.before}  →  ${s.after || '(dropped)'}`)
  console.log(`rego-mutate: score ${score.toFixed(1)} % — ${killed.length} killed, ${survivors.length} survived, ${results.length - valid.length} did not compile (not counted)`)
  if (minScore !== undefined && score < minScore) process.exit(1)
}

await main()
