/**
 * Failures of the MCP surface after the guard let a request through (the MCP handler, the
 * transport, a session's server): reported, never swallowed. Each adapter and
 * `createMcpSessions` take an `onError` hook; without one, a line goes to stderr with the
 * decision id, so the failure can be matched to the decision log and to what the client saw.
 *
 * @module
 */

/** What is known about a failed request. */
export interface McpErrorContext {
  /** Where it failed: the MCP handler (`handle`, the session's transport or server), or a session's clean-up. */
  stage: 'handler' | 'session'
  /** The decision id of the request (also in the client's `Mcp-Authz-Decision-Id` header), when it was decided. */
  decisionId?: string
  /** HTTP method of the request. */
  method?: string
  /** The request's `Mcp-Session-Id`, when it had one. */
  sessionId?: string
}

/** Receives every failure; its own exceptions are reported by the default handler. */
export type McpErrorHandler = (error: unknown, context: McpErrorContext) => void

/**
 * The default `onError`: one line on stderr naming the stage, the decision id and the error
 * (with its stack). Never a header, a token or a request body.
 *
 * @example
 * ```ts
 * mcpAuthzHandler({ authz, sessions, onError: (err, ctx) => { logDefaultError(err, ctx); metrics.errors.inc() } })
 * ```
 */
export function logDefaultError(error: unknown, context: McpErrorContext): void {
  const where = [context.decisionId !== undefined ? `decision ${context.decisionId}` : undefined, context.method, context.sessionId !== undefined ? `session ${context.sessionId}` : undefined].filter(Boolean).join(', ')
  const detail = error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : String(error)
  console.error(`mcp-authz: the MCP ${context.stage} failed${where ? ` (${where})` : ''}: ${detail}`)
}

/** Calls `handler` (default {@link logDefaultError}); a failing handler is itself reported by the default. */
export function reportError(handler: McpErrorHandler | undefined, error: unknown, context: McpErrorContext): void {
  if (handler === undefined) return logDefaultError(error, context)
  try {
    handler(error, context)
  } catch (failure) {
    logDefaultError(error, context)
    logDefaultError(failure, { ...context, stage: context.stage })
  }
}
