/**
 * Lists the files under a folder the way a policy author means it: recursively, but never inside
 * `node_modules` or hidden folders (`.git`, `.mcp-authz`), where a copy of the policy library or
 * someone else's Rego may live.
 *
 * @module
 */
import { readdir } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'

/**
 * Every file under `dir` whose name passes `keep`, sorted, skipping `node_modules` and hidden folders.
 *
 * @example
 * ```ts
 * await filesUnder('my-policies', (name) => name.endsWith('.rego')) // ['my-policies/fs.rego', …]
 * ```
 */
export async function filesUnder(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries
    .filter((e) => e.isFile() && keep(e.name))
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => !relative(dir, path).split(sep).slice(0, -1).some((part) => part === 'node_modules' || part.startsWith('.')))
    .sort()
}
