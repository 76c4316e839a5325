/**
 * The action: what one JSON-RPC message asks the MCP server to do. Contract:
 * `schemas/action.schema.json`.
 *
 * @module
 */

/** Coarse class of an MCP method; policies key most rules on it. */
export type ActionKind = 'tool' | 'resource' | 'prompt' | 'list' | 'session' | 'notification' | 'response' | 'other'

/** A classified JSON-RPC message. Unknown methods are kind `other` and still go to the policy. */
export interface Action {
  /** The JSON-RPC method, e.g. `tools/call`. */
  method: string
  /** Coarse class of the method. */
  kind: ActionKind
  /** Tool or prompt name (`tools/call`, `prompts/get`). */
  name?: string
  /**
   * Resource URI (`resources/read|subscribe|unsubscribe`, completion `ref/resource`), in the
   * canonical form the server resolves it by (`new URL(uri).href`; see `./resource-uri.ts`).
   */
  uri?: string
  /** Tool or prompt arguments as sent. */
  arguments?: Record<string, unknown>
  /** JSON-RPC id; absent for notifications. */
  id?: string | number
  /** Tool annotations known to the server (e.g. `readOnlyHint`), supplied by the embedding. */
  annotations?: Record<string, unknown>
  /** `_meta` of the request params, as sent. */
  meta?: Record<string, unknown>
}
