/**
 * The error base class shared by every stage. Each stage defines its own subclasses with stable
 * `code`s (like jose's `ERR_JWT_EXPIRED`), so callers `switch (err.code)`; messages are for people.
 *
 * @module
 */

/** Base class of every error mcp-authz throws on purpose. */
export class AuthzError extends Error {
  /** A stable, machine-readable code, e.g. `ERR_BUNDLE_INVALID`. */
  readonly code: string

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}
