// The proxy benchmark's smoke run (bench/proxy.ts): well-formed rows for both upstream answer kinds,
// every call answered correctly through the proxy and direct. No timing is asserted.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { benchProxy, proxyBenchMarkdown } from '../../bench/proxy.ts'

it('measures direct and proxied calls in the same run, for JSON and SSE upstreams', { timeout: 120_000 }, async () => {
  const rows = await benchProxy({ calls: 10 })
  assert.deepEqual(rows.map((r) => r.mode), ['json', 'sse'])
  for (const r of rows) {
    assert.equal(r.calls, 10)
    for (const v of [r.direct.p50_us, r.direct.p99_us, r.proxied.p50_us, r.proxied.p99_us, r.ratio_p50]) assert.ok(Number.isFinite(v) && v > 0)
    assert.ok(r.direct.p99_us >= r.direct.p50_us && r.proxied.p99_us >= r.proxied.p50_us)
  }
  assert.match(proxyBenchMarkdown(rows), /\| SSE \| 10 \|/)
})
