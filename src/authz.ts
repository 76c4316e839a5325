/**
 * `createAuthz(config)`: the one place where the stages are assembled. Every surface (MCP hooks,
 * HTTP middleware, the decision endpoint, the CLI) is a thin adapter over the object it returns.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import type { Action } from './action/action.ts'
import type { JsonRpcError } from './action/errors.ts'
import { resolveLimits, type MessageLimits } from './action/limits.ts'
import type { Principal } from './contracts/principal.ts'
import type { DecisionEvent } from './decision-log/record.ts'
import type { StepUpScopes } from './enforce/outcome.ts'
import type { Decision, PolicyInput, Reason } from './policy/decision.ts'
import { readBundle, type Bundle } from './policy/bundle.ts'
import { libraryBundle, readPolicyData, withData, type PolicyDataSource } from './policy/library.ts'
import { DecisionCache, type DecisionCacheOptions } from './policy/decision-cache.ts'
import { PolicyEngine, type ActiveBundle, type EngineOptions } from './policy/engine.ts'
import { PolicyError } from './policy/errors.ts'
import type { VerifierConfig } from './verify/config.ts'
import { createTokenVerifier } from './verify/index.ts'
import { canonicalResourceUri } from './verify/resource-uri.ts'
import { check } from './authz/check.ts'
import type { AuthzIncident, Core, ShadowConfig } from './authz/core.ts'
import { decide } from './authz/decide.ts'
import { evaluate } from './authz/evaluate.ts'
import { Recorder } from './authz/events.ts'
import { bundleState, type BundleState } from './authz/state.ts'
import { derivedVerifierConfig, TrustError, trustProblems, type DataTrust, type TrustProblem, type VerifierTrust } from './authz/trust.ts'
import { visible, type VisibleOptions } from './authz/visible.ts'
import type { DecisionTableOptions } from './authz/table.ts'

export type { AuthzIncident, DataTrust, DecisionTableOptions, ShadowConfig, TrustProblem, VerifierTrust, VisibleOptions }
export { TrustError }

/** Configuration of {@link createAuthz}. */
export interface AuthzConfig {
  /**
   * The policy bundle (`mcp-authz build` output): a file path or the gzipped bytes. Give exactly one
   * of `bundle` and `data`.
   */
  bundle?: string | Uint8Array
  /**
   * Policy data alone (an object, or a JSON / YAML file path), loaded into the prebuilt policy
   * library that ships with the package: no `opa` binary needed. Validated at start and on every
   * reload (`load({ data })`). Custom Rego needs `mcp-authz build` and `bundle` instead.
   */
  data?: PolicyDataSource
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
  /**
   * Called when the policy fails to evaluate (the call is denied with `policy_error`; this is the
   * operator's signal). Default: one line on stderr with the code, the runtime's message and the
   * decision id. Exceptions are swallowed.
   */
  onError?: (incident: AuthzIncident) => void
  /**
   * Turns a bearer token into a principal; needed by {@link Authz.check}. Either the verifier's
   * configuration (see `createTokenVerifier`), from which the engine builds the verifier with the
   * trust facts of the policy data — the audience is `data.mcp_authz.resource`, every issuer of
   * `data.mcp_authz.issuers` is trusted with the tenant it is pinned to, so they are written once —
   * or a verifier instance (`createTokenVerifier(...)`, or any `{ verify(token) }`), whose trust,
   * when it describes it, must agree with the data. A disagreement refuses the bundle
   * ({@link TrustError} naming both places). Default: none (every credential gets 401).
   */
  verifier?: CredentialVerifier | VerifierConfig
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
  /**
   * Per-principal decision tables (src/authz/table.ts): for a principal the verifier's memo hands
   * out (one deeply frozen object per token), a decision that depends only on principal, method
   * and item is evaluated once and then answered from that principal's table — and so is list
   * filtering, item by item. Used only when the bundle proves it (built by `mcp-authz build`; no
   * rule outside the library reads arguments, `_meta`, ids, context, time or randomness; never for
   * items with argument conditions); data `decision_cache: false` turns it off. A table answers
   * exactly what the policy answered; it is dropped on `load` and at the principal's `expiresAt`.
   * `false` turns tables off. Default: on, `{ maxBytes: 32 MiB, maxPrincipalBytes: 1 MiB }`.
   */
  decisionTable?: DecisionTableOptions | false
}

