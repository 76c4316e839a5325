/**
 * The policy engine: Rego compiled to WASM, evaluated on OPA's ABI 1.2 fast path (`opa_eval`) with
 * the runtime's own builtins (src/policy/builtins/): a bundle needing a builtin the runtime cannot
 * execute is refused at load, naming the builtin and where the bundle's Rego calls it. Holds one loaded bundle at a time and swaps bundles atomically:
 * evaluation is synchronous, so a decision in flight always sees one whole bundle, and a bundle
 * that fails to load or validate never replaces the one serving.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { schemaProblems } from '../schemas.ts'
import { readAnalysis, type BundleAnalysis } from './analysis.ts'
import { RUNTIME_BUILTINS, unsupportedReason } from './builtins/index.ts'
import type { Decision, PolicyInput, Reason } from './decision.ts'
import { readBundle, type Bundle, type BundleLimits } from './bundle.ts'
import { PolicyError } from './errors.ts'
import { isDeepFrozen } from './immutable.ts'
import { inputProjection, projectedText, projectPrincipal, type InputProjection } from './projection.ts'
import { loadWasmPolicy, MissingBuiltinsError, type WasmPolicy } from './wasm.ts'

/** The entrypoints every bundle must export (`opa build -e`). */
export const ENTRYPOINTS = { decision: 'mcp/authz/decision', visible: 'mcp/authz/visible' } as const

/** Options of {@link PolicyEngine}. */
export interface EngineOptions {
  /** Initial WASM memory in 64 KiB pages. Default 16 (1 MiB). */
  initialMemoryPages?: number
  /** Maximum WASM memory in 64 KiB pages; an evaluation needing more denies with `policy_error`. Default 1024 (64 MiB). */
  maximumMemoryPages?: number
  /** Limits on bundle size. */
  bundleLimits?: BundleLimits
  /**
   * Called with every evaluation failure (the real message, e.g. a conflict at `custom/x.rego:12:3`),
   * for the server log; the decision itself denies with `policy_error` carrying the same message.
   * Exceptions are swallowed. Default: none.
   */
  onError?: (error: PolicyError, context: { entrypoint: 'decision' | 'visible'; revision: string }) => void
}

/** A bundle that passed every check and is ready to evaluate. */
export interface ActiveBundle {
  /** Manifest revision, or `sha256:` of policy and data when the manifest has none. */
  revision: string
  /** The validated `data.mcp_authz`. */
  config: PolicyConfig
  /** Tools and prompts that have argument conditions (only their arguments reach the policy). */
  argumentRules: { tools: ReadonlySet<string>; prompts: ReadonlySet<string> }
  /**
   * What `mcp-authz build` proved about the bundle's Rego (`.manifest` `metadata.mcp_authz`): the
   * input paths custom modules read, the reason rules, the imported builtins. Undefined for a bundle
   * built without it (plain `opa build`): assume nothing then.
   */
  analysis: BundleAnalysis | undefined
  /** When the bundle was activated. */
  loadedAt: Date
  /**
   * What of an input reaches the policy: the fields its compiled rules can read (the library's
   * reads plus the analysis'), see src/policy/projection.ts. The whole input without analysis.
   */
  projection: InputProjection
  /** @internal Projected principal texts of immutable principals (see src/policy/immutable.ts). */
  principalTexts: WeakMap<object, string>
  /** @internal */
  policy: WasmPolicy
  /** @internal */
  entrypoints: { decision: number; visible: number }
}

/** The part of `data.mcp_authz` the engine itself reads (the policy reads the rest). */
export interface PolicyConfig {
  resource: string
  server_name?: string
  authorization_servers?: string[]
  issuers: Record<string, { tenant?: string }>
  defaults?: { read_scope?: string; write_scope?: string; roles_claim?: string; [key: string]: unknown }
  tools?: Record<string, { scopes?: string[]; arguments?: Record<string, unknown> }>
  prompts?: Record<string, { scopes?: string[]; arguments?: Record<string, unknown> }>
  resources?: Array<{ prefix: string; scopes?: string[] }>
  methods?: Record<string, { scopes?: string[] }>
  decision_cache?: boolean
  [key: string]: unknown
}

/** A denial produced when the policy cannot answer: fail closed. */
export function policyErrorDecision(message: string): Decision {
  return { allow: false, reasons: [{ code: 'policy_error', message }], required_scopes: [] }
}

