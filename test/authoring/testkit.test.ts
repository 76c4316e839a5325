/**
 * `mcp-authz test`: Rego unit tests and decision tables, run as a user runs them in CI — the
 * tables decided by the bundle built from the same Rego and data, on the production engine.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname
const KIT = new URL('fixtures/kit', import.meta.url).pathname
const EXAMPLE = new URL('../../examples/policies', import.meta.url).pathname
const cli = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000 })

describe('mcp-authz test', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-authz-kit-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('runs the Rego tests and the decision table of a folder: exit 0, a closing "N passed, 0 failed" line', () => {
    const r = cli(['test', KIT, '--verbose'])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /PASS {2}rego {3}.*blocked_test\.rego:\d+ {2}mcp\.authz\.custom_test\.test_mallory_blocked/)
    assert.match(r.stdout, /PASS {2}table {2}.*decisions\.yaml:9 {2}mallory is blocked/)
    assert.match(r.stdout, /^7 passed, 0 failed$/m)
  })

  it('a failing case shows expected and got per field, with the case name and file:line; exit 1', async () => {
    const folder = join(dir, 'failing')
    await cp(KIT, folder, { recursive: true })
    await writeFile(join(folder, 'decisions.yaml'), 'cases:\n  - name: alice may write (she may not)\n    principal: { sub: alice, scopes: "notes:read" }\n    tool: notes_write\n    expect: { allow: true, reasons: [] }\n')
    const r = cli(['test', folder])
    assert.equal(r.status, 1, r.stdout + r.stderr)
    assert.match(r.stdout, /FAIL {2}table {2}.*decisions\.yaml:2 {2}alice may write \(she may not\)/)
    assert.match(r.stdout, /allow {12}expected true, got false/)
    assert.match(r.stdout, /reasons {10}expected \[\], got \["insufficient_scope"\]/)
    assert.match(r.stdout, /^2 passed, 1 failed$/m)
    const tap = cli(['test', folder, '--format', 'tap'])
    assert.equal(tap.status, 1)
    assert.match(tap.stdout, /^TAP version 13\n1\.\.3\n/)
    assert.match(tap.stdout, /^not ok 3 - table .*decisions\.yaml:2 alice may write/m)
    assert.match(tap.stdout, / {2}allow:\n {4}expected: true\n {4}got: false/)
  })

  it('never looks inside node_modules or hidden folders (a copy of the library, another package\'s Rego)', async () => {
    const folder = join(dir, 'with-deps')
    await cp(KIT, folder, { recursive: true })
    for (const sub of ['node_modules/mcp-authz/policies', '.git/hooks']) {
      await mkdir(join(folder, sub), { recursive: true })
      await writeFile(join(folder, sub, 'broken.rego'), 'package mcp.authz\n\nthis is not rego\n')
      await writeFile(join(folder, sub, 'decisions.yaml'), 'cases: [}\n')
    }
    const r = cli(['test', folder])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /^7 passed, 0 failed$/m)
  })

  it('a failing Rego test fails the run with its file:line', async () => {
    const folder = join(dir, 'rego-failing')
    await cp(KIT, folder, { recursive: true })
    await writeFile(join(folder, 'more_test.rego'), 'package mcp.authz.custom_test\n\nimport rego.v1\n\ntest_wrong if 1 == 2\n')
    const r = cli(['test', folder])
    assert.equal(r.status, 1)
    assert.match(r.stdout, /FAIL {2}rego {3}.*more_test\.rego:5 {2}mcp\.authz\.custom_test\.test_wrong/)
  })

  it('a table with a mistake, or without policy data, is a usage error (2) with the line', async () => {
    const folder = join(dir, 'bad-table')
    await cp(KIT, folder, { recursive: true })
    await writeFile(join(folder, 'decisions.yaml'), 'cases:\n  - name: typo\n    tool: notes_read\n    expects: { allow: true }\n')
    const r = cli(['test', folder])
    assert.equal(r.status, 2)
    assert.match(r.stderr, /decisions\.yaml:2: unknown key "expects"/)
    await writeFile(join(folder, 'decisions.yaml'), 'principals:\n  admin: { sub: root }\ncases:\n  - tool: notes_read\n    principal: nobody\n    expect: { allow: true }\n')
    const unknown = cli(['test', folder])
    assert.equal(unknown.status, 2)
    assert.match(unknown.stderr, /decisions\.yaml:4: no principal named "nobody" in principals \(admin\)/)
    const noData = join(dir, 'no-data')
    await cp(KIT, noData, { recursive: true })
    await rm(join(noData, 'data.json'))
    const n = cli(['test', noData])
    assert.equal(n.status, 2)
    assert.match(n.stderr, /decision tables need the policy data: --data <file>/)
  })

  it('the shipped example passes: its custom rule reads tool arguments, and the production engine sees them', () => {
    const r = cli(['test', EXAMPLE])
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /^16 passed, 0 failed$/m)
  })
})