/** What {@link Authz.check} needs from a verifier: token in, principal out, typed error otherwise. */
export interface CredentialVerifier {
  verify(token: string, options?: { signal?: AbortSignal }): Promise<Principal>
  /** What the verifier trusts, so the engine can check it against the policy data (`createTokenVerifier` sets it). */
  readonly trust?: VerifierTrust
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
  /** The parsed message, to pass on without parsing twice (resource URIs in the form that was decided). */
  message?: Record<string, unknown>
  /** The policy input exactly as evaluated (absent when the message was malformed). */
  input?: PolicyInput
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
  /**
   * The items of a list the principal may see, in one evaluation, recorded as its own event (path
   * `mcp/authz/visible`: counts and the first hidden names). Fails closed (empty) on error.
   */
  visible<T extends ListItem>(principal: Principal, kind: 'tool' | 'resource' | 'prompt', items: readonly T[], options?: VisibleOptions): T[]
  /**
   * Evaluates a raw policy input (`{principal, action, server, context}`) on the decision
   * entrypoint, as OPA's Data API would (used by the decision endpoint's OPA-compatible route).
   * Records a decision event. Never throws: failures are `policy_error` denials.
   */
  evaluate(input: PolicyInput): Decision & { decisionId: string; revision?: string }
  /** Loads a new bundle atomically; the previous one keeps serving if this throws. */
  load(bundle: BundleSource): Promise<ActiveBundle>
  /** The bundle serving now. */
  readonly bundle: ActiveBundle
  /** The verifier {@link check} uses (built from the configuration and the data, or the one given). */
  readonly verifier: CredentialVerifier | undefined
  /** Canonical resource URI of this server. */
  readonly resource: string
  /** RFC 9728 metadata URL for this resource. */
  readonly resourceMetadataUrl: string
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
  if ((config.bundle === undefined) === (config.data === undefined)) throw new TypeError('give exactly one of config.bundle and config.data')
  if (config.bundle !== undefined && typeof config.bundle !== 'string' && !(config.bundle instanceof Uint8Array)) throw new TypeError('config.bundle must be a file path or the bundle bytes')
  if (config.data !== undefined && typeof config.data !== 'string' && (config.data === null || typeof config.data !== 'object' || Array.isArray(config.data))) throw new TypeError('config.data must be an object or a file path')
  if (config.onDecision !== undefined && typeof config.onDecision !== 'function') throw new TypeError('config.onDecision must be a function')
  if (config.stepUpScopes !== undefined && config.stepUpScopes !== 'required' && config.stepUpScopes !== 'granted-and-required') throw new TypeError("config.stepUpScopes must be 'required' or 'granted-and-required'")
  if (config.onError !== undefined && typeof config.onError !== 'function') throw new TypeError('config.onError must be a function')
  if (config.decisionCache !== undefined && (config.decisionCache === null || typeof config.decisionCache !== 'object')) throw new TypeError('config.decisionCache must be an object')
  if (config.decisionTable !== undefined && config.decisionTable !== false && (config.decisionTable === null || typeof config.decisionTable !== 'object')) throw new TypeError('config.decisionTable must be an object or false')
  const wantedResource = config.resource === undefined ? undefined : canonicalResourceUri(config.resource)
  if (config.resource !== undefined && wantedResource === undefined) throw new TypeError('config.resource must be an absolute http(s) URI')
  const transport = config.transport ?? 'http'
  const engine = new PolicyEngine(config.engine)
  const cache = config.decisionCache === undefined ? undefined : new DecisionCache(config.decisionCache)
  let state: BundleState | undefined
  const current = (): BundleState => state as BundleState
  const given = config.verifier
  const verifierConfig = given !== undefined && typeof (given as CredentialVerifier).verify !== 'function' ? (given as VerifierConfig) : undefined
  if (given !== undefined && (given === null || typeof given !== 'object')) throw new TypeError('config.verifier must be a verifier or its configuration')
  let verifier: CredentialVerifier | undefined = verifierConfig === undefined ? (given as CredentialVerifier | undefined) : undefined
  let trusted: string | undefined
  const onError = config.onError ?? reportOnStderr
  const core: Core = {
    engine,
    limits: resolveLimits(config.limits),
    transport,
    shadow: config.shadow,
    stepUpScopes: config.stepUpScopes ?? 'required',
    cache,
    recorder: new Recorder(config.onDecision, () => current().active.revision, transport),
    state: current,
    cacheActive: () => cache !== undefined && current().plan.deterministic && current().active.config.decision_cache !== false,
    incident(incident) {
      try {
        onError(incident)
      } catch {
        // Reporting must never break a decision.
      }
    },
  }

