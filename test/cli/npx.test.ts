// The README's set-up promise: after `npm run setup` and `. scripts/env.sh`, `npx mcp-authz …` runs
// the CLI from dist/ in a clone of this repository, as an installed user runs it (the docs' proxy
// and quickstart walkthroughs use it). tsc writes dist/ without the executable bit; the build sets it.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { it } from 'node:test'

const REPO = fileURLToPath(new URL('../../', import.meta.url))

it('npx mcp-authz runs the built CLI in the repository', { timeout: 120_000 }, () => {
  assert.doesNotThrow(() => accessSync(new URL('dist/cli/main.js', `file://${REPO}`), constants.X_OK), 'dist/cli/main.js is executable (run npm run setup)')
  const r = spawnSync('npx', ['--no-install', 'mcp-authz', '--help'], { cwd: REPO, encoding: 'utf8', timeout: 90_000 })
  assert.equal(r.status, 0, `npx mcp-authz --help failed:\n${r.stdout}\n${r.stderr}`)
  assert.match(r.stdout, /^Usage: mcp-authz /m)
  assert.match(r.stdout, /\bproxy\b/)
})
