/**
 * `createAuthz(config)`: the one place where the stages are assembled. Every surface (MCP hooks,
 * HTTP middleware, the decision endpoint, the CLI) is a thin adapter over the object it returns.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import type { Action } from './action/action.ts'
import type { DecisionEvent } from './decision-log/record.ts'
import { classifyMessage } from './action/classify.ts'
import { MESSAGE_INVALID, type JsonRpcError } from './action/errors.ts'
import { resolveLimits, type MessageLimits } from './action/limits.ts'
import { bearerChallenge, protectedResourceMetadataUrl } from './enforce/challenge.ts'
import { decisionOutcome, unauthorizedOutcome, type StepUpScopes } from './enforce/outcome.ts'
import { scopesNamed } from './enforce/metadata.ts'
import type { Decision, PolicyInput, Reason } from './policy/decision.ts'
import { readBundle } from './policy/bundle.ts'
import { DecisionCache, type DecisionCacheOptions } from './policy/decision-cache.ts'
import { PolicyEngine, type ActiveBundle, type EngineOptions } from './policy/engine.ts'
import { PolicyError } from './policy/errors.ts'
import type { Principal } from './contracts/principal.ts'
import { canonicalResourceUri } from './verify/resource-uri.ts'

/** Shadow mode: decide and log, but let the call through. */
export type ShadowConfig = boolean | { tools?: readonly string[]; methods?: readonly string[] }

/** Configuration of {@link createAuthz}. */
export interface AuthzConfig {
  /** The policy bundle (`mcp-authz build` output): a file path or the gzipped bytes. Required. */
  bundle: string | Uint8Array
  /** The server's resource URI; must equal the bundle's `data.mcp_authz.resource` when given. Default: the bundle's. */
  resource?: string
  /** Bounds on incoming messages (body size, depth, string length, argument count). */
  limits?: MessageLimits
  /** Shadow mode, globally (`true`) or for some tools / methods. Default `false` (enforce). */
  shadow?: ShadowConfig
  /** WASM memory and bundle size limits. */
  engine?: EngineOptions
  /** Transport name recorded in the policy input. Default `'http'`. */
  transport?: string
  /** Called once per decision (the decision log plugs in here). Exceptions are swallowed. */
  onDecision?: (event: DecisionEvent) => void
  /** Turns a bearer token into a principal (see `createTokenVerifier`). Needed by {@link Authz.check}. */
  verifier?: CredentialVerifier
  /** Scopes named in the `scope` parameter of 401 challenges. Default: the policy's read scope. */
  challengeScopes?: readonly string[]
  /** Which scopes a 403 step-up challenge names: `'required'` or `'granted-and-required'` (see {@link StepUpScopes}). Default: `'required'`. */
  stepUpScopes?: StepUpScopes
  /**
   * Caches decisions (bounded LRU, `max` default 10000) — only for bundles whose data declares
   * `decision_cache: true`. Cleared on reload; an entry never outlives the principal's `expiresAt`.
   * Default: off.
   */
  decisionCache?: DecisionCacheOptions
}

/** What {@link Authz.check} needs from a verifier: token in, principal out, typed error otherwise. */
export interface CredentialVerifier {
  verify(token: string, options?: { signal?: AbortSignal }): Promise<Principal>
}

/** Extra facts about one call. */
export interface DecideContext {
  /** Transport the call came over (`http`, `stdio`). Default: the config's. */
  transport?: string
  /** Correlation id of the surrounding request. */
  requestId?: string
  /** Tool annotations known to the server (e.g. `{ readOnlyHint: true }`) for the called tool. */
  annotations?: Record<string, unknown>
  /** Time already spent verifying the token, for the decision log. */
  verifyNs?: number
}

/** What the engine hands to the decision log after each decision (defined by the decision-log stage). */
export type { DecisionEvent }

/** The answer for one call, ready for a surface to enforce. */
export interface DecisionResult {
  /** Correlates the client's error with the decision-log record. */
  decisionId: string
  /** Whether to let the call through (true in shadow mode even when the policy denied). */
  allow: boolean
  /** HTTP status to answer with when not allowed (see {@link decisionOutcome}). */
  status: 200 | 400 | 401 | 403
  /** `WWW-Authenticate` value for 401/403. */
  wwwAuthenticate?: string
  /** JSON-RPC error to answer a refused or denied request with. */
  jsonRpcError?: JsonRpcError
  /** Id of the request, for the JSON-RPC error response. */
  requestId?: string | number | null
  /** Every reason the policy gave (for logs; never send to clients). */
  reasons: Reason[]
  /** Scopes that would turn a scope denial into an allow. */
  requiredScopes: string[]
  /** The classified action (absent when the message was malformed). */
  action?: Action
  /** The parsed message, to pass on without parsing twice. */
  message?: Record<string, unknown>
  /** `shadow` when the decision was only recorded. */
  enforcement: 'enforced' | 'shadow'
  /** In shadow mode: what the policy said. */
  wouldAllow: boolean
  /** Revision of the bundle that decided. */
  revision?: string
}

