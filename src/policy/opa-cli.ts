/**
 * Running the pinned `opa` CLI (build, parse, test): a missing binary is `ERR_OPA_MISSING` with the
 * way to install it, a failure is `ERR_OPA_BUILD` with opa's own message, and every run is bounded
 * in time.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { PolicyError } from './errors.ts'

const run = promisify(execFile)

/** The opa release mcp-authz is built and tested with. */
export const OPA_VERSION = 'v1.22.2'

/** How to get the `opa` CLI, for messages. */
export const OPA_INSTALL_HINT = `install opa ${OPA_VERSION}: \`go install github.com/open-policy-agent/opa@${OPA_VERSION}\`, or download a release binary from https://github.com/open-policy-agent/opa/releases/tag/${OPA_VERSION}; put it on PATH or set MCP_AUTHZ_OPA=/path/to/opa`

/** The `opa` binary to run: the option, else `$MCP_AUTHZ_OPA`, else `opa` on PATH. */
export function opaBinary(option?: string): string {
  return option ?? (process.env.MCP_AUTHZ_OPA || 'opa')
}

/** opa's JSON error list (`--format json`) as `file:row:col: code: message` lines. */
function jsonErrors(text: string | undefined): string | undefined {
  if (text === undefined || !text.trimStart().startsWith('{')) return undefined
  try {
    const errors = (JSON.parse(text) as { errors?: Array<{ message?: string; code?: string; location?: { file?: string; row?: number; col?: number } }> }).errors
    if (!Array.isArray(errors) || errors.length === 0) return undefined
    return errors.map((e) => `${e.location?.file ?? ''}${e.location?.row ? `:${e.location.row}` : ''}${e.location?.col ? `:${e.location.col}` : ''}: ${e.code ? `${e.code}: ` : ''}${e.message ?? ''}`).join('\n')
  } catch {
    return undefined
  }
}

/**
 * Runs `opa <args>` and returns its stdout.
 *
 * @throws {PolicyError} `ERR_OPA_MISSING` (with {@link OPA_INSTALL_HINT}) or `ERR_OPA_BUILD`.
 * @example
 * ```ts
 * await runOpa('opa', ['version'], { timeoutMs: 10_000 })
 * ```
 */
export async function runOpa(opa: string, args: string[], options: { cwd?: string; timeoutMs: number; allowFailure?: boolean }): Promise<string> {
  try {
    const { stdout } = await run(opa, args, { cwd: options.cwd, timeout: options.timeoutMs, maxBuffer: 64 * 1024 * 1024 })
    return stdout
  } catch (cause) {
    const e = cause as { code?: unknown; stderr?: string; stdout?: string; killed?: boolean }
    if (e.code === 'ENOENT') throw new PolicyError('ERR_OPA_MISSING', `the opa CLI was not found (${opa}); mcp-authz compiles and tests Rego with it: ${OPA_INSTALL_HINT}`, { cause })
    if (options.allowFailure && !e.killed && typeof e.code === 'number') return e.stdout ?? ''
    const detail = jsonErrors(e.stdout) ?? jsonErrors(e.stderr) ?? (e.stderr?.trim() || e.stdout?.trim())
    throw new PolicyError('ERR_OPA_BUILD', e.killed ? `opa ${args[0]} timed out after ${options.timeoutMs} ms` : `opa ${args[0]} failed${detail ? `:\n${detail}` : ''}`, { cause })
  }
}
