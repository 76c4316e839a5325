/**
 * Builds what the npm package ships, from a clean slate: `dist/` (tsc: JavaScript and .d.ts) and
 * `dist/policy-library.tar.gz` (the shipped Rego compiled to WASM with the pinned opa, so that users
 * with policy data only need no opa). Run by `npm pack` / `npm publish` (the `prepack` script) and by
 * scripts/setup.sh.
 *
 * Needs only Node >= 22, the dev dependencies and opa. opa is `$MCP_AUTHZ_OPA`, else `opa` on PATH,
 * else `.tools/bin/opa` (scripts/setup.sh puts it there); it must be the pinned release. Without it
 * this fails loudly before touching dist/: a package without the prebuilt library would install and
 * then fail at the first `createAuthz({ data })`.
 *
 * Usage: node scripts/build-package.mjs [--quiet]
 */
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const quiet = process.argv.includes('--quiet')
const say = (line) => quiet || process.stderr.write(`[build-package] ${line}\n`)
const fail = (line) => {
  process.stderr.write(`[build-package] ERROR: ${line}\n`)
  process.exit(1)
}

// The pinned release, from its one source (src/policy/opa-cli.ts).
const pinned = /export const OPA_VERSION = '(v[0-9.]+)'/.exec(readFileSync(join(root, 'src/policy/opa-cli.ts'), 'utf8'))?.[1]
if (pinned === undefined) fail('cannot read OPA_VERSION from src/policy/opa-cli.ts')
const install = `go install github.com/open-policy-agent/opa@${pinned} (or a release binary from https://github.com/open-policy-agent/opa/releases/tag/${pinned}), then put it on PATH or set MCP_AUTHZ_OPA=/path/to/opa; scripts/setup.sh does it into .tools/bin`

function findOpa() {
  if (process.env.MCP_AUTHZ_OPA) return process.env.MCP_AUTHZ_OPA
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir !== '' && existsSync(join(dir, 'opa'))) return join(dir, 'opa')
  const tools = join(root, '.tools/bin/opa')
  return existsSync(tools) ? tools : undefined
}

const opa = findOpa()
if (opa === undefined) fail(`opa ${pinned} was not found; the package must ship the policy library compiled with it, so nothing was packed. Install it: ${install}`)
const version = spawnSync(opa, ['version'], { encoding: 'utf8', timeout: 30_000 })
const found = /^Version: (\S+)/m.exec(version.stdout ?? '')?.[1]
if (version.status !== 0 || found === undefined) fail(`${opa} does not run (${version.error?.message ?? version.stderr?.trim() ?? `exit ${version.status}`}). Install opa ${pinned}: ${install}`)
if (`v${found.replace(/^v/, '')}` !== pinned) fail(`${opa} is opa ${found}; the package is built with opa ${pinned}. Install it: ${install}`)

say(`clean build of dist/ (tsc -p tsconfig.build.json)`)
rmSync(join(root, 'dist'), { recursive: true, force: true })
const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc')
const compiled = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', timeout: 600_000 })
if (compiled.status !== 0) fail(`tsc failed (${compiled.error?.message ?? `exit ${compiled.status}`})`)

say(`policy library (opa ${found} build -t wasm) → dist/policy-library.tar.gz`)
const { buildLibraryBundle } = await import(pathToFileURL(join(root, 'dist/policy/build.js')).href)
const out = join(root, 'dist/policy-library.tar.gz')
const { revision } = await buildLibraryBundle({ out, opa })

for (const file of ['dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'dist/policy-library.tar.gz']) {
  if (!existsSync(join(root, file)) || statSync(join(root, file)).size === 0) fail(`${file} is missing after the build`)
}
// tsc writes files 0644; the bin must run as `npx mcp-authz` in this repository too (npm sets the
// mode only for installed packages).
chmodSync(join(root, 'dist/cli/main.js'), 0o755)
say(`done: dist/ and the policy library (revision ${revision})`)
