import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { markdown, svg, writeReports } from '../../bench/report.ts'
import { runSuite, type SuiteResult } from '../../bench/suite.ts'
import { tempDir } from '../helpers/temp.ts'

// The CI smoke of the benchmark suite: every scenario with a handful of iterations. It checks that
// the harness produces well-formed results and that the implementations agree — never timings.
describe('benchmark suite (smoke)', () => {
  let result: SuiteResult

  test('runs every scenario and reports each as measured or skipped with a reason', { timeout: 60_000 }, async () => {
    result = await runSuite({ smoke: true, httpSeconds: 1, log: () => {} })
    const ids = result.scenarios.map((s) => s.id)
    // Issue 15's scenario ids, exactly (a script reads them from bench/results/latest.json), and the context ones.
    for (const id of ['policy.floor', 'policy.typical', 'decide.table', 'baseline.js', 'baseline.cedar', 'baseline.opa-sidecar', 'check.jwt.memo', 'decide.principal', 'visible.200', 'policy.args2kb', 'check.jwt.RS256', 'check.jwt.ES256', 'check.jwt.EdDSA', 'cache.hit', 'redact.2kb']) {
      assert.ok(ids.includes(id), `scenario ${id} is reported`)
    }
    for (const id of ['policy.floor', 'policy.typical', 'decide.table', 'decide.principal', 'baseline.js', 'visible.200']) {
      assert.equal(result.scenarios.find((s) => s.id === id)?.status, 'ok', `${id} is measured, not skipped`)
    }
    assert.deepEqual(result.http.map((h) => h.id), ['http.hello', 'http.decide.logged', 'http.decide', 'http.decide.cached'])
    for (const s of result.scenarios) {
      if (s.status === 'skipped') {
        assert.match(s.reason ?? '', /\S/, `${s.id} says why it was skipped`)
        continue
      }
      for (const k of ['p50_ns', 'p99_ns', 'p999_ns', 'avg_ns', 'ops_per_s'] as const) {
        assert.ok(Number.isFinite(s[k]) && (s[k] as number) > 0, `${s.id}.${k} is a positive number`)
      }
      assert.ok((s.p50_ns as number) <= (s.p99_ns as number) && (s.p99_ns as number) <= (s.p999_ns as number), `${s.id} percentiles are ordered`)
      assert.ok((s.samples as number) >= 10)
    }
    for (const h of result.http) {
      if (h.status === 'skipped') assert.match(h.reason ?? '', /\S/)
      else {
        assert.ok((h.requests_per_s as number) > 0, `${h.id} served requests`)
        assert.equal(h.non2xx, 0, `${h.id} answered 2xx only`)
      }
    }
    assert.equal(result.meta.mode, 'smoke')
  })

  test('the JS baseline, Cedar, the OPA sidecar, the WASM policy and its table path agree on allow/deny', () => {
    assert.ok(result.agreement.length >= 5)
    assert.ok(result.agreement.some((a) => a.expected) && result.agreement.some((a) => !a.expected))
    assert.equal(result.tableAnswered, true, 'decide.table is answered from a table, not evaluated')
    for (const a of result.agreement) {
      assert.equal(a.wasm, a.expected, `WASM: ${a.name}`)
      assert.equal(a.table, a.expected, `table: ${a.name}`)
      assert.equal(a.tableIdentical, true, `the table's whole answer is the WASM answer: ${a.name}`)
      assert.equal(a.js, a.expected, `JS: ${a.name}`)
      if (a.cedar !== null) assert.equal(a.cedar, a.expected, `Cedar: ${a.name}`)
      if (a.opa !== null) assert.equal(a.opa, a.expected, `OPA: ${a.name}`)
    }
  })

  test('writes the JSON, the markdown table and the SVG chart', async () => {
    const dir = await tempDir('mcp-authz-bench-report-')
    const files = await writeReports(result, dir)
    const json = JSON.parse(await readFile(files.json, 'utf8')) as SuiteResult
    assert.equal(json.scenarios.length, result.scenarios.length)
    const md = markdown(result)
    assert.match(md, /\| scenario \| p50 \| p99 \| p99\.9 \| ops\/s \|/)
    // Issue 15's targets, each a ratio of two measurements of this run, also in the JSON by ratio key.
    assert.deepEqual(result.targets.map((t) => t.ratio), [
      'policy.typical/policy.floor',
      'decide.table/baseline.js',
      'baseline.cedar/policy.typical',
      'baseline.opa-sidecar/policy.typical',
      'http.decide.logged/http.hello',
      'check.jwt.memo/decide.principal',
      'visible.200/policy.typical',
    ])
    for (const t of result.targets) {
      assert.ok(md.includes(t.name))
      assert.equal(json.ratios[t.ratio], t.value)
      if (t.value !== null) assert.ok(Number.isFinite(t.value) && t.value > 0, `${t.ratio} is a positive ratio`)
    }
    assert.match(md, /log off: /, 'the log-off figures stand beside the logged endpoint')
    const chart = svg(result)
    assert.match(chart, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
    assert.equal((chart.match(/<rect class="bar" /g) ?? []).length, 2 * result.scenarios.filter((s) => s.status === 'ok').length)
    assert.match(chart, /<g class="legend">[\s\S]*target scenario[\s\S]*floor \/ baseline[\s\S]*context[\s\S]*<\/g>/, 'the chart has a legend')
  })
})
