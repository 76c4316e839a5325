/**
 * Principal-specialised decisions. A principal the verifier memoizes is one object, deeply frozen,
 * handed out on every call with the same token (`src/verify/memo.ts`): its identity stands for
 * everything a policy can read of it. When the bundle proves that its decisions depend on nothing
 * but the principal, the method and the item (see `InputPlan.table`), the decision for that
 * principal and that item is the same on every call, so it is kept in the principal's table after
 * its first WASM evaluation and answered from there: a `Map` lookup instead of an evaluation.
 *
 * - Which decisions qualify is derived from the compiled bundle, never declared: no rule outside
 *   the library may read arguments, `_meta`, the request id, the context or the clock; items whose
 *   data declares argument conditions never qualify (the library reads their arguments).
 * - A table answers only for the same object it was filled for, and only while that object is
 *   deeply frozen (`isDeepFrozen`): two principals that differ in anything never share a table.
 * - Tables belong to one bundle (they live in its `BundleState`): a reload starts empty.
 * - A table never answers at or after the principal's `expiresAt`: it is dropped when next asked,
 *   or by the sweep (at most once a second, when another principal's table is created).
 * - Bounded in bytes: each principal's table (default 1 MiB: beyond it, that principal's new items
 *   are evaluated every time), and all tables together (default 32 MiB: the oldest principal's
 *   table goes first).
 * - A policy error is never kept.
 *
 * The same table keeps list filtering: whether each item of a `tools/list` (`resources/list`,
 * `prompts/list`) is visible, filled by one evaluation of the items it does not know yet.
 *
 * @module
 */
import type { Principal } from '../contracts/principal.ts'
import type { Decision } from '../policy/decision.ts'
import { isDeepFrozen } from '../policy/immutable.ts'

/** Options of the per-principal decision tables (`AuthzConfig.decisionTable`). */
export interface DecisionTableOptions {
  /** Most bytes all principals' tables hold together; the oldest table goes first. Default 33554432 (32 MiB). */
  maxBytes?: number
  /** Most bytes one principal's table holds; beyond it, that principal's new items are evaluated every time. Default 1048576 (1 MiB). */
  maxPrincipalBytes?: number
}

/** Bytes counted per table (the table, its maps, the principal's slot; besides the principal's own JSON size) and per entry (its map slots), besides its strings and decision. */
export const TABLE_OVERHEAD_BYTES = 512
export const TABLE_ENTRY_OVERHEAD_BYTES = 160

/** What a table keys an entry by: everything of an action a table-able policy can read. */
export interface ItemPath {
  method: string
  kind: string
  name?: string | undefined
  uri?: string | undefined
  annotations?: Record<string, unknown> | undefined
}

/** The answers for one item: without annotations, and per annotations (as JSON). */
interface Leaf<T> {
  plain?: T
  annotated?: Map<string, T>
}

/** The items of one method and kind, by what identifies them. */
interface Slots<T> {
  none?: Leaf<T>
  names?: Map<string, Leaf<T>>
  uris?: Map<string, Leaf<T>>
  /** Both a name and a URI (no MCP method has both; kept apart all the same). */
  both?: Map<string, Leaf<T>>
}

/** Annotations as a key: their JSON, as the policy would be sent them (undefined when they have none). */
function annotationsKey(annotations: Record<string, unknown>): string | undefined {
  try {
    return JSON.stringify(annotations)
  } catch {
    return undefined
  }
}

/**
 * Entries keyed by method, kind, name or URI, and annotations, level by level: every level is a
 * `Map` keyed by the action's own strings, so a lookup builds no key (and no two different actions
 * can meet at one entry).
 */
class ItemIndex<T> {
  readonly #byMethod = new Map<string, Map<string, Slots<T>>>()

  get(item: ItemPath): T | undefined {
    const slots = this.#byMethod.get(item.method)?.get(item.kind)
    if (slots === undefined) return undefined
    const leaf = item.name !== undefined ? (item.uri !== undefined ? slots.both?.get(JSON.stringify([item.name, item.uri])) : slots.names?.get(item.name)) : item.uri !== undefined ? slots.uris?.get(item.uri) : slots.none
    if (leaf === undefined) return undefined
    if (item.annotations === undefined) return leaf.plain
    const key = annotationsKey(item.annotations)
    return key === undefined ? undefined : leaf.annotated?.get(key)
  }