  async function load(source: BundleSource): Promise<ActiveBundle> {
    const bundle = await bundleOf(source, config.engine?.bundleLimits)
    const resource = (bundle.data as { mcp_authz?: { resource?: unknown } }).mcp_authz?.resource
    if (wantedResource !== undefined && resource !== wantedResource) {
      throw new PolicyError('ERR_DATA_INVALID', `bundle resource ${JSON.stringify(resource)} (data.mcp_authz.resource) differs from config.resource ${JSON.stringify(wantedResource)}`, {
        problems: [{ path: '$.mcp_authz.resource', message: `must equal config.resource ${wantedResource}` }],
      })
    }
    const prepared = await engine.prepare(bundle)
    const next = bundleState(prepared, config.challengeScopes, config.decisionTable ?? {})
    const nextVerifier = verifierFor(prepared)
    engine.activate(prepared)
    state = next
    verifier = nextVerifier
    cache?.clear()
    return prepared
  }

  /**
   * The verifier for a bundle: built from the configuration with the data's trust facts (rebuilt
   * only when those change, so key and principal caches survive ordinary reloads), or the given
   * instance once its trust agrees with the data.
   */
  function verifierFor(active: ActiveBundle): CredentialVerifier | undefined {
    const data: DataTrust = { resource: active.config.resource, issuers: active.config.issuers }
    if (verifierConfig === undefined) {
      if (verifier?.trust !== undefined) {
        const problems = trustProblems(data, verifier.trust)
        if (problems.length > 0) throw new TrustError(problems)
      }
      return verifier
    }
    const facts = JSON.stringify([data.resource, data.issuers])
    if (facts === trusted && verifier !== undefined) return verifier
    const built = createTokenVerifier(derivedVerifierConfig(data, verifierConfig))
    trusted = facts
    return built
  }

  await load(config.bundle ?? { data: config.data as PolicyDataSource })

  return {
    decide: (principal, message, context) => decide(core, principal, message, context),
    check: (credential, message, context) => check(core, verifier, credential, message, context),
    visible: (principal, kind, items, options) => visible(core, principal, kind, items, options),
    evaluate: (input) => evaluate(core, input),
    load,
    get bundle() {
      return current().active
    },
    get verifier() {
      return verifier
    },
    get resource() {
      return current().active.config.resource
    },
    get resourceMetadataUrl() {
      return current().metadataUrl
    },
  }
}

/** What {@link Authz.load} takes: bundle bytes or a bundle file, or policy data for the prebuilt library. */
export type BundleSource = string | Uint8Array | { data: PolicyDataSource }

async function bundleOf(source: BundleSource, limits: EngineOptions['bundleLimits']): Promise<Bundle> {
  if (typeof source === 'string' || source instanceof Uint8Array) return readBundle(typeof source === 'string' ? await readFile(source) : source, limits)
  if (source === null || typeof source !== 'object' || !('data' in source)) throw new TypeError('load() takes bundle bytes, a bundle file path, or { data }')
  return withData(await libraryBundle(), await readPolicyData(source.data))
}

/** The default {@link AuthzConfig.onError}: one line on stderr, with the decision id to find the record. */
function reportOnStderr(incident: AuthzIncident): void {
  process.stderr.write(`mcp-authz: ${incident.code}: ${incident.message} (decision ${incident.decisionId})\n`)
}
