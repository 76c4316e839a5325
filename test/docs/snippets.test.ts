/**
 * The TypeScript of the documentation compiles against the package's public API: every ```ts block
 * of README.md, docs/**\/*.md and examples/*\/README.md (but the few marked
 * `<!-- snippet: partial -->`) is type-checked as a module of a user's project, where `mcp-authz`
 * and its subpaths resolve only as package.json `exports` lets an installed user import them (to the
 * sources here; test/install/ checks the packed .d.ts). A renamed option, a removed export or an
 * import of a subpath the package does not export fails this test with the document and the line.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { realpathSync } from 'node:fs'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { documentationBlocks, REPO, type CodeBlock } from '../helpers/snippets.ts'
import { tempDir } from '../helpers/temp.ts'

type ExportTarget = string | { types?: string; default?: string }

/** `paths` for `mcp-authz` and each exported subpath: the .d.ts an installed user gets, mapped back to its source. */
export function pathsFromExports(exports: Record<string, ExportTarget>): Record<string, string[]> {
  const paths: Record<string, string[]> = {}
  for (const [subpath, target] of Object.entries(exports)) {
    const file = typeof target === 'string' ? target : (target.types ?? target.default)
    assert.ok(file !== undefined, `exports[${subpath}] names no file`)
    const source = /^\.\/dist\/(.+)\.d\.ts$/.exec(file)
    paths[`mcp-authz${subpath.slice(1)}`] = [source !== null ? join(REPO, 'src', `${source[1]}.ts`) : join(REPO, file)]
  }
  return paths
}

const fileName = (b: CodeBlock) => `${b.doc.replace(/[^A-Za-z0-9]+/g, '_')}_L${b.line}.ts`

describe('TypeScript in the docs', () => {
  const blocks = documentationBlocks()
  const ts = blocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript')
  const checked = ts.filter((b) => b.marker !== 'partial')

  it('imports the package as an installed user does: never from the repository sources', () => {
    const relative = ts.filter((b) => /from\s+['"]\.{1,2}\/(\.\.\/)*src\//.test(b.code)).map((b) => `${b.doc}:${b.line}`)
    assert.deepEqual(relative, [], 'import from mcp-authz (or mcp-authz/server, /config, /proxy), not ./src')
    assert.ok(checked.length >= 5, `only ${checked.length} blocks to check: did the extraction break?`)
    const partial = ts.filter((b) => b.marker === 'partial')
    assert.ok(partial.length <= ts.length / 2, `${partial.length} of ${ts.length} TypeScript blocks are partial: keep those few`)
  })

  it('every complete TypeScript block type-checks against the exports (strict, NodeNext)', { timeout: 240_000 }, async () => {
    const dir = await tempDir('mcp-authz-snippets-')
    await symlink(realpathSync(join(REPO, 'node_modules')), join(dir, 'node_modules'))
    await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'snippets', private: true, type: 'module' }))
    const pkg = (await import(join(REPO, 'package.json'), { with: { type: 'json' } })).default as { exports: Record<string, ExportTarget> }
    const base = (await import(join(REPO, 'tsconfig.json'), { with: { type: 'json' } })).default as { compilerOptions: Record<string, unknown> }
    await mkdir(join(dir, 'snippets'))
    const where = new Map<string, CodeBlock>()
    for (const b of checked) {
      where.set(fileName(b), b)
      await writeFile(join(dir, 'snippets', fileName(b)), `${b.code}\nexport {}\n`)
    }
    // Canaries in the same program: a misspelt option and an unexported subpath must be errors, or the check proves nothing.
    await writeFile(join(dir, 'snippets', 'canary_option.ts'), "import { createAuthz } from 'mcp-authz'\nawait createAuthz({ dta: 'data.yaml' })\nexport {}\n")
    await writeFile(join(dir, 'snippets', 'canary_subpath.ts'), "import { createAuthz } from 'mcp-authz/dist/authz.js'\nawait createAuthz({ data: 'data.yaml' })\nexport {}\n")
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...base.compilerOptions, noEmit: true, paths: pathsFromExports(pkg.exports) }, include: ['snippets/*.ts'] }, null, 2))

    const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8', timeout: 200_000 })
    assert.equal(tsc.error, undefined, `tsc did not run: ${tsc.error?.message}`)
    const errors = `${tsc.stdout}${tsc.stderr}`
      .split('\n')
      .map((l) => /^(?:.*\/)?snippets\/([^(]+)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(l) ?? (l.includes('error TS') ? [l, '?', '0', '0', '', l] : null))
      .filter((m) => m !== null)
      .map(([, file, row, , code, message]) => ({ file: file as string, row: Number(row), code, message }))
    const canaries = errors.filter((e) => e.file.startsWith('canary_'))
    assert.ok(canaries.some((e) => e.file === 'canary_option.ts' && (e.code === 'TS2353' || e.code === 'TS2561') && /dta/.test(e.message ?? '')), `a misspelt option must not type-check:\n${tsc.stdout}`)
    assert.ok(canaries.some((e) => e.file === 'canary_subpath.ts' && e.code === 'TS2307'), `a subpath the package does not export must not resolve:\n${tsc.stdout}`)
    const real = errors
      .filter((e) => !e.file.startsWith('canary_'))
      .map((e) => {
        const b = where.get(e.file)
        return b === undefined ? `${e.file}:${e.row}: ${e.code} ${e.message}` : `${b.doc}:${b.line + e.row}: ${e.code} ${e.message}`
      })
    assert.deepEqual(real, [], `documentation TypeScript that does not compile (or mark the block <!-- snippet: partial -->):\n${real.join('\n')}`)
  })
})
