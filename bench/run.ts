/**
 * `npm run bench` (through scripts/bench.sh): runs the suite and regenerates bench/results/ and
 * the results section of bench/README.md. `--smoke` runs every scenario a few times only and
 * writes to bench/results/smoke/ instead, leaving the README alone.
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { markdown, writeReports } from './report.ts'
import { runSuite } from './suite.ts'

const smoke = process.argv.includes('--smoke')
const result = await runSuite({ smoke })
const dir = fileURLToPath(new URL(smoke ? './results/smoke/' : './results/', import.meta.url))
const files = await writeReports(result, dir)
process.stdout.write(markdown(result))
process.stdout.write(`\nwrote ${files.json}, ${files.md}, ${files.svg}\n`)

if (!smoke) {
  // Keep bench/README.md's results section in step with the run.
  const readme = fileURLToPath(new URL('./README.md', import.meta.url))
  const start = '<!-- results:start -->'
  const end = '<!-- results:end -->'
  const text = await readFile(readme, 'utf8').catch(() => '')
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  if (i >= 0 && j > i) {
    await writeFile(readme, `${text.slice(0, i + start.length)}\n\n![latency per scenario](results/latest.svg)\n\n${markdown(result)}\n${text.slice(j)}`)
  }
}
// The OPA sidecar and the HTTP servers are children of ours; they stop when we do.
process.exit(0)