  set(item: ItemPath, value: T): void {
    const annotations = item.annotations === undefined ? undefined : annotationsKey(item.annotations)
    if (item.annotations !== undefined && annotations === undefined) return
    let byKind = this.#byMethod.get(item.method)
    if (byKind === undefined) this.#byMethod.set(item.method, (byKind = new Map()))
    let slots = byKind.get(item.kind)
    if (slots === undefined) byKind.set(item.kind, (slots = {}))
    let leaf: Leaf<T> | undefined
    const at = (map: Map<string, Leaf<T>>, key: string) => map.get(key) ?? (map.set(key, {}).get(key) as Leaf<T>)
    if (item.name !== undefined) leaf = item.uri !== undefined ? at((slots.both ??= new Map()), JSON.stringify([item.name, item.uri])) : at((slots.names ??= new Map()), item.name)
    else leaf = item.uri !== undefined ? at((slots.uris ??= new Map()), item.uri) : (slots.none ??= {})
    if (annotations === undefined) leaf.plain = value
    else (leaf.annotated ??= new Map()).set(annotations, value)
  }
}

/** Bytes an entry is counted as, besides its value: two per UTF-16 code unit of its strings, plus {@link TABLE_ENTRY_OVERHEAD_BYTES}. */
function itemBytes(item: ItemPath): number {
  const annotations = item.annotations === undefined ? 0 : (annotationsKey(item.annotations)?.length ?? 0)
  return 2 * (item.method.length + item.kind.length + (item.name?.length ?? 0) + (item.uri?.length ?? 0) + annotations) + TABLE_ENTRY_OVERHEAD_BYTES
}

interface Table {
  /** Milliseconds since the epoch from which the table must not answer; Infinity without `expiresAt`. */
  readonly expiresAtMs: number
  bytes: number
  readonly decisions: ItemIndex<Decision>
  readonly visible: ItemIndex<boolean>
}

function positiveInteger(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`decisionTable.${name} must be a positive integer`)
  return value
}

/** Bytes a principal is counted as: two per UTF-16 code unit of its JSON (it holds data only). */
function principalBytes(principal: Principal): number {
  try {
    return 2 * (JSON.stringify(principal)?.length ?? 0)
  } catch {
    return Number.POSITIVE_INFINITY
  }
}

/** The shared answer for every plain allow (frozen, so a table holds one object for all of them). */
const ALLOW: Decision = Object.freeze({ allow: true, reasons: Object.freeze([]) as unknown as Decision['reasons'], required_scopes: Object.freeze([]) as unknown as string[] })

function frozen(d: Decision): Decision {
  if (d.allow && d.reasons.length === 0 && d.required_scopes.length === 0) return ALLOW
  for (const r of d.reasons) Object.freeze(r)
  Object.freeze(d.reasons)
  Object.freeze(d.required_scopes)
  return Object.freeze(d)
}

/** The path of a list item in a table: its kind, its policy key (a name, or a canonical URI for resources) and its annotations. */
export function itemPath(kind: 'tool' | 'resource' | 'prompt', key: string, annotations: Record<string, unknown> | undefined): ItemPath {
  return kind === 'resource' ? { method: kind, kind, uri: key, annotations } : { method: kind, kind, name: key, annotations }
}

/** Counters of the tables, for tests and metrics. */
export interface DecisionTableStats {
  /** Principals with a table. */
  principals: number
  /** Bytes the tables are counted as, together. */
  bytes: number
  /** Answers given from a table. */
  hits: number
  /** Table-able calls a table could not answer (each was evaluated, and kept when it fits). */
  misses: number
}

/**
 * The tables of one bundle.
 *
 * @example
 * ```ts
 * const tables = new DecisionTables({ maxBytes: 8 * 1024 * 1024 })
 * const decision = tables.decision(principal, input.action, Date.now()) ?? tables.keepDecision(principal, input.action, engine.evaluate(input), Date.now())
 * ```
 */
export class DecisionTables {
  readonly #tables = new Map<object, Table>()
  readonly #maxBytes: number
  readonly #maxPrincipalBytes: number
  #bytes = 0
  /** When expired tables are next swept (at most once a second, when a table is created). */
  #nextSweepMs = 0
  #hits = 0
  #misses = 0