/** An item of a list result, as `tools/list`, `resources/list` and `prompts/list` return them. */
export interface ListItem {
  name?: string
  uri?: string
  uriTemplate?: string
  annotations?: Record<string, unknown>
}

/** The assembled engine. */
export interface Authz {
  /** Decides one JSON-RPC message (text, bytes or parsed) for a verified principal. Never throws. */
  decide(principal: Principal, message: unknown, context?: DecideContext): DecisionResult
  /**
   * The whole path for one HTTP call: verifies the bearer credential (401 when missing or invalid,
   * 400 for a malformed credential), then classifies and decides the message. Records a decision
   * event for failures too. Never throws.
   */
  check(credential: string | undefined, message: unknown, context?: DecideContext & { signal?: AbortSignal }): Promise<DecisionResult & { principal?: Principal }>
  /** The items of a list the principal may see, in one evaluation. Fails closed (empty) on error. */
  visible<T extends ListItem>(principal: Principal, kind: 'tool' | 'resource' | 'prompt', items: readonly T[]): T[]
  /**
   * Evaluates a raw policy input (`{principal, action, server, context}`) on the decision
   * entrypoint, as OPA's Data API would (used by the decision endpoint's OPA-compatible route).
   * Records a decision event. Never throws: failures are `policy_error` denials.
   */
  evaluate(input: PolicyInput): Decision & { decisionId: string; revision?: string }
  /** Loads a new bundle atomically; the previous one keeps serving if this throws. */
  load(bundle: string | Uint8Array): Promise<ActiveBundle>
  /** The bundle serving now. */
  readonly bundle: ActiveBundle
  /** Canonical resource URI of this server. */
  readonly resource: string
  /** RFC 9728 metadata URL for this resource. */
  readonly resourceMetadataUrl: string
}

const DECISION_PATH = 'mcp/authz/decision'

/** Nanoseconds since a `performance.now()` reading. */
function nsSince(started: number): number {
  return Math.round((performance.now() - started) * 1e6)
}

/** The event's timings: verification (when it happened) plus everything since `started`. */
function timings(started: number, verifyNs: number | undefined): DecisionEvent['metrics'] {
  return verifyNs === undefined ? { total_ns: nsSince(started) } : { verify_ns: verifyNs, total_ns: nsSince(started) + verifyNs }
}

function isShadowed(shadow: ShadowConfig | undefined, action: Action): boolean {
  if (shadow === undefined || shadow === false) return false
  if (shadow === true) return true
  if (action.kind === 'tool' && action.name !== undefined && shadow.tools?.includes(action.name)) return true
  return shadow.methods?.includes(action.method) ?? false
}

/**
 * Assembles the engine: loads and validates the bundle, then decides calls.
 *
 * @throws {PolicyError} when the bundle cannot be loaded or its data is invalid.
 * @example
 * ```ts
 * const authz = await createAuthz({ bundle: 'build/bundle.tar.gz' })
 * const result = authz.decide(principal, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_write', arguments: { title: 'x' } } })
 * if (!result.allow) console.log(result.status, result.wwwAuthenticate ?? result.jsonRpcError)
 * ```
 */