function isReason(r: unknown): r is Reason {
  return typeof r === 'object' && r !== null && typeof (r as Reason).code === 'string' && typeof (r as Reason).message === 'string'
}

/** A value shown in an error message, bounded. */
function excerpt(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

function toDecision(resultSet: unknown): Decision {
  const result = Array.isArray(resultSet) && resultSet.length === 1 ? (resultSet[0] as { result?: unknown }).result : undefined
  const d = result as Partial<Decision> | undefined
  if (d !== undefined && d !== null && typeof d === 'object' && Array.isArray(d.reasons)) {
    const bad = d.reasons.find((r) => !isReason(r))
    if (bad !== undefined) {
      return policyErrorDecision(`a deny rule produced ${excerpt(bad)}, which is not a reason: deny elements must be {"code": string, "message": string} (mcp.authz.custom: deny contains {"code": "…", "message": "…"} if { … })`)
    }
  }
  if (
    d === undefined ||
    typeof d !== 'object' ||
    d === null ||
    typeof d.allow !== 'boolean' ||
    !Array.isArray(d.reasons) ||
    !Array.isArray(d.required_scopes) ||
    !d.required_scopes.every((s) => typeof s === 'string')
  ) {
    return policyErrorDecision(`the decision entrypoint returned no well-formed decision: ${excerpt(result)}`)
  }
  // A policy may not allow and give reasons at once: a contradiction denies.
  if (d.allow && d.reasons.length > 0) return { allow: false, reasons: d.reasons, required_scopes: d.required_scopes }
  return { allow: d.allow, reasons: d.reasons, required_scopes: d.required_scopes }
}

/**
 * Evaluates decisions against the active bundle.
 *
 * @example
 * ```ts
 * const engine = new PolicyEngine()
 * await engine.load(await readFile('build/bundle.tar.gz'))
 * engine.evaluate(input) // { allow: false, reasons: [{ code: 'insufficient_scope', … }], required_scopes: ['notes:write'] }
 * ```
 */
export class PolicyEngine {
  #active: ActiveBundle | undefined
  readonly #options: Required<Omit<EngineOptions, 'bundleLimits' | 'onError'>> & { bundleLimits: BundleLimits; onError?: EngineOptions['onError'] }

  constructor(options: EngineOptions = {}) {
    const initial = options.initialMemoryPages ?? 16
    const maximum = options.maximumMemoryPages ?? 1024
    if (!Number.isInteger(initial) || initial < 2) throw new TypeError('initialMemoryPages must be an integer ≥ 2')
    if (!Number.isInteger(maximum) || maximum < initial || maximum > 65536) throw new TypeError('maximumMemoryPages must be an integer between initialMemoryPages and 65536')
    if (options.onError !== undefined && typeof options.onError !== 'function') throw new TypeError('onError must be a function')
    this.#options = { initialMemoryPages: initial, maximumMemoryPages: maximum, bundleLimits: options.bundleLimits ?? {}, ...(options.onError ? { onError: options.onError } : {}) }
  }

  /** The bundle serving now, if any. */
  get active(): ActiveBundle | undefined {
    return this.#active
  }

  /**
   * Prepares a bundle completely (parse, validate data, instantiate, smoke-evaluate) and only then
   * makes it the active one. On any failure the previous bundle keeps serving and this throws.
   *
   * @throws {PolicyError} `ERR_BUNDLE_*`, `ERR_DATA_INVALID` (with `problems` by JSON path), `ERR_POLICY_LOAD`.
   */
  async load(source: Uint8Array | Bundle): Promise<ActiveBundle> {
    const bundle = source instanceof Uint8Array ? await readBundle(source, this.#options.bundleLimits) : source
    const active = await this.prepare(bundle)
    this.#active = active
    return active
  }

  /**
   * Makes a bundle returned by {@link prepare} the active one (for callers that check more than the
   * engine does before switching).
   */
  activate(active: ActiveBundle): void {
    this.#active = active
  }

  /** Everything {@link load} does except activating: for `check` and for staged rollouts. */
  async prepare(bundle: Bundle): Promise<ActiveBundle> {
    const problems = schemaProblems('data', bundle.data)
    if (problems.length > 0) {
      const list = problems.map((p) => `${p.path}: ${p.message}`).join('; ')
      throw new PolicyError('ERR_DATA_INVALID', `policy data is invalid: ${list}`, { problems })
    }
    let policy: WasmPolicy
    try {
      policy = await loadWasmPolicy(bundle.wasm, { initialPages: this.#options.initialMemoryPages, maximumPages: this.#options.maximumMemoryPages, builtins: RUNTIME_BUILTINS })
      policy.setData(bundle.data)
    } catch (cause) {
      if (cause instanceof MissingBuiltinsError) throw unsupportedBuiltinsError(cause.builtins, bundle)
      throw new PolicyError('ERR_POLICY_LOAD', `policy.wasm could not be instantiated: ${errorMessage(cause)}`, { cause })
    }
    const ids = policy.entrypoints as Record<string, number>
    const decision = ids[ENTRYPOINTS.decision]
    const visible = ids[ENTRYPOINTS.visible]
    if (decision === undefined || visible === undefined) {
      throw new PolicyError('ERR_POLICY_LOAD', `bundle must export the entrypoints ${ENTRYPOINTS.decision} and ${ENTRYPOINTS.visible} (opa build -e)`)
    }
    const config = (bundle.data as { mcp_authz: PolicyConfig }).mcp_authz
    const withArgs = (rules: Record<string, { arguments?: unknown }> | undefined) =>
      new Set(Object.entries(rules ?? {}).filter(([, r]) => r.arguments !== undefined).map(([name]) => name))
    const revision =
      typeof bundle.manifest.revision === 'string' && bundle.manifest.revision !== ''
        ? bundle.manifest.revision
        : `sha256:${createHash('sha256').update(bundle.wasm).update(JSON.stringify(bundle.data)).digest('hex').slice(0, 16)}`
    const analysis = readAnalysis(bundle.manifest)
    const active: ActiveBundle = {
      revision,
      config,
      argumentRules: { tools: withArgs(config.tools), prompts: withArgs(config.prompts) },
      analysis,
      loadedAt: new Date(),
      projection: inputProjection(config, analysis),
      principalTexts: new WeakMap(),
      policy,
      entrypoints: { decision, visible },
    }
    // Smoke test: the bundle must produce a well-formed decision before it may serve.
    const probe = this.#evaluateOn(active, {
      principal: { subject: 'probe', issuer: 'probe', audience: [], scopes: [], authMethod: 'static', tokenId: 'probe', claims: {} },
      action: { method: 'ping', kind: 'session' },
      server: { resource: config.resource },
      context: { time_ns: 0, transport: 'probe' },
    })
    if (probe.reasons[0]?.code === 'policy_error') throw new PolicyError('ERR_POLICY_LOAD', `bundle failed its smoke evaluation: ${probe.reasons[0].message}`)
    return active
  }

  /** Evaluates the decision entrypoint. Never throws: any failure is a `policy_error` denial. */
  evaluate(input: PolicyInput | string): Decision {
    const active = this.#active
    if (active === undefined) return policyErrorDecision('no policy bundle is loaded')
    return this.#evaluateOn(active, input)
  }

  #evaluateOn(active: ActiveBundle, input: PolicyInput | string): Decision {
    let decision: Decision
    try {
      decision = toDecision(active.policy.evaluate(typeof input === 'string' ? input : wireText(active, input), active.entrypoints.decision, nowOf(input)))
    } catch (err) {
      decision = policyErrorDecision(`evaluation failed: ${errorMessage(err)}`)
    }
    if (decision.reasons[0]?.code === 'policy_error' && decision.reasons.length === 1) this.#report(active, 'decision', decision.reasons[0].message)
    return decision
  }

  #report(active: ActiveBundle, entrypoint: 'decision' | 'visible', message: string, cause?: unknown): void {
    if (this.#options.onError === undefined) return
    try {
      this.#options.onError(new PolicyError('ERR_POLICY_EVAL', message, cause === undefined ? undefined : { cause }), { entrypoint, revision: active.revision })
    } catch {
      // A logging hook must never break a decision.
    }
  }

  /**
   * Evaluates the visible entrypoint: the keys (names, or URIs for resources) of the items the
   * principal may see. Throws {@link PolicyError} `ERR_POLICY_EVAL` on failure, so callers fail
   * closed by showing nothing.
   */
  visible(input: Omit<PolicyInput, 'action'> & { kind: 'tool' | 'resource' | 'prompt'; items: Array<{ name?: string; uri?: string; annotations?: Record<string, unknown> }> }): string[] {
    const active = this.#active
    if (active === undefined) throw new PolicyError('ERR_NO_BUNDLE', 'no policy bundle is loaded')
    let rs: unknown
    try {
      rs = active.policy.evaluate(wireText(active, input), active.entrypoints.visible, nowOf(input))
    } catch (cause) {
      const message = `visible evaluation failed: ${errorMessage(cause)}`
      this.#report(active, 'visible', message, cause)
      throw new PolicyError('ERR_POLICY_EVAL', message, { cause })
    }
    const result = Array.isArray(rs) && rs.length === 1 ? (rs[0] as { result?: unknown }).result : undefined
    if (!Array.isArray(result) || !result.every((k) => typeof k === 'string')) {
      const message = `the visible entrypoint returned no list of keys: ${excerpt(result)}`
      this.#report(active, 'visible', message)
      throw new PolicyError('ERR_POLICY_EVAL', message)
    }
    return result
  }
}

/**
 * The JSON text an input is sent to the policy as: its projection (what the rules can read). An
 * immutable principal's part is serialised once per bundle and reused.
 */
function wireText(active: ActiveBundle, input: object): string {
  const principal = (input as { principal?: unknown }).principal
  if (active.projection.whole || principal === null || typeof principal !== 'object' || !isDeepFrozen(principal)) return projectedText(active.projection, input)
  let text = active.principalTexts.get(principal)
  if (text === undefined) {
    text = JSON.stringify(projectPrincipal(active.projection, principal)) as string
    active.principalTexts.set(principal, text)
  }
  return projectedText(active.projection, input, text)
}

/** The message of anything thrown (WASM traps, and callers' own errors, are not always Errors). */
function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message
  if (typeof err === 'string') return err
  if (typeof err === 'object' && err !== null && typeof (err as { message?: unknown }).message === 'string') return (err as { message: string }).message
  return excerpt(err)
}