  constructor(options: DecisionTableOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('decisionTable must be an object or false')
    this.#maxBytes = positiveInteger(options.maxBytes, 32 * 1024 * 1024, 'maxBytes')
    this.#maxPrincipalBytes = Math.min(positiveInteger(options.maxPrincipalBytes, 1024 * 1024, 'maxPrincipalBytes'), this.#maxBytes)
  }

  /** Whether a principal's decisions may be tabled at all: it is one immutable object. */
  accepts(principal: Principal): boolean {
    return isDeepFrozen(principal)
  }

  /** The principal's table, when it may answer now; an expired table is dropped. */
  #table(principal: Principal, nowMs: number): Table | undefined {
    const table = this.#tables.get(principal)
    if (table === undefined) return undefined
    if (nowMs < table.expiresAtMs) return table
    this.#drop(principal, table)
    return undefined
  }

  /** Drops every expired table (a principal never seen again would otherwise hold its bytes until evicted). */
  #sweep(nowMs: number): void {
    if (nowMs < this.#nextSweepMs) return
    this.#nextSweepMs = nowMs + 1000
    for (const [p, t] of this.#tables) if (!(nowMs < t.expiresAtMs)) this.#drop(p, t)
  }

  #drop(principal: object, table: Table): void {
    this.#tables.delete(principal)
    this.#bytes -= table.bytes
  }

  /** The table to keep a new entry of `bytes` in, created when needed; undefined when it may not grow. */
  #room(principal: Principal, bytes: number, nowMs: number): Table | undefined {
    let table = this.#table(principal, nowMs)
    if (table === undefined) {
      this.#sweep(nowMs)
      const expiresAtMs = typeof principal.expiresAt === 'number' ? principal.expiresAt * 1000 : Number.POSITIVE_INFINITY
      if (!(nowMs < expiresAtMs) || !this.accepts(principal)) return undefined
      // The table holds the principal alive: its size counts (a principal is data only, see accepts).
      table = { expiresAtMs, bytes: TABLE_OVERHEAD_BYTES + principalBytes(principal), decisions: new ItemIndex(), visible: new ItemIndex() }
      if (table.bytes + bytes > this.#maxPrincipalBytes) return undefined
      this.#tables.set(principal, table)
      this.#bytes += table.bytes
    }
    if (table.bytes + bytes > this.#maxPrincipalBytes) return undefined
    table.bytes += bytes
    this.#bytes += bytes
    // The oldest tables go first (possibly this one: then the entry is simply not kept).
    for (const [p, t] of this.#tables) {
      if (this.#bytes <= this.#maxBytes) break
      this.#drop(p, t)
    }
    return this.#tables.get(principal) === table ? table : undefined
  }

  /** The tabled decision of a principal for an action, if any. */
  decision(principal: Principal, action: ItemPath, nowMs: number): Decision | undefined {
    const d = this.#table(principal, nowMs)?.decisions.get(action)
    if (d === undefined) this.#misses++
    else this.#hits++
    return d
  }

  /** Keeps a decision the policy gave (never a policy error); returns it, frozen when kept. */
  keepDecision(principal: Principal, action: ItemPath, decision: Decision, nowMs: number): Decision {
    if (decision.reasons.some((r) => r.code === 'policy_error')) return decision
    const d = frozen(decision)
    const bytes = itemBytes(action) + (d === ALLOW ? 0 : 2 * JSON.stringify(d).length)
    this.#room(principal, bytes, nowMs)?.decisions.set(action, d)
    return d
  }

  /** Whether a list item is visible to the principal, if the table knows. */
  visibility(principal: Principal, item: ItemPath, nowMs: number): boolean | undefined {
    const v = this.#table(principal, nowMs)?.visible.get(item)
    if (v === undefined) this.#misses++
    else this.#hits++
    return v
  }

  /** Keeps whether a list item is visible to the principal. */
  keepVisibility(principal: Principal, item: ItemPath, visible: boolean, nowMs: number): void {
    this.#room(principal, itemBytes(item), nowMs)?.visible.set(item, visible)
  }

  /** Counters. */
  stats(): DecisionTableStats {
    return { principals: this.#tables.size, bytes: this.#bytes, hits: this.#hits, misses: this.#misses }
  }
}
