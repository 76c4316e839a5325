/**
 * The decision record: one JSON object per decision, shaped like an OPA decision-log event
 * (`decision_id`, `timestamp`, `path`, `input`, `result`, `bundles`, `metrics`, `labels`, `erased`,
 * `masked`, `error`) so OPA tooling and collectors can read it, plus an `mcp` object that makes a
 * record readable on its own (tool, principal, reasons, enforcement). The input is masked and
 * redacted before it gets here; headers and tokens never do.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Decision, PolicyInput, Reason } from '../policy/decision.ts'
import { applyMasks, compileMasks, type CompiledMask, type MaskRule } from './mask.ts'
import { createRedactor, type Redactor } from './redact.ts'

/** A reason as the engine reports it to the log: the policy's reason plus where it came from. */
export interface EventReason extends Reason {
  /** Where the reason came from: `file:line` of the rule, optionally with its title (`policies/mcp/authz/scopes.rego:14 tool needs scopes`). */
  rule?: string
}

/** The decision as the engine reports it to the log. */
export interface EventDecision extends Omit<Decision, 'reasons'> {
  /** Every reason, in the policy's order. */
  reasons: EventReason[]
}

/** The list-filtering evaluation of a `tools/list`, `resources/list` or `prompts/list` result. */
export interface ListFiltering {
  /** What was listed. */
  kind: 'tool' | 'resource' | 'prompt'
  /** Items the server listed. */
  total: number
  /** Items the principal may see (the client got these). */
  visible: number
  /** Names (tools, prompts) or URIs (resources) hidden from the principal; the record keeps at most {@link MAX_HIDDEN_LOGGED}, redacted. */
  hidden: string[]
}

/** Most hidden names / URIs a record lists in `mcp.list.hidden`. */
export const MAX_HIDDEN_LOGGED = 20

/** What the engine hands to the decision log after each decision. */
export interface DecisionEvent {
  /** Unique id of the decision (also given to the client in JSON-RPC error data). */
  decisionId: string
  /** When the decision was made. */
  timestamp: Date
  /** The policy entrypoint, e.g. `mcp/authz/decision`. */
  path: string
  /** The policy input; `undefined` when verification failed before a policy input existed. */
  input: PolicyInput | undefined
  /** What the policy decided; each reason may say which rule it came from (`rule`). */
  result: EventDecision
  /** Revision of the bundle that decided (its `.manifest` revision). */
  revision: string | undefined
  /** Timings in nanoseconds: token verification, message classification, policy evaluation, the whole decision. */
  metrics: { verify_ns?: number; classify_ns?: number; eval_ns?: number; total_ns: number }
  /** `shadow` when the decision was only recorded, not enforced. */
  enforcement: 'enforced' | 'shadow'
  /** What the policy said (meaningful in shadow mode, where the call went through regardless). */
  wouldAllow?: boolean
  /** HTTP status the request was answered with. */
  httpStatus?: number
  /**
   * Why the request failed before or outside the policy (a verification error code, or the real
   * cause of a `policy_error`). The message — and the `cause`, an `Error` or any value, appended to
   * it — is redacted; neither is ever logged as `[object Object]`.
   */
  error?: { code: string; message: string; cause?: unknown }
  /** Transport the call came over (`http`, `stdio`). */
  transport?: string
  /** For the list-filtering evaluation of a `tools/list`, `resources/list` or `prompts/list` result: what was listed, seen and hidden. */
  list?: ListFiltering
  /** The decision id of the call this record belongs to (the list call's, for its filtering record). */
  relatedDecisionId?: string
}

