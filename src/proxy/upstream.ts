/**
 * What both kinds of upstream (Streamable HTTP, stdio) share: the request they are handed once the
 * HTTP guard let it through, the context they filter and identify with, and the JSON-RPC error
 * answers the proxy gives when the upstream fails.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Authz } from '../authz.ts'
import type { Principal } from '../contracts/principal.ts'
import { DECISION_ID_HEADER, type HttpPass } from '../mcp/http.ts'
import type { LearnedAnnotations } from './filter.ts'
import type { ProxyMetrics } from './metrics.ts'

/** One request the guard allowed, on its way upstream. */
export interface ProxiedRequest {
  req: IncomingMessage
  res: ServerResponse
  /** `GET`, `POST` or `DELETE`. */
  method: string
  /** The guard's verdict: principal, decision id, the parsed and decided message, session binding. */
  verdict: HttpPass
  /** The request's `Mcp-Session-Id`, which the guard checked is bound to this principal. */
  sessionId: string | undefined
}

/** What every upstream needs from the proxy. */
export interface UpstreamContext {
  authz: Authz
  /** Tool annotations learned from `tools/list` results, for the policy. */
  annotations: LearnedAnnotations
  /** Headers that tell the upstream who calls (static credential, signed assertion); never the client's. */
  identity(principal: Principal, decisionId: string): Promise<Record<string, string>>
  /** Forgets the binding of a session the upstream no longer knows. */
  forgetSession(sessionId: string): void
  metrics: ProxyMetrics
  /** Receives operational problems (upstream down, child stderr), never secrets. */
  log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void
}

/** An upstream MCP server. */
export interface Upstream {
  readonly kind: 'http' | 'stdio'
  /** Serves one allowed request; never throws (failures become answers to the client). */
  handle(request: ProxiedRequest): Promise<void>
  /** Ends every stream and session (and process); resolves when nothing is left. */
  close(): Promise<void>
}

/** JSON-RPC code of the proxy's own failures (upstream unreachable, timed out, gone mid-stream). */
export const UPSTREAM_ERROR_CODE = -32000

/**
 * The request id of a message, when it is a request (for error answers on the same id).
 *
 * @example
 * ```ts
 * requestIdOf({ jsonrpc: '2.0', id: 7, method: 'tools/call' }) // 7
 * ```
 */
export function requestIdOf(message: unknown): string | number | undefined {
  if (message === null || typeof message !== 'object') return undefined
  const m = message as { id?: unknown; method?: unknown }
  if (typeof m.method !== 'string') return undefined
  return typeof m.id === 'string' || typeof m.id === 'number' ? m.id : undefined
}

/**
 * Answers a failure of the upstream with a JSON-RPC error carrying the decision id (or ends the
 * stream when headers were already sent).
 *
 * @example
 * ```ts
 * answerUpstreamFailure(res, 502, 7, 'Upstream unavailable', decisionId)
 * ```
 */
export function answerUpstreamFailure(res: ServerResponse, status: number, id: string | number | undefined, message: string, decisionId: string): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: { code: UPSTREAM_ERROR_CODE, message, data: { decision_id: decisionId } } })
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), [DECISION_ID_HEADER]: decisionId }).end(body)
}
