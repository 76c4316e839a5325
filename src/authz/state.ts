/**
 * What the engine derives from the bundle serving now, computed once per load and swapped as one
 * object: a decision in flight sees one whole bundle and everything derived from it.
 *
 * @module
 */
import { protectedResourceMetadataUrl } from '../enforce/challenge.ts'
import { scopesNamed } from '../enforce/metadata.ts'
import type { ActiveBundle } from '../policy/engine.ts'
import { inputPlan, type InputPlan } from './input.ts'
import { DecisionTables, type DecisionTableOptions } from './table.ts'

/** The per-bundle state of an engine. */
export interface BundleState {
  /** The bundle itself. */
  readonly active: ActiveBundle
  /** Which optional input fields reach the policy. */
  readonly plan: InputPlan
  /** The `server` part of every policy input. */
  readonly server: { resource: string; name?: string }
  /** RFC 9728 metadata URL of the bundle's resource. */
  readonly metadataUrl: string
  /** Scopes named in 401 challenges. */
  readonly challengeScopes: readonly string[]
  /** Where each reason code of the bundle comes from (`file:line`), when the bundle says. */
  readonly ruleOf: ReadonlyMap<string, string>
  /** Every scope the policy data names (a step-up challenge never echoes others). */
  readonly knownScopes: readonly string[]
  /**
   * The per-principal decision tables of this bundle (src/authz/table.ts); undefined when the
   * bundle does not prove its decisions table-able (`plan.table`), its data says
   * `decision_cache: false`, or the engine was configured with `decisionTable: false`.
   */
  readonly tables: DecisionTables | undefined
}

/**
 * Derives the state of a bundle.
 *
 * @param tables the decision tables' options, or `false` for none. Default: tables with default bounds.
 * @example
 * ```ts
 * const state = bundleState(await engine.prepare(bundle), undefined)
 * ```
 */
export function bundleState(active: ActiveBundle, challengeScopes: readonly string[] | undefined, tables: DecisionTableOptions | false = {}): BundleState {
  const config = active.config
  const analysis = active.analysis
  const ruleOf = new Map<string, string>()
  for (const r of analysis?.rules ?? []) if (!ruleOf.has(r.code)) ruleOf.set(r.code, `${r.file}:${r.line}${r.title !== undefined && r.title !== r.code ? ` (${r.title})` : ''}`)
  const plan = inputPlan(active, analysis)
  return {
    active,
    plan,
    server: { resource: config.resource, ...(config.server_name ? { name: config.server_name } : {}) },
    metadataUrl: protectedResourceMetadataUrl(config.resource),
    challengeScopes: challengeScopes ?? [config.defaults?.read_scope ?? 'mcp:read'],
    ruleOf,
    knownScopes: scopesNamed(config),
    tables: tables !== false && plan.table && config.decision_cache !== false ? new DecisionTables(tables) : undefined,
  }
}