/** The MCP summary of a record: what a person reads first. Fields are absent when unknown. */
export interface McpRecordFields {
  /** JSON-RPC method. */
  method?: string
  /** Action kind (`tool`, `resource`, `prompt`, `list`, …). */
  kind?: string
  /** Tool name (`tools/call`). */
  tool?: string
  /** Prompt name (`prompts/get`). */
  prompt?: string
  /** Resource URI (`resources/*`), credentials redacted. */
  resource_uri?: string
  /** JSON-RPC id of the request. */
  jsonrpc_id?: string | number
  /** Correlation id of the surrounding request (`input.context.request_id`). */
  request_id?: string
  /** Principal subject (`sub`). */
  subject?: string
  /** OAuth client id. */
  client_id?: string
  /** Token issuer. */
  issuer?: string
  /** Tenant. */
  tenant?: string
  /** How the principal was authenticated. */
  auth_method?: string
  /** `jti` or fingerprint of the token (never the token). */
  token_id?: string
  /** The policy's answer (`result.allow`). */
  allow: boolean
  /** Reason codes, in the policy's order. */
  reasons: string[]
  /** Where the reasons came from (`result.reasons[i].rule`), each once, in the reasons' order; absent when no reason named its rule. */
  rules?: string[]
  /** List filtering: `kind`, `total`, `visible`, and up to 20 `hidden` names / URIs (redacted). */
  list?: { kind: string; total: number; visible: number; hidden: string[] }
  /** Decision id of the related call (the list call, for a filtering record). */
  related_decision_id?: string
  /** `enforced`, or `shadow` when the call went through whatever the policy said. */
  enforcement: 'enforced' | 'shadow'
  /** What the policy said, when the engine reported it (shadow mode). */
  would_allow?: boolean
  /** HTTP status the request was answered with. */
  http_status?: number
  /** Error code (`error.code`), e.g. a verification failure. */
  error_code?: string
  /** Transport (`http`, `stdio`). */
  transport?: string
  /** `metrics.total_ns` in milliseconds. */
  latency_ms: number
  /** Secrets replaced and keys stripped by the redactor (absent when none). */
  redactions?: number
  /** `true` when a size bound cut part of the input (absent otherwise). */
  truncated?: boolean
}

/** One decision-log record. JSON-serialisable; treat it as read-only. */
export interface DecisionRecord {
  /** The decision id. */
  decision_id: string
  /** RFC 3339 UTC timestamp (millisecond precision). */
  timestamp: string
  /** The policy entrypoint queried. */
  path: string
  /** The policy input after masks and redaction; absent when there was none or a mask erased it. */
  input?: unknown
  /** The decision (`allow`, `reasons`, `required_scopes`), reason messages redacted. */
  result: unknown
  /** The bundle that decided: `{ authz: { revision } }` (bundle name configurable). */
  bundles: Record<string, { revision?: string }>
  /** Timers in nanoseconds, OPA style. */
  metrics: { timer_verify_ns?: number; timer_classify_ns?: number; timer_rego_query_eval_ns?: number; timer_server_handler_ns: number }
  /** Who logged it: `id` and `instance` (instance id), `service`, `version`, plus configured labels. */
  labels: Record<string, string>
  /** JSON pointers removed by masks or `stripKeys`. */
  erased?: string[]
  /** JSON pointers replaced by masks (`upsert`) or by the secret scanner. */
  masked?: string[]
  /** The error of a request that failed outside the policy, message redacted. */
  error?: { code: string; message: string }
  /** The MCP summary. */
  mcp: McpRecordFields
}

/** Labels every record carries. */
export interface RecordLabels {
  /** Service name. Default `'mcp-authz'`. */
  service?: string
  /** Instance id (also written as OPA's `id` label). Default: a random UUID per process. */
  instance?: string
  /** Version. Default: this package's version. */
  version?: string
  /** Any other label. */
  [label: string]: string | undefined
}

/** Options of {@link buildDecisionRecord}. */
export interface RecordOptions {
  /** Labels; merged over the defaults. */
  labels?: RecordLabels
  /** Name of the bundle in `bundles`. Default `'authz'`. */
  bundleName?: string
  /** Masks (OPA `system.log.mask` semantics) applied before redaction. Default: none. */
  masks?: readonly MaskRule[]
  /** The redactor (see {@link createRedactor}). Default: one with default options. */
  redactor?: Redactor
}

function packageVersion(): string {
  try {
    const pkg = createRequire(import.meta.url)('../../package.json') as { name?: unknown; version?: unknown }
    return pkg.name === 'mcp-authz' && typeof pkg.version === 'string' ? pkg.version : '0.0.0'
  } catch {
    return '0.0.0'
  }
}

/** Per-process defaults of the labels. */
export const DEFAULT_LABELS: Readonly<{ service: string; instance: string; version: string }> = Object.freeze({
  service: 'mcp-authz',
  instance: randomUUID(),
  version: packageVersion(),
})

let defaultRedactor: Redactor | undefined
const maskCache = new WeakMap<readonly MaskRule[], CompiledMask[]>()

