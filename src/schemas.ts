/**
 * Loads the JSON Schemas in `schemas/` (the one source of truth for each data contract) and
 * compiles them with ajv (draft 2020-12). Works from `src/` and from `dist/` alike.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js'
import { resourcePrefixProblems } from './action/resource-prefixes.ts'
import { didYouMean } from './suggest.ts'
import { canonicalResourceUri } from './verify/resource-uri.ts'

/** The contracts with a schema in `schemas/`. */
export type SchemaName = 'data' | 'principal' | 'action' | 'input' | 'decision'

// verbose: errors carry the schema they failed, so an unknown property can be matched against the known ones.
const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true })
ajv.addFormat('uri', { type: 'string', validate: (s: string) => URL.canParse(s) })
ajv.addFormat('regex', {
  type: 'string',
  validate: (s: string) => {
    try {
      new RegExp(s, 'u')
      return true
    } catch {
      return false
    }
  },
})

const SCHEMA_NAMES: readonly SchemaName[] = ['data', 'principal', 'action', 'input', 'decision']
let registered = false

/** Reads one schema document. */
export function loadSchema(name: SchemaName): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(`../schemas/${name}.schema.json`, import.meta.url), 'utf8'))
}

/** Returns the compiled validator of a contract (schemas are registered once, by their `$id`). */
export function validator(name: SchemaName): ValidateFunction {
  if (!registered) {
    for (const n of SCHEMA_NAMES) ajv.addSchema(loadSchema(n), n)
    registered = true
  }
  const v = ajv.getSchema(name)
  if (v === undefined) throw new TypeError(`unknown schema ${name}`)
  return v
}

/** One validation problem, by JSON path. */
export interface SchemaProblem {
  /** JSON path of the value at fault, e.g. `$.mcp_authz.tools.notes_write.scopes[0]`. */
  path: string
  /** What is wrong with it. */
  message: string
}

/** Validates a value against a contract and lists every problem (empty when valid). */
export function schemaProblems(name: SchemaName, value: unknown): SchemaProblem[] {
  const v = validator(name)
  if (v(value)) return name === 'data' ? [...dataSemanticProblems(value), ...resourcePrefixProblems(value)] : []
  return (v.errors ?? []).map((e) => toProblem(e, name))
}

/** Property names a schema object admits: its own `properties` and those of the subschemas it combines (`allOf`, local `$ref`). */
function knownProperties(schema: unknown, root: Record<string, unknown>, depth = 0): string[] {
  if (schema === null || typeof schema !== 'object' || depth > 8) return []
  const s = schema as { properties?: Record<string, unknown>; allOf?: unknown[]; $ref?: string }
  const out = Object.keys(s.properties ?? {})
  for (const sub of s.allOf ?? []) out.push(...knownProperties(sub, root, depth + 1))
  if (typeof s.$ref === 'string' && s.$ref.startsWith('#/')) {
    let node: unknown = root
    for (const seg of s.$ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')]
    out.push(...knownProperties(node, root, depth + 1))
  }
  return out
}

function toProblem(e: ErrorObject, name: SchemaName): SchemaProblem {
  let path = '$'
  for (const seg of e.instancePath.split('/').slice(1)) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~')
    path += /^\d+$/.test(key) ? `[${key}]` : /^[A-Za-z_][\w]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
  }
  let message = e.message ?? 'is invalid'
  if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
    const extra = e.params as { additionalProperty?: string; unevaluatedProperty?: string }
    const unknown = extra.additionalProperty ?? extra.unevaluatedProperty ?? ''
    const close = didYouMean(unknown, knownProperties(e.parentSchema, loadSchema(name)))
    message = `has unknown property ${JSON.stringify(unknown)}${close !== undefined ? ` (did you mean ${JSON.stringify(close)}?)` : ''}`
  } else if (e.keyword === 'enum') message = `must be one of ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`
  return { path, message }
}

/** Checks the schema cannot express: the resource URI is in canonical form (RFC 8707). */
function dataSemanticProblems(value: unknown): SchemaProblem[] {
  const resource = (value as { mcp_authz: { resource: string } }).mcp_authz.resource
  const canonical = canonicalResourceUri(resource)
  if (canonical !== resource) {
    return [{ path: '$.mcp_authz.resource', message: canonical ? `must be in canonical form: ${canonical}` : 'must be an absolute http(s) URI without fragment' }]
  }
  return []
}
