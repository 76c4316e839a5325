/**
 * An environment without the `opa` CLI, as a user who installed mcp-authz from npm has it: PATH
 * keeps every folder that holds no `opa` (npm, npx, git, …), this test's Node comes first, and
 * `MCP_AUTHZ_OPA` is unset.
 *
 * @module
 */
import { existsSync } from 'node:fs'
import { mkdir, symlink } from 'node:fs/promises'
import { delimiter, join } from 'node:path'

/**
 * The environment of a child process that cannot find `opa`. `binDir` is a folder of the test's
 * own (under a temp folder) where a `node` link to this process's Node is made.
 *
 * @example
 * ```ts
 * const env = await envWithoutOpa(join(dir, 'bin'))
 * spawnSync('npx', ['mcp-authz', 'build'], { env })
 * ```
 */
export async function envWithoutOpa(binDir: string, base: NodeJS.ProcessEnv = process.env): Promise<NodeJS.ProcessEnv> {
  await mkdir(binDir, { recursive: true })
  if (!existsSync(join(binDir, 'node'))) await symlink(process.execPath, join(binDir, 'node'))
  const kept = (base.PATH ?? '').split(delimiter).filter((d) => d !== '' && !existsSync(join(d, 'opa')))
  const env: NodeJS.ProcessEnv = { ...base, PATH: [binDir, ...kept].join(delimiter) }
  delete env.MCP_AUTHZ_OPA
  return env
}