/**
 * Resolves labels (defaults, then the given ones; `id` mirrors `instance`).
 *
 * @throws {TypeError} when a label is not a string.
 * @example
 * ```ts
 * resolveLabels({ service: 'notes-mcp', instance: 'pod-7' })
 * // { service: 'notes-mcp', instance: 'pod-7', version: '0.1.0', id: 'pod-7' }
 * ```
 */
export function resolveLabels(labels: RecordLabels | undefined, optionName = 'labels'): Record<string, string> {
  if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels))) throw new TypeError(`${optionName} must be an object`)
  const out: Record<string, string> = { ...DEFAULT_LABELS }
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (v === undefined) continue
    if (typeof v !== 'string') throw new TypeError(`${optionName}.${k} must be a string`)
    out[k] = v
  }
  out.id = out.instance as string
  return out
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}
function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined
}
function nonNegative(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : undefined
}

/** An error code as text: strings as they are, numbers written out, anything else `unknown`. */
function codeText(code: unknown): string {
  return typeof code === 'string' ? code : typeof code === 'number' ? String(code) : 'unknown'
}

/** What redacting an event's error gives: its text, and the redactor's counts. */
interface RedactedError {
  text: string
  redacted: number
  truncated: number
  masked: readonly string[]
}

/**
 * Redacts an event's error into text: the message, then `; cause: …` when a cause is attached.
 * Strings are scanned; an `Error` becomes its text (`Name [code]: message; cause: …`); any other
 * value is redacted structurally (secret-named keys hidden) and then written as JSON. Never
 * `[object Object]`.
 */
function redactError(error: NonNullable<DecisionEvent['error']>, redact: Redactor): RedactedError {
  const out: RedactedError = { text: '', redacted: 0, truncated: 0, masked: [] }
  const part = (value: unknown): string => {
    const r = redact(value, { pathPrefix: '/error/message' })
    out.redacted += r.redacted + r.stripped
    out.truncated += r.truncated
    if (r.paths.masked.length > 0 && out.masked.length === 0) out.masked = r.paths.masked.slice(0, 1)
    if (typeof r.value === 'string') return r.value
    if (r.value === undefined) return ''
    try {
      return JSON.stringify(r.value) ?? String(r.value)
    } catch {
      return '[UNREADABLE]'
    }
  }
  out.text = part(error.message)
  if (error.cause !== undefined && error.cause !== null) out.text += `; cause: ${part(error.cause)}`
  return out
}

/** The list-filtering facts, validated, with `hidden` cut to {@link MAX_HIDDEN_LOGGED} strings. */
function listFiltering(list: DecisionEvent['list']): { kind: string; total: number; visible: number; hidden: string[] } | undefined {
  if (typeof list !== 'object' || list === null) return undefined
  const kind = str(list.kind)
  if (kind === undefined) return undefined
  const hidden = Array.isArray(list.hidden) ? list.hidden.slice(0, MAX_HIDDEN_LOGGED).map((h) => (typeof h === 'string' ? h : String(h))) : []
  return { kind, total: nonNegative(list.total) ?? 0, visible: nonNegative(list.visible) ?? 0, hidden }
}

/**
 * Creates a record builder with options resolved (labels, masks, redactor) once; use it on the hot
 * path. {@link buildDecisionRecord} is the one-shot form.
 *
 * @throws {TypeError} naming the option when options are invalid.
 * @example
 * ```ts
 * const build = createRecordBuilder({ labels: { service: 'notes-mcp' }, masks: ['/input/action/arguments/body'] })
 * const record = build(event)
 * ```
 */
export function createRecordBuilder(options: RecordOptions = {}): (event: DecisionEvent) => DecisionRecord {
  const labels = resolveLabels(options.labels)
  const bundleName = options.bundleName ?? 'authz'
  if (typeof bundleName !== 'string' || bundleName.length === 0) throw new TypeError('bundleName must be a non-empty string')
  const masks = options.masks === undefined ? [] : (maskCache.get(options.masks) ?? compileMasks(options.masks))
  if (options.masks !== undefined) maskCache.set(options.masks, masks)
  const redact = options.redactor ?? (defaultRedactor ??= createRedactor())
  return (event) => build(event, labels, bundleName, masks, redact)
}

