/**
 * Resource prefix rules must be written in the canonical form the classifier decides on (see
 * `./resource-uri.ts`): a prefix such as `NOTES://private/` or `notes://a/../private/` would never
 * match, silently leaving what it meant to protect to another rule. This check runs wherever policy
 * data is validated (`schemaProblems('data', …)`, hence `mcp-authz build`, bundle loading and
 * `mcp-authz check`).
 *
 * @module
 */
import { canonicalResourceIdentifier } from './resource-uri.ts'

/** One problem with a prefix, by JSON path (same shape as `SchemaProblem`). */
export interface PrefixProblem {
  /** JSON path of the prefix, e.g. `$.mcp_authz.resources[1].prefix`. */
  path: string
  /** What is wrong, naming the canonical form when there is one. */
  message: string
}

/**
 * Lists every `mcp_authz.resources[].prefix` of a policy data document that is not in canonical
 * form (`new URL(prefix).href`), with the canonical form to write instead. Values that are not
 * strings are left to the schema. Empty when all are canonical.
 *
 * @example
 * ```ts
 * resourcePrefixProblems({ mcp_authz: { resources: [{ prefix: 'NOTES://private/' }] } })
 * // [{ path: '$.mcp_authz.resources[0].prefix', message: 'must be in canonical form: notes://private/' }]
 * ```
 */
export function resourcePrefixProblems(data: unknown): PrefixProblem[] {
  const resources = (data as { mcp_authz?: { resources?: unknown } } | null | undefined)?.mcp_authz?.resources
  if (!Array.isArray(resources)) return []
  const problems: PrefixProblem[] = []
  resources.forEach((rule: unknown, i) => {
    const prefix = (rule as { prefix?: unknown } | null)?.prefix
    if (typeof prefix !== 'string') return
    const path = `$.mcp_authz.resources[${i}].prefix`
    const canonical = canonicalResourceIdentifier(prefix)
    if (!canonical.ok) problems.push({ path, message: `must be a canonical absolute URI prefix: it ${canonical.message}` })
    else if (canonical.uri !== prefix) problems.push({ path, message: `must be in canonical form: ${canonical.uri}` })
  })
  return problems
}