export async function createAuthz(config: AuthzConfig): Promise<Authz> {
  if (config === null || typeof config !== 'object') throw new TypeError('config must be an object')
  if (typeof config.bundle !== 'string' && !(config.bundle instanceof Uint8Array)) throw new TypeError('config.bundle must be a file path or the bundle bytes')
  const limits = resolveLimits(config.limits)
  const engine = new PolicyEngine(config.engine)
  const wantedResource = config.resource === undefined ? undefined : canonicalResourceUri(config.resource)
  if (config.resource !== undefined && wantedResource === undefined) throw new TypeError('config.resource must be an absolute http(s) URI')
  const defaultTransport = config.transport ?? 'http'
  if (config.decisionCache !== undefined && (config.decisionCache === null || typeof config.decisionCache !== 'object')) throw new TypeError('config.decisionCache must be an object')
  const cache = config.decisionCache === undefined ? undefined : new DecisionCache(config.decisionCache)
  // Per bundle: whether the cache serves (the bundle declares itself cacheable), the `server` input part, the metadata URL.
  let cacheActive = false
  let serverPart: { resource: string; name?: string } = { resource: '' }
  let metadataUrl = ''

  async function load(source: string | Uint8Array): Promise<ActiveBundle> {
    const bytes = typeof source === 'string' ? await readFile(source) : source
    const bundle = await readBundle(bytes, config.engine?.bundleLimits)
    const resource = (bundle.data as { mcp_authz?: { resource?: unknown } }).mcp_authz?.resource
    if (wantedResource !== undefined && resource !== wantedResource) {
      throw new PolicyError('ERR_DATA_INVALID', `bundle resource ${JSON.stringify(resource)} differs from config.resource ${JSON.stringify(wantedResource)}`, {
        problems: [{ path: '$.mcp_authz.resource', message: `must equal config.resource ${wantedResource}` }],
      })
    }
    const activated = await engine.load(bundle)
    cache?.clear()
    cacheActive = cache !== undefined && activated.config.decision_cache === true
    serverPart = { resource: activated.config.resource, ...(activated.config.server_name ? { name: activated.config.server_name } : {}) }
    metadataUrl = protectedResourceMetadataUrl(activated.config.resource)
    return activated
  }

  await load(config.bundle)
  const active = () => engine.active as ActiveBundle

  function emit(event: DecisionEvent): void {
    if (config.onDecision === undefined) return
    try {
      config.onDecision(event)
    } catch {
      // The decision log must never break a decision.
    }
  }

  function buildInput(principal: Principal, action: Action, context: DecideContext): PolicyInput {
    const bundle = active()
    // Keep the input to what the policy reads: arguments only for items with argument rules.
    const slim: Action = { method: action.method, kind: action.kind }
    if (action.name !== undefined) slim.name = action.name
    if (action.uri !== undefined) slim.uri = action.uri
    if (action.id !== undefined) slim.id = action.id
    if (action.arguments !== undefined && action.name !== undefined) {
      const rules = action.kind === 'tool' ? bundle.argumentRules.tools : action.kind === 'prompt' ? bundle.argumentRules.prompts : undefined
      if (rules?.has(action.name)) slim.arguments = action.arguments
    }
    const annotations = context.annotations ?? action.annotations
    if (annotations !== undefined) slim.annotations = annotations
    if (action.meta !== undefined) slim.meta = action.meta
    return {
      principal,
      action: slim,
      server: serverPart,
      context: { time_ns: Date.now() * 1e6, transport: context.transport ?? defaultTransport, ...(context.requestId ? { request_id: context.requestId } : {}) },
    }
  }

  /** Records one decision event; fills in what every event shares. */
  function record(event: Omit<DecisionEvent, 'timestamp' | 'path' | 'revision'>): void {
    emit({ ...event, timestamp: new Date(), path: DECISION_PATH, revision: active().revision })
  }

  /** Records a call refused before any policy input existed (bad credential, malformed message). */
  function recordRefusal(decisionId: string, httpStatus: number, reasons: Reason[], error: { code: string; message: string }, metrics: DecisionEvent['metrics'], transport: string | undefined): void {
    record({
      decisionId,
      input: undefined,
      result: { allow: false, reasons, required_scopes: [] },
      metrics,
      enforcement: 'enforced',
      wouldAllow: false,
      httpStatus,
      error,
      transport: transport ?? defaultTransport,
    })
  }

  function challengeScopes(): readonly string[] {
    if (config.challengeScopes !== undefined) return config.challengeScopes
    const read = (active().config.defaults as { read_scope?: string } | undefined)?.read_scope
    return [read ?? 'mcp:read']
  }

  async function check(credential: string | undefined, message: unknown, context: DecideContext & { signal?: AbortSignal } = {}) {
    const started = performance.now()
    const failure = (status: 400 | 401, code: string, detail: string): DecisionResult => {
      const decisionId = randomUUID()
      const outcome = unauthorizedOutcome({ resourceMetadataUrl: authz.resourceMetadataUrl, defaultScopes: challengeScopes() }, credential !== undefined)
      const reasons: Reason[] = [{ code: 'invalid_token', message: detail }]
      const bundle = active()
      const elapsed = nsSince(started)
      recordRefusal(decisionId, status, reasons, { code, message: detail }, { verify_ns: elapsed, total_ns: elapsed }, context.transport)
      return {
        decisionId,
        allow: false,
        status,
        wwwAuthenticate: status === 401 ? (outcome.wwwAuthenticate as string) : bearerChallenge({ error: 'invalid_request' }),
        reasons,
        requiredScopes: [],
        enforcement: 'enforced',
        wouldAllow: false,
        revision: bundle.revision,
      }
    }
    if (credential === undefined || credential === '') return failure(401, 'ERR_TOKEN_MISSING', 'no bearer credential')
    if (config.verifier === undefined) return failure(401, 'ERR_NO_VERIFIER', 'no verifier is configured')
    let principal: Principal
    try {
      principal = await config.verifier.verify(credential, context.signal ? { signal: context.signal } : undefined)
    } catch (err) {
      const e = err as { code?: unknown; status?: unknown; message?: unknown }
      const code = typeof e.code === 'string' ? e.code : 'ERR_VERIFY_FAILED'
      return failure(e.status === 400 ? 400 : 401, code, typeof e.message === 'string' ? e.message : 'verification failed')
    }
    const verifyNs = nsSince(started)
    return { ...authz.decide(principal, message, { ...context, verifyNs }), principal }
  }

  const authz: Authz = {
    check,

    decide(principal, message, context = {}) {
      const started = performance.now()
      const decisionId = randomUUID()
      const bundle = active()
      const classified = classifyMessage(message, limits)
      if (!classified.ok) {
        const result: DecisionResult = {
          decisionId,
          allow: false,
          status: 400,
          jsonRpcError: classified.error,
          requestId: classified.id,
          reasons: [],
          requiredScopes: [],
          enforcement: 'enforced',
          wouldAllow: false,
          revision: bundle.revision,
        }
        // Refused before any policy input existed, but the client holds this decision id: record it.
        recordRefusal(decisionId, 400, [], { code: MESSAGE_INVALID, message: classified.error.message }, timings(started, context.verifyNs), context.transport)
        return result
      }
      const { action } = classified
      const input = buildInput(principal, action, context)
      const evalStart = performance.now()
      let decision: Decision
      if (cacheActive && cache !== undefined) {
        const key = cache.key(bundle.revision, principal, input.action, input.context.transport)
        decision = cache.get(key) ?? cache.set(key, engine.evaluate(input), principal)
      } else {
        decision = engine.evaluate(input)
      }
      const evalNs = nsSince(evalStart)
      const shadow = !decision.allow && isShadowed(config.shadow, action)
      const outcome = decisionOutcome(decision, {
        decisionId,
        resourceMetadataUrl: authz.resourceMetadataUrl,
        isRequest: action.id !== undefined,
        ...(config.stepUpScopes === 'granted-and-required' && !decision.allow ? { stepUpScopes: config.stepUpScopes, grantedScopes: principal.scopes, knownScopes: scopesNamed(bundle.config) } : {}),
      })
      const result: DecisionResult = {
        decisionId,
        allow: decision.allow || shadow,
        status: shadow ? 200 : outcome.status,
        reasons: decision.reasons,
        requiredScopes: decision.required_scopes,
        action,
        message: classified.message,
        requestId: action.id ?? null,
        enforcement: shadow ? 'shadow' : 'enforced',
        wouldAllow: decision.allow,
        revision: bundle.revision,
      }
      if (!shadow && outcome.wwwAuthenticate !== undefined) result.wwwAuthenticate = outcome.wwwAuthenticate
      if (!shadow && outcome.jsonRpcError !== undefined) result.jsonRpcError = outcome.jsonRpcError
      record({
        decisionId,
        input,
        result: decision,
        metrics: { ...timings(started, context.verifyNs), eval_ns: evalNs },
        enforcement: result.enforcement,
        wouldAllow: decision.allow,
        httpStatus: result.status,
        transport: input.context.transport,
      })
      return result
    },

    visible(principal, kind, items) {
      if (items.length === 0) return []
      const bundle = active()
      const key = (item: ListItem) => (kind === 'resource' ? (item.uri ?? item.uriTemplate) : item.name)
      try {
        const keys = new Set(
          engine.visible({
            principal,
            kind,
            items: items.map((item) => {
              const k = key(item)
              const entry: { name?: string; uri?: string; annotations?: Record<string, unknown> } = kind === 'resource' ? { uri: k ?? '' } : { name: k ?? '' }
              if (item.annotations !== undefined) entry.annotations = item.annotations
              return entry
            }),
            server: { resource: bundle.config.resource },
            context: { time_ns: Date.now() * 1e6, transport: defaultTransport },
          }),
        )
        return items.filter((item) => {
          const k = key(item)
          return k !== undefined && keys.has(k)
        })
      } catch {
        return []
      }
    },

    evaluate(input) {
      const started = performance.now()
      const decisionId = randomUUID()
      const bundle = active()
      const decision = engine.evaluate(input)
      const evalNs = nsSince(started)
      record({
        decisionId,
        input,
        result: decision,
        metrics: { eval_ns: evalNs, total_ns: evalNs },
        enforcement: 'enforced',
        wouldAllow: decision.allow,
        transport: input.context?.transport ?? defaultTransport,
      })
      return { ...decision, decisionId, revision: bundle.revision }
    },

    load,

    get bundle() {
      return active()
    },
    get resource() {
      return active().config.resource
    },
    get resourceMetadataUrl() {
      return metadataUrl
    },
  }
  return authz
}
