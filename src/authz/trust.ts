/**
 * One place for trust. The policy data says what is trusted: the server's resource URI
 * (`data.mcp_authz.resource`), the issuers and the tenant each is pinned to
 * (`data.mcp_authz.issuers`). The verifier configuration says only how tokens are checked (key
 * locations, algorithms, claim mappings). When `createAuthz` is given a verifier *configuration*, it
 * derives the audience, the trusted issuers and their tenants from the data; when it is given a
 * verifier *instance* that describes its trust (`createTokenVerifier` does), the two are compared.
 * Where both say something and disagree, the engine refuses to start (or a reload is refused),
 * naming both places — a disagreement would otherwise surface as every call denied.
 *
 * @module
 */
import { AuthzError } from '../errors.ts'
import type { VerifierConfig } from '../verify/config.ts'
import { canonicalResourceUri } from '../verify/resource-uri.ts'

/** What the policy data says is trusted. */
export interface DataTrust {
  /** `data.mcp_authz.resource`. */
  resource: string
  /** `data.mcp_authz.issuers`: issuer → tenant pin. */
  issuers: Readonly<Record<string, { tenant?: string } | undefined>>
}

/** What a verifier says it trusts (`TokenVerifier.trust`). */
export interface VerifierTrust {
  /** The audience every token must carry. */
  audience?: string
  /** JWT issuers with keys, and the tenant (or tenant claim) each principal gets. */
  issuers: ReadonlyArray<{ issuer: string; tenant?: string; tenantClaim?: string }>
  /** RFC 7662 introspection, when configured. */
  introspection?: { issuer?: string; tenant?: string; tenantClaim?: string }
}

/** One disagreement, by where it is. */
export interface TrustProblem {
  path: string
  message: string
}

/** Stable codes of {@link TrustError}. */
export type TrustErrorCode = 'ERR_TRUST_MISMATCH'

/** The verifier and the policy data disagree about what is trusted. */
export class TrustError extends AuthzError {
  declare readonly code: TrustErrorCode
  /** Every disagreement, each naming both places. */
  readonly problems: readonly TrustProblem[]
  constructor(problems: TrustProblem[]) {
    super('ERR_TRUST_MISMATCH', `the verifier and the policy data disagree:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`)
    this.problems = problems
  }
}

/** Where the verifier's settings were written, for messages (`verifier`, `config.verifier`, …). */
export interface TrustPlaces {
  verifier: string
  /**
   * Also report issuers the data trusts but the verifier cannot verify (their tokens would all be
   * refused). Off for verifier instances, whose other key sources the engine cannot see. Default `false`.
   */
  completeness?: boolean
}

const DATA_ISSUERS = 'data.mcp_authz.issuers'
const DATA_RESOURCE = 'data.mcp_authz.resource'

/**
 * Every disagreement between a verifier and the policy data.
 *
 * @example
 * ```ts
 * trustProblems({ resource: 'https://mcp.example/mcp', issuers: { 'https://as.example': { tenant: 'acme' } } },
 *   { audience: 'https://other.example/mcp', issuers: [{ issuer: 'https://as.example' }] })
 * // [{ path: 'verifier.audience', message: '…differs from data.mcp_authz.resource…' }, { path: 'verifier.issuers[0].tenant', … }]
 * ```
 */
export function trustProblems(data: DataTrust, verifier: VerifierTrust, places: TrustPlaces = { verifier: 'verifier' }): TrustProblem[] {
  const v = places.verifier
  const problems: TrustProblem[] = []
  if (verifier.audience !== undefined && canonicalResourceUri(verifier.audience) !== canonicalResourceUri(data.resource)) {
    problems.push({
      path: `${v}.audience`,
      message: `${JSON.stringify(verifier.audience)} differs from ${DATA_RESOURCE} ${JSON.stringify(data.resource)}: tokens accepted by one are refused by the other. Leave the audience out (it is derived from the policy data) or make them equal.`,
    })
  }
  const withKeys = new Set<string>()
  verifier.issuers.forEach((entry, i) => {
    withKeys.add(entry.issuer)
    const at = `${v}.issuers[${i}]`
    if (!Object.hasOwn(data.issuers, entry.issuer)) {
      problems.push({
        path: `${at}.issuer`,
        message: `${JSON.stringify(entry.issuer)} is not trusted by ${DATA_ISSUERS}: every token it issues would be denied issuer_not_trusted. Add it to ${DATA_ISSUERS} (with its tenant) or remove it here.`,
      })
      return
    }
    problems.push(...tenantProblems(data.issuers[entry.issuer]?.tenant, entry, at, entry.issuer))
  })
  const intro = verifier.introspection
  if (intro?.issuer !== undefined) {
    if (!Object.hasOwn(data.issuers, intro.issuer)) {
      problems.push({
        path: `${v}.introspection.issuer`,
        message: `${JSON.stringify(intro.issuer)} is not trusted by ${DATA_ISSUERS}: every introspected token would be denied issuer_not_trusted. Add it to ${DATA_ISSUERS} or correct it here.`,
      })
    } else {
      withKeys.add(intro.issuer)
      problems.push(...tenantProblems(data.issuers[intro.issuer]?.tenant, intro, `${v}.introspection`, intro.issuer))
    }
  }
  // An introspection endpoint that names no issuer may answer for any issuer: it covers them all.
  if (places.completeness === true && (intro === undefined || intro.issuer !== undefined)) {
    for (const issuer of Object.keys(data.issuers)) {
      if (withKeys.has(issuer) || !isFederatedIssuer(issuer)) continue
      problems.push({
        path: `${DATA_ISSUERS}[${JSON.stringify(issuer)}]`,
        message: `is trusted by the policy data, but ${v} has no way to verify its tokens (no ${v}.issuers entry, no introspection for it): they would all be refused. Configure it in ${v}.issuers or remove it from the data.`,
      })
    }
  }
  return problems
}