/** `time.now_ns()` of an evaluation: the input's `context.time_ns`, so a decision can be replayed from its record. */
function nowOf(input: unknown): bigint | undefined {
  if (typeof input !== 'object' || input === null) return undefined
  const t = (input as { context?: { time_ns?: unknown } }).context?.time_ns
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? BigInt(Math.round(t)) : undefined
}

/** Where a bundle's own Rego calls a builtin (file:line), from the sources in the tarball. */
export function builtinCallSites(bundle: Pick<Bundle, 'files'>, name: string, max = 5): string[] {
  const sites: string[] = []
  const call = new RegExp(`(^|[^\\w.])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*\\(`)
  for (const [path, bytes] of bundle.files) {
    if (!path.endsWith('.rego')) continue
    const lines = Buffer.from(bytes).toString('utf8').split('\n')
    for (const [i, line] of lines.entries()) {
      if (call.test(stripComment(line))) sites.push(`${path.replace(/^\//, '')}:${i + 1}`)
      if (sites.length >= max) return sites
    }
  }
  return sites
}

function stripComment(line: string): string {
  let inString = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (c === '\\' && inString) i++
    else if (c === '"') inString = !inString
    else if (c === '`') {
      const end = line.indexOf('`', i + 1)
      if (end < 0) return line
      i = end
    } else if (c === '#' && !inString) return line.slice(0, i)
  }
  return line
}

/** The refusal of a bundle whose module imports builtins the runtime does not provide. */
export function unsupportedBuiltinsError(names: readonly string[], bundle: Pick<Bundle, 'files'>): PolicyError {
  const lines = names.map((name) => {
    const sites = builtinCallSites(bundle, name)
    return `  ${name}${sites.length > 0 ? ` (called at ${sites.join(', ')})` : ''}: ${unsupportedReason(name)}`
  })
  return new PolicyError(
    'ERR_BUILTIN_UNSUPPORTED',
    `the bundle needs ${names.length === 1 ? 'a builtin' : 'builtins'} the mcp-authz runtime cannot execute, so every decision would fail:\n${lines.join('\n')}`,
    { problems: names.map((name) => ({ path: builtinCallSites(bundle, name, 1)[0] ?? name, message: `builtin ${name} is not available: ${unsupportedReason(name)}` })) },
  )
}
