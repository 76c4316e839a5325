/**
 * Writes a suite result as `bench/results/latest.json`, a markdown table `latest.md` and a
 * hand-written SVG bar chart `latest.svg` (p50 and p99 per scenario, log scale, with a legend).
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fmt, type SuiteResult } from './suite.ts'

/** The markdown report: machine, scenarios, HTTP, targets, agreement. */
export function markdown(r: SuiteResult): string {
  const out: string[] = []
  out.push(`Run ${r.meta.date} (${r.meta.mode}) · Node ${r.meta.node} · ${r.meta.nproc} × ${r.meta.cpu} · load ${r.meta.loadavg_start.join(' ')} → ${r.meta.loadavg_end.join(' ')}${r.meta.opa ? ` · OPA ${r.meta.opa}` : ''}`)
  out.push('')
  out.push('| scenario | p50 | p99 | p99.9 | ops/s | samples |')
  out.push('|---|---:|---:|---:|---:|---:|')
  for (const s of r.scenarios) {
    if (s.status === 'skipped') out.push(`| ${s.name} (\`${s.id}\`) | skipped: ${s.reason ?? ''} | | | | |`)
    else out.push(`| ${s.name} (\`${s.id}\`) | ${fmt(s.p50_ns ?? 0)} | ${fmt(s.p99_ns ?? 0)} | ${fmt(s.p999_ns ?? 0)} | ${Math.round(s.ops_per_s ?? 0).toLocaleString('en-US')} | ${s.samples ?? 0} |`)
  }
  out.push('')
  out.push('| HTTP (autocannon, 10 connections, separate process) | req/s | p50 | p99 | errors / non-2xx |')
  out.push('|---|---:|---:|---:|---:|')
  for (const h of r.http) {
    if (h.status === 'skipped') out.push(`| ${h.name} | skipped: ${h.reason ?? ''} | | | |`)
    else out.push(`| ${h.name} | ${Math.round(h.requests_per_s ?? 0).toLocaleString('en-US')} | ${h.latency_p50_ms ?? 0} ms | ${h.latency_p99_ms ?? 0} ms | ${h.errors ?? 0} / ${h.non2xx ?? 0} |`)
  }
  out.push('')
  out.push('| target (ratio inside this run) | ratio | goal | measured | met |')
  out.push('|---|---|---|---|---|')
  for (const t of r.targets) out.push(`| ${t.name} | \`${t.ratio}\` | ${t.target} | ${t.measured} | ${t.met === null ? '—' : t.met ? 'yes' : '**no**'} |`)
  out.push('')
  const agree = r.agreement.every((a) => a.js === a.expected && a.wasm === a.expected && a.table === a.expected && a.tableIdentical && (a.cedar ?? a.expected) === a.expected && (a.opa ?? a.expected) === a.expected)
  out.push(`Agreement on allow/deny (JS · WASM · WASM from a principal's table, whole answer identical to WASM's · Cedar · OPA sidecar) over ${r.agreement.length} cases: ${agree ? 'all agree' : '**DISAGREEMENT**'}. \`decide.table\` answered from a table: ${r.tableAnswered ? 'yes' : '**no**'}.`)
  out.push('')
  out.push(`_${r.meta.note}_`)
  return `${out.join('\n')}\n`
}

/** Bar colours per scenario group: [p50, p99]. */
const COLOURS = { target: ['#2166ac', '#92c5de'], baseline: ['#b35806', '#fdb863'], context: ['#4d4d4d', '#bababa'] } as const

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Horizontal bars of p50 (dark) and p99 (light) per scenario, log-scale time axis. */
export function svg(r: SuiteResult): string {
  const rows = r.scenarios.filter((s) => s.status === 'ok' && s.p50_ns !== undefined)
  const label = 300
  const plot = 560
  const rowH = 26
  const top = 64
  const height = top + rows.length * rowH + 40
  const width = label + plot + 140
  const min = 10 // ns
  const max = Math.max(1e4, ...rows.map((s) => s.p99_ns ?? 0)) * 1.5
  const x = (ns: number) => (Math.log10(Math.max(ns, min)) - Math.log10(min)) / (Math.log10(max) - Math.log10(min)) * plot
  const parts: string[] = []
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`)
  parts.push(`<rect width="${width}" height="${height}" fill="#fff"/>`)
  parts.push(`<text x="10" y="20" font-size="14" font-weight="bold">mcp-authz latency per scenario (log scale) — ${esc(r.meta.date.slice(0, 16))} ${r.meta.mode}</text>`)
  // Legend: one swatch pair (p50 dark, p99 light) per group.
  const legend = [
    ['target scenario', COLOURS.target],
    ['floor / baseline', COLOURS.baseline],
    ['context', COLOURS.context],
  ] as const
  parts.push(`<g class="legend">`)
  legend.forEach(([name, [dark, light]], i) => {
    const lx = 10 + i * 230
    parts.push(`<rect class="swatch" x="${lx}" y="32" width="14" height="12" fill="${dark}"/><rect class="swatch" x="${lx + 16}" y="32" width="14" height="12" fill="${light}"/>`)
    parts.push(`<text x="${lx + 36}" y="42">${esc(name)}: p50 dark, p99 light</text>`)
  })
  parts.push(`</g>`)
  for (let d = Math.ceil(Math.log10(min)); d <= Math.log10(max); d++) {
    const v = 10 ** d
    const gx = label + x(v)
    parts.push(`<line x1="${gx.toFixed(1)}" y1="${top - 6}" x2="${gx.toFixed(1)}" y2="${height - 30}" stroke="#ddd"/>`)
    parts.push(`<text x="${gx.toFixed(1)}" y="${height - 14}" text-anchor="middle" fill="#555">${esc(fmt(v))}</text>`)
  }
  rows.forEach((s, i) => {
    const y = top + i * rowH
    const colour = COLOURS[s.group]
    parts.push(`<text x="${label - 8}" y="${y + 15}" text-anchor="end">${esc(s.id)}</text>`)
    parts.push(`<rect class="bar" x="${label}" y="${y + 3}" width="${x(s.p99_ns ?? 0).toFixed(1)}" height="18" fill="${colour[1]}"/>`)
    parts.push(`<rect class="bar" x="${label}" y="${y + 7}" width="${x(s.p50_ns ?? 0).toFixed(1)}" height="10" fill="${colour[0]}"/>`)
    parts.push(`<text x="${(label + x(s.p99_ns ?? 0) + 4).toFixed(1)}" y="${y + 15}" fill="#333">${esc(fmt(s.p50_ns ?? 0))} / ${esc(fmt(s.p99_ns ?? 0))}</text>`)
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

/** Writes latest.json, latest.md and latest.svg into `dir`. */
export async function writeReports(r: SuiteResult, dir: string): Promise<{ json: string; md: string; svg: string }> {
  await mkdir(dir, { recursive: true })
  const files = { json: join(dir, 'latest.json'), md: join(dir, 'latest.md'), svg: join(dir, 'latest.svg') }
  await writeFile(files.json, `${JSON.stringify(r, null, 2)}\n`)
  await writeFile(files.md, markdown(r))
  await writeFile(files.svg, svg(r))
  return files
}
