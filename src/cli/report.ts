/**
 * Test reports fit for a terminal and for CI: a plain summary (one line per test, the differing
 * fields under a failure, and a closing `N passed, N failed` line) or TAP version 13.
 *
 * @module
 */
import type { TestOutcome } from './decision-table.ts'

const json = (v: unknown) => JSON.stringify(v)

function failureLines(o: TestOutcome): string[] {
  const lines: string[] = []
  if (o.error !== undefined) lines.push(`error: ${o.error}`)
  for (const d of o.diffs ?? []) lines.push(`${d.field.padEnd(16)} expected ${json(d.expected)}, got ${json(d.got)}`)
  if (o.got !== undefined && (o.diffs?.length ?? 0) > 0 && !(o.diffs ?? []).some((d) => d.field === 'reasons')) lines.push(`${'reasons'.padEnd(16)} ${json(o.got.reasons)}`)
  return lines
}

/** The plain report. */
export function plainReport(outcomes: readonly TestOutcome[], verbose = false): string {
  const out: string[] = []
  for (const o of outcomes) {
    if (o.ok && !verbose) continue
    out.push(`${o.ok ? 'PASS' : 'FAIL'}  ${o.kind === 'rego' ? 'rego ' : 'table'}  ${o.file}:${o.line}  ${o.name}`)
    if (!o.ok) for (const l of failureLines(o)) out.push(`      ${l}`)
  }
  const failed = outcomes.filter((o) => !o.ok).length
  out.push(`${outcomes.length - failed} passed, ${failed} failed`)
  return `${out.join('\n')}\n`
}

/** The TAP version 13 report. */
export function tapReport(outcomes: readonly TestOutcome[]): string {
  const out = ['TAP version 13', `1..${outcomes.length}`]
  for (const [i, o] of outcomes.entries()) {
    out.push(`${o.ok ? 'ok' : 'not ok'} ${i + 1} - ${o.kind} ${o.file}:${o.line} ${o.name.replace(/#/g, '\\#')}`)
    if (!o.ok) {
      out.push('  ---', `  file: ${json(o.file)}`, `  line: ${o.line}`)
      if (o.error !== undefined) out.push(`  error: ${json(o.error)}`)
      for (const d of o.diffs ?? []) out.push(`  ${d.field}:`, `    expected: ${json(d.expected)}`, `    got: ${json(d.got)}`)
      out.push('  ...')
    }
  }
  const failed = outcomes.filter((o) => !o.ok).length
  out.push(`# ${outcomes.length - failed} passed, ${failed} failed`)
  return `${out.join('\n')}\n`
}
