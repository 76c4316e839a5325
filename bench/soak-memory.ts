/**
 * Memory soak (not in CI): 10 million decisions through `decide()` (cached principal, typical
 * tools/call, decision cache off so every decision reaches the WASM policy), sampling the WASM
 * linear memory and the process RSS every million. Flat means: WASM memory never grows after
 * warm-up and RSS stays within a few MiB.
 *
 *   node bench/soak-memory.ts [--decisions 10000000]
 *
 * Writes bench/results/soak-memory.json.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { createAuthz } from '../src/authz.ts'
import { alice, buildBenchBundle, typicalCall } from './fixtures.ts'

const i = process.argv.indexOf('--decisions')
const total = i > 0 ? Number(process.argv[i + 1]) : 10_000_000
const step = Math.max(1, Math.floor(total / 10))
const { bundle } = await buildBenchBundle()
const authz = await createAuthz({ bundle })
const wasmBytes = () => (authz.bundle.policy as unknown as { mem: { buffer: ArrayBuffer } }).mem.buffer.byteLength
const mib = (b: number) => Math.round((b / 1048576) * 10) / 10

for (let k = 0; k < 100_000; k++) authz.decide(alice, typicalCall)
globalThis.gc?.()
const samples: Array<{ decisions: number; wasm_mib: number; rss_mib: number; heap_used_mib: number; seconds: number }> = []
const t0 = process.hrtime.bigint()
const sample = (n: number) => {
  const m = process.memoryUsage()
  const s = { decisions: n, wasm_mib: mib(wasmBytes()), rss_mib: mib(m.rss), heap_used_mib: mib(m.heapUsed), seconds: Math.round(Number(process.hrtime.bigint() - t0) / 1e7) / 100 }
  samples.push(s)
  process.stderr.write(`${JSON.stringify(s)}\n`)
}
sample(0)
let allowed = 0
for (let n = 1; n <= total; n++) {
  if (authz.decide(alice, typicalCall).allow) allowed++
  if (n % step === 0) sample(n)
}
if (allowed !== total) throw new Error(`expected every decision to allow, got ${allowed}/${total}`)
const first = samples[0] as (typeof samples)[number]
const last = samples[samples.length - 1] as (typeof samples)[number]
const rssAfterFirstStep = samples[1] ?? first
const summary = {
  decisions: total,
  wasm_mib_start: first.wasm_mib,
  wasm_mib_end: last.wasm_mib,
  wasm_flat: first.wasm_mib === last.wasm_mib,
  rss_mib_start: first.rss_mib,
  rss_mib_after_first_step: rssAfterFirstStep.rss_mib,
  rss_mib_max: Math.max(...samples.map((s) => s.rss_mib)),
  rss_mib_end: last.rss_mib,
  decisions_per_s: Math.round(total / last.seconds),
  samples,
}
const dir = fileURLToPath(new URL('./results/', import.meta.url))
await mkdir(dir, { recursive: true })
await writeFile(`${dir}soak-memory.json`, `${JSON.stringify(summary, null, 2)}\n`)
const { samples: _samples, ...short } = summary
process.stdout.write(`${JSON.stringify(short)}\n`)