/**
 * Builds the record of one decision: masks, then redaction, then the OPA-shaped record.
 *
 * @example
 * ```ts
 * const record = buildDecisionRecord(
 *   {
 *     decisionId: '6f1c…', timestamp: new Date(), path: 'mcp/authz/decision',
 *     input, result: { allow: false, reasons: [{ code: 'insufficient_scope', message: 'needs notes:write' }], required_scopes: ['notes:write'] },
 *     revision: '2025-11-25T10:00:00Z', metrics: { eval_ns: 41_000, total_ns: 90_000 }, enforcement: 'enforced', httpStatus: 403,
 *   },
 *   { labels: { service: 'notes-mcp' }, masks: ['/input/action/arguments/body'] },
 * )
 * // record.mcp.reasons → ['insufficient_scope'], record.erased → ['/input/action/arguments/body']
 * ```
 */
export function buildDecisionRecord(event: DecisionEvent, options: RecordOptions = {}): DecisionRecord {
  return createRecordBuilder(options)(event)
}

function build(event: DecisionEvent, labels: Record<string, string>, bundleName: string, masks: readonly CompiledMask[], redact: Redactor): DecisionRecord {
  const masked = masks.length > 0 ? applyMasks(masks, event.input, event.result) : undefined
  const inputResult = redact(masked ? masked.input : event.input, { pathPrefix: '/input' })
  const resultResult = redact(masked ? masked.result : event.result, { pathPrefix: '/result' })
  const errorResult = event.error !== undefined ? redactError(event.error, redact) : undefined
  const list = listFiltering(event.list)
  const hiddenResult = list !== undefined ? redact(list.hidden, { pathPrefix: '/mcp/list/hidden' }) : undefined

  const erased = [...(masked?.erased ?? []), ...inputResult.paths.erased, ...resultResult.paths.erased]
  const maskedPaths = [...(masked?.masked ?? []), ...inputResult.paths.masked, ...resultResult.paths.masked, ...(errorResult?.masked ?? []), ...(hiddenResult?.paths.masked ?? [])]
  const redactions = inputResult.redacted + inputResult.stripped + resultResult.redacted + resultResult.stripped + (errorResult?.redacted ?? 0) + (hiddenResult?.redacted ?? 0)
  const truncated = inputResult.truncated + resultResult.truncated + (errorResult?.truncated ?? 0) + (hiddenResult?.truncated ?? 0)

  let timestamp: string
  try {
    timestamp = event.timestamp.toISOString()
  } catch {
    timestamp = new Date().toISOString()
  }
  const totalNs = nonNegative(event.metrics?.total_ns) ?? 0
  const metrics = {} as DecisionRecord['metrics']
  const verifyNs = nonNegative(event.metrics?.verify_ns)
  if (verifyNs !== undefined) metrics.timer_verify_ns = verifyNs
  const classifyNs = nonNegative(event.metrics?.classify_ns)
  if (classifyNs !== undefined) metrics.timer_classify_ns = classifyNs
  const evalNs = nonNegative(event.metrics?.eval_ns)
  if (evalNs !== undefined) metrics.timer_rego_query_eval_ns = evalNs
  metrics.timer_server_handler_ns = totalNs

  const input = obj(inputResult.value)
  const action = obj(input?.action)
  const principal = obj(input?.principal)
  const context = obj(input?.context)
  const result = obj(resultResult.value)
  const reasonList: unknown[] = Array.isArray(result?.reasons) ? result.reasons : []
  const reasons = reasonList.map((r) => str(obj(r)?.code)).filter((c): c is string => c !== undefined)
  const rules = [...new Set(reasonList.map((r) => str(obj(r)?.rule)).filter((c): c is string => c !== undefined && c.length > 0))]

  // Assigned field by field so that the JSON reads in this order and absent facts are absent keys.
  const mcp = {} as McpRecordFields
  const method = str(action?.method)
  if (method !== undefined) mcp.method = method
  const kind = str(action?.kind)
  if (kind !== undefined) mcp.kind = kind
  const name = str(action?.name)
  if (name !== undefined) {
    if (kind === 'prompt') mcp.prompt = name
    else mcp.tool = name
  }
  const uri = str(action?.uri)
  if (uri !== undefined) mcp.resource_uri = uri
  if (list !== undefined) mcp.list = { ...list, hidden: hiddenResult?.value as string[] }
  const related = str(event.relatedDecisionId)
  if (related !== undefined && related.length > 0) mcp.related_decision_id = related
  const id = action?.id
  if (typeof id === 'string' || typeof id === 'number') mcp.jsonrpc_id = id
  const requestId = str(context?.request_id)
  if (requestId !== undefined) mcp.request_id = requestId
  const subject = str(principal?.subject)
  if (subject !== undefined) mcp.subject = subject
  const clientId = str(principal?.clientId)
  if (clientId !== undefined) mcp.client_id = clientId
  const issuer = str(principal?.issuer)
  if (issuer !== undefined) mcp.issuer = issuer
  const tenant = str(principal?.tenant)
  if (tenant !== undefined) mcp.tenant = tenant
  const authMethod = str(principal?.authMethod)
  if (authMethod !== undefined) mcp.auth_method = authMethod
  const tokenId = str(principal?.tokenId)
  if (tokenId !== undefined) mcp.token_id = tokenId
  mcp.allow = event.result?.allow === true
  mcp.reasons = reasons
  if (rules.length > 0) mcp.rules = rules
  mcp.enforcement = event.enforcement === 'shadow' ? 'shadow' : 'enforced'
  if (typeof event.wouldAllow === 'boolean') mcp.would_allow = event.wouldAllow
  if (typeof event.httpStatus === 'number') mcp.http_status = event.httpStatus
  const errorCode = event.error !== undefined ? codeText(event.error.code) : undefined
  if (errorCode !== undefined) mcp.error_code = errorCode
  const transport = str(event.transport) ?? str(context?.transport)
  if (transport !== undefined) mcp.transport = transport
  mcp.latency_ms = Math.round(totalNs / 1e3) / 1e3
  if (redactions > 0) mcp.redactions = redactions
  if (truncated > 0) mcp.truncated = true

  const record = {
    decision_id: typeof event.decisionId === 'string' && event.decisionId.length > 0 ? event.decisionId : randomUUID(),
    timestamp,
    path: str(event.path) ?? 'mcp/authz/decision',
  } as DecisionRecord
  if (inputResult.value !== undefined) record.input = inputResult.value
  record.result = resultResult.value
  record.bundles = { [bundleName]: event.revision !== undefined ? { revision: String(event.revision) } : {} }
  record.metrics = metrics
  record.labels = labels
  if (erased.length > 0) record.erased = erased
  if (maskedPaths.length > 0) record.masked = maskedPaths
  if (errorCode !== undefined) record.error = { code: errorCode, message: errorResult?.text ?? '' }
  record.mcp = mcp
  return record
}

