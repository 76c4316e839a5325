/**
 * How the CLI ends: exit code 0 success, 1 unexpected failure (or failing tests), 2 bad usage,
 * configuration, bundle or policy (every problem listed), 3 `eval --exit-code` and the decision was
 * a deny. Messages say what to fix; no stack traces for mistakes a user can make.
 *
 * @module
 */
import { AuthzError } from '../errors.ts'
import { ConfigError } from '../config/errors.ts'
import { PolicyError } from '../policy/errors.ts'

/** A command used wrongly (missing or contradictory options). Exit 2. */
export class UsageError extends Error {}

/** Exit codes, as documented in the README's CLI section. */
export const EXIT = { ok: 0, failure: 1, usage: 2, denied: 3 } as const

const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
}

/** The exit code and message for anything a command threw. */
export function describeFailure(err: unknown): { code: number; message: string } {
  if (err instanceof UsageError || err instanceof ConfigError) return { code: EXIT.usage, message: err.message }
  if (err instanceof PolicyError) {
    // Anything wrong with the bundle, the policy or its data is the user's to fix; a failed evaluation is not.
    return err.code === 'ERR_POLICY_EVAL' ? { code: EXIT.failure, message: `${err.code}: ${err.message}` } : { code: EXIT.usage, message: err.message }
  }
  const errno = err as { code?: unknown; path?: unknown; syscall?: unknown; address?: unknown; port?: unknown; message?: unknown }
  if (typeof errno?.code === 'string') {
    if (errno.code === 'EADDRINUSE' || (errno.code === 'EACCES' && errno.syscall === 'listen') || errno.code === 'EADDRNOTAVAIL') {
      const where = errno.address !== undefined ? `${String(errno.address)}:${String(errno.port)}` : 'the configured address'
      const why = errno.code === 'EADDRINUSE' ? 'the address is already in use (another server is running there: stop it, or choose another server.port / MCP_AUTHZ_SERVER_PORT)' : errno.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : 'the address is not available on this machine'
      return { code: EXIT.usage, message: `cannot listen on ${where}: ${why}` }
    }
    const what = FILE_ERRORS[errno.code]
    if (what !== undefined && typeof errno.path === 'string') return { code: EXIT.usage, message: `cannot read ${errno.path}: ${what}` }
  }
  if (err instanceof AuthzError) return { code: EXIT.failure, message: `${err.code}: ${err.message}` }
  return { code: EXIT.failure, message: `unexpected error: ${err instanceof Error ? err.message : String(err)}` }
}