function tenantProblems(pinned: string | undefined, entry: { tenant?: string; tenantClaim?: string }, at: string, issuer: string): TrustProblem[] {
  if (pinned === undefined) return []
  const where = `${DATA_ISSUERS}[${JSON.stringify(issuer)}].tenant`
  if (entry.tenant !== undefined && entry.tenant !== pinned) {
    return [{ path: `${at}.tenant`, message: `${JSON.stringify(entry.tenant)} differs from ${where} ${JSON.stringify(pinned)}: every call would be denied tenant_mismatch. Leave it out (it is derived from the policy data) or make them equal.` }]
  }
  if (entry.tenant === undefined && entry.tenantClaim === undefined) {
    return [{ path: `${at}.tenant`, message: `is not set, but ${where} pins ${JSON.stringify(pinned)}: principals would have no tenant and every call would be denied tenant_mismatch. Give the verifier its configuration (createAuthz derives the tenant), or set tenant / tenantClaim here.` }]
  }
  return []
}

/** Local credentials (API keys, the stdio principal) carry configured issuers the policy does not pin. */
function isFederatedIssuer(issuer: string): boolean {
  return !issuer.startsWith('urn:mcp-authz:')
}

/**
 * The verifier configuration derived from the policy data plus the "how" settings: the audience is
 * the data's resource; every trusted issuer gets an entry (its explicit settings, else the issuer
 * alone, whose keys are found by discovery), with the tenant the data pins it to. Explicit settings
 * that disagree with the data are refused ({@link TrustError}).
 *
 * @example
 * ```ts
 * derivedVerifierConfig({ resource: 'https://mcp.example/mcp', issuers: { 'https://as.example': { tenant: 'acme' } } },
 *   { issuers: [{ issuer: 'https://as.example', jwksUri: 'https://as.example/jwks' }] })
 * // { audience: 'https://mcp.example/mcp', issuers: [{ issuer: 'https://as.example', jwksUri: '…', tenant: 'acme' }] }
 * ```
 */
export function derivedVerifierConfig(data: DataTrust, how: VerifierConfig, places: TrustPlaces = { verifier: 'verifier' }): VerifierConfig {
  if (how === null || typeof how !== 'object' || Array.isArray(how)) throw new TypeError(`${places.verifier} must be an object`)
  // An issuer may be given as its identifier alone (its keys are then found by discovery).
  const explicit = (Array.isArray(how.issuers) ? how.issuers : []).map((e) => (typeof e === 'string' ? { issuer: e } : e))
  const described: VerifierTrust = {
    ...(how.audience !== undefined ? { audience: how.audience } : {}),
    issuers: explicit.map((e) => ({ issuer: e?.issuer, ...(e?.tenant !== undefined ? { tenant: e.tenant } : {}), ...(e?.tenantClaim !== undefined ? { tenantClaim: e.tenantClaim } : {}) })),
    ...(how.introspection !== undefined ? { introspection: { ...(how.introspection.issuer !== undefined ? { issuer: how.introspection.issuer } : {}), ...(how.introspection.tenant !== undefined ? { tenant: how.introspection.tenant } : {}), tenantClaim: 'derived' } } : {}),
  }
  // Missing tenants and issuers are derived below, so only contradictions count here.
  const problems = trustProblems(data, described, { ...places, completeness: false }).filter((p) => !/is not set, but/.test(p.message))
  if (problems.length > 0) throw new TrustError(problems)
  const named = new Set(explicit.map((e) => e.issuer))
  const issuers = [
    ...explicit.map((e) => withTenant(e, data.issuers[e.issuer]?.tenant)),
    ...Object.keys(data.issuers)
      .filter((iss) => !named.has(iss) && isFederatedIssuer(iss) && !(how.introspection !== undefined && (how.introspection.issuer === undefined || how.introspection.issuer === iss)))
      .map((iss) => withTenant<{ issuer: string; tenant?: string }>({ issuer: iss }, data.issuers[iss]?.tenant)),
  ]
  const introspection = how.introspection === undefined ? undefined : withTenant(how.introspection, how.introspection.issuer === undefined ? undefined : data.issuers[how.introspection.issuer]?.tenant)
  const config: VerifierConfig = { ...how, audience: data.resource }
  if (issuers.length > 0) config.issuers = issuers as VerifierConfig['issuers']
  else delete config.issuers
  if (introspection !== undefined) config.introspection = introspection
  return config
}

function withTenant<T extends { tenant?: string }>(entry: T, pinned: string | undefined): T {
  return pinned === undefined || entry.tenant !== undefined ? entry : { ...entry, tenant: pinned }
}