/** Reads a field of a possibly hostile event, `undefined` when reading throws. */
function safe<T>(read: () => T): T | undefined {
  try {
    return read()
  } catch {
    return undefined
  }
}

/**
 * The smallest safe record, for when building the real one failed: ids, outcome and error code,
 * no input or reasons (listed as erased). Never throws.
 *
 * @example
 * ```ts
 * fallbackRecord(event, resolveLabels(undefined)).erased // ['/input', '/result/reasons']
 * ```
 */
export function fallbackRecord(event: DecisionEvent, labels: Record<string, string>, bundleName = 'authz'): DecisionRecord {
  const timestamp = safe(() => event.timestamp.toISOString()) ?? new Date().toISOString()
  const decisionId = safe(() => event.decisionId)
  const allow = safe(() => event.result.allow) === true
  const revision = safe(() => event.revision)
  const path = safe(() => event.path)
  const shadow = safe(() => event.enforcement) === 'shadow'
  const errorCode = safe(() => event.error?.code)
  const record: DecisionRecord = {
    decision_id: typeof decisionId === 'string' && decisionId.length > 0 ? decisionId : randomUUID(),
    timestamp,
    path: typeof path === 'string' ? path : 'mcp/authz/decision',
    result: { allow },
    bundles: { [bundleName]: typeof revision === 'string' ? { revision } : {} },
    metrics: { timer_server_handler_ns: nonNegative(safe(() => event.metrics.total_ns)) ?? 0 },
    labels,
    erased: ['/input', '/result/reasons'],
    mcp: { allow, reasons: [], enforcement: shadow ? 'shadow' : 'enforced', latency_ms: 0, truncated: true },
  }
  if (typeof errorCode === 'string') {
    record.error = { code: errorCode, message: '[UNREADABLE]' }
    record.mcp.error_code = errorCode
  }
  return record
}
