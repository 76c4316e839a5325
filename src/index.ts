/**
 * mcp-authz: policy-driven, per-tool authorization for MCP servers.
 *
 * The request path: `verify/` (token → Principal) → `action/` (JSON-RPC → Action) → `policy/`
 * (Rego compiled to WASM → Decision) → `enforce/` (401 / 403 / JSON-RPC error / list filtering) →
 * `decision-log/`. {@link createAuthz} assembles them.
 *
 * @module
 */
export { createAuthz } from './authz.ts'
export type { Authz, AuthzConfig, CredentialVerifier, DecideContext, DecisionEvent, DecisionResult, ListItem, ShadowConfig } from './authz.ts'
export { AuthzError } from './errors.ts'
export type { Action, ActionKind } from './action/action.ts'
export { classifyMessage } from './action/classify.ts'
export { canonicalResourceIdentifier, canonicalResourceTemplate } from './action/resource-uri.ts'
export type { CanonicalResourceUri, CanonicalOptions, ResourceUriProblem } from './action/resource-uri.ts'
export { resourcePrefixProblems } from './action/resource-prefixes.ts'
export type { PrefixProblem } from './action/resource-prefixes.ts'
export type { Classified, Refused, JsonRpcId } from './action/classify.ts'
export { JsonRpcErrorCode } from './action/errors.ts'
export type { JsonRpcError } from './action/errors.ts'
export { DEFAULT_MESSAGE_LIMITS } from './action/limits.ts'
export type { MessageLimits } from './action/limits.ts'
export type { Decision, PolicyInput, Reason, ReasonCode } from './policy/decision.ts'
export { PolicyEngine, ENTRYPOINTS } from './policy/engine.ts'
export type { ActiveBundle, EngineOptions, PolicyConfig } from './policy/engine.ts'
export { readBundle } from './policy/bundle.ts'
export { readAnalysis } from './policy/analysis.ts'
export type { BundleAnalysis } from './policy/analysis.ts'
export type { Bundle, BundleLimits } from './policy/bundle.ts'
export { PolicyError } from './policy/errors.ts'
export type { PolicyErrorCode } from './policy/errors.ts'
export { bearerChallenge, protectedResourceMetadataUrl } from './enforce/challenge.ts'
export type { BearerChallenge } from './enforce/challenge.ts'
export { decisionOutcome, stepUpScope, unauthorizedOutcome } from './enforce/outcome.ts'
export type { Outcome, OutcomeContext, StepUpScopes } from './enforce/outcome.ts'
export { normalizePrincipal, tokenFingerprint, PrincipalError } from './verify/principal.ts'
export type { AuthMethod, NormalizeOptions, Principal } from './verify/principal.ts'
export { canonicalResourceUri, sameResource } from './verify/resource-uri.ts'
export { schemaProblems } from './schemas.ts'
export type { SchemaProblem } from './schemas.ts'
export * from './verify/index.ts'
export * from './decision-log/index.ts'
export * from './mcp/index.ts'
export * from './observability/index.ts'
