/**
 * JSON-RPC 2.0 errors for messages that cannot be classified. Such messages get an error response,
 * never a policy decision (the refusal is still recorded in the decision log, `error.code`
 * {@link MESSAGE_INVALID}).
 *
 * @module
 */

/** JSON-RPC 2.0 error codes used when a message is refused before any decision. */
export const JsonRpcErrorCode = {
  /** Invalid JSON, or JSON beyond the configured bounds. */
  ParseError: -32700,
  /** Not a valid JSON-RPC 2.0 request / notification / response (batches included). */
  InvalidRequest: -32600,
  /** A known MCP method whose params miss what authorization needs (e.g. tools/call without a name). */
  InvalidParams: -32602,
  /** Internal error of the engine (never used for denials). */
  InternalError: -32603,
  /** The call was denied by policy (implementation-defined server error range). */
  Forbidden: -32003,
} as const

/** `error.code` of the decision event recorded for a message refused as malformed. */
export const MESSAGE_INVALID = 'ERR_MESSAGE_INVALID'

/** A JSON-RPC error object. */
export interface JsonRpcError {
  code: number
  message: string
  data?: Record<string, unknown>
}
