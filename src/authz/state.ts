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
}

/**
 * Derives the state of a bundle.
 *
 * @example
 * ```ts
 * const state = bundleState(await engine.prepare(bundle), undefined)
 * ```
 */
export function bundleState(active: ActiveBundle, challengeScopes: readonly string[] | undefined): BundleState {
  const config = active.config
  const analysis = active.analysis
  const ruleOf = new Map<string, string>()
  for (const r of analysis?.rules ?? []) if (!ruleOf.has(r.code)) ruleOf.set(r.code, `${r.file}:${r.line}${r.title !== undefined && r.title !== r.code ? ` (${r.title})` : ''}`)
  return {
    active,
    plan: inputPlan(active, analysis),
    server: { resource: config.resource, ...(config.server_name ? { name: config.server_name } : {}) },
    metadataUrl: protectedResourceMetadataUrl(config.resource),
    challengeScopes: challengeScopes ?? [config.defaults?.read_scope ?? 'mcp:read'],
    ruleOf,
    knownScopes: scopesNamed(config),
  }
}
