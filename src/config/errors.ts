/**
 * Errors of the configuration loader.
 *
 * @module
 */
import { AuthzError } from '../errors.ts'

/** Stable codes of {@link ConfigError}. */
export type ConfigErrorCode = 'ERR_CONFIG_INVALID' | 'ERR_CONFIG_READ'

/** A configuration that cannot be used. `problems` lists every problem, by path. */
export class ConfigError extends AuthzError {
  declare readonly code: ConfigErrorCode
  /** Every problem found, by path (`$.server.port`). */
  readonly problems: ReadonlyArray<{ path: string; message: string }>
  constructor(code: ConfigErrorCode, message: string, problems: Array<{ path: string; message: string }> = []) {
    super(code, message)
    this.problems = problems
  }
}
