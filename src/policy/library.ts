/**
 * The prebuilt policy library: the shipped Rego compiled to WASM once, with no data
 * (`dist/policy-library.tar.gz`, made by `scripts/setup.sh` and before `npm pack`). Users whose
 * policy is data only load their data into it at run time (`createAuthz({ data })`) and need no
 * `opa` binary; the engine, the input, the analysis and the decisions are the same as a bundle
 * `mcp-authz build` makes from the same data.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { parseDocumentText, DocumentSyntaxError } from '../parse-document.ts'
import { readBundle, type Bundle } from './bundle.ts'
import { PolicyError } from './errors.ts'

/** Where the prebuilt library lives: `dist/policy-library.tar.gz` of the package (or checkout). */
export const LIBRARY_BUNDLE = fileURLToPath(new URL('../../dist/policy-library.tar.gz', import.meta.url))

let cached: Promise<Bundle> | undefined

/**
 * The prebuilt library bundle (read once per process).
 *
 * @throws {PolicyError} `ERR_NO_LIBRARY` when the file is missing (a checkout that was not set up).
 */
export function libraryBundle(): Promise<Bundle> {
  cached ??= readFile(LIBRARY_BUNDLE).then(
    (bytes) => readBundle(bytes),
    (cause: unknown) => {
      cached = undefined
      throw new PolicyError('ERR_NO_LIBRARY', `the prebuilt policy library is missing (${LIBRARY_BUNDLE}): an installed package ships it; in a checkout, run npm run setup`, { cause })
    },
  )
  return cached
}

/** Policy data: the object itself, or a JSON / YAML file holding it. */
export type PolicyDataSource = Record<string, unknown> | string

/** Reads policy data given as an object or a file path (JSON or YAML, errors with line and column). */
export async function readPolicyData(source: PolicyDataSource): Promise<Record<string, unknown>> {
  if (typeof source !== 'string') {
    if (source === null || typeof source !== 'object' || Array.isArray(source)) throw new TypeError('data must be an object or a file path')
    return source
  }
  let text: string
  try {
    text = await readFile(source, 'utf8')
  } catch (cause) {
    throw new PolicyError('ERR_DATA_INVALID', `cannot read policy data ${source}: ${(cause as Error).message}`, { cause, problems: [{ path: '$', message: 'cannot be read' }] })
  }
  return parsePolicyData(text, source)
}

/**
 * Parses the text of a policy data file: YAML when `file` ends in `.yaml` / `.yml`, else strict
 * JSON. Not validated against the schema here (the engine does that when it loads the data).
 *
 * @throws {PolicyError} `ERR_DATA_INVALID` with each syntax error as `file:line:column`, or when the
 *   document is not an object.
 * @example
 * ```ts
 * const data = parsePolicyData(await readFile('data.yaml', 'utf8'), 'data.yaml')
 * await authz.load({ data })
 * ```
 */
export function parsePolicyData(text: string, file: string): Record<string, unknown> {
  try {
    const value = parseDocumentText(text, /\.ya?ml$/i.test(file) ? file : file.replace(/(\.json)?$/i, '.json'))
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new PolicyError('ERR_DATA_INVALID', `${file} must hold an object`, { problems: [{ path: '$', message: 'must be an object' }] })
    return value as Record<string, unknown>
  } catch (cause) {
    if (!(cause instanceof DocumentSyntaxError)) throw cause
    throw new PolicyError('ERR_DATA_INVALID', cause.message, { cause, problems: cause.problems.map((p) => ({ path: `${file}:${p.line}:${p.column}`, message: p.message })) })
  }
}

/**
 * The prebuilt library with policy data in place of its empty data: a bundle the engine prepares
 * like any other (the data is validated there). Its revision names both parts.
 *
 * @example
 * ```ts
 * const bundle = withData(await libraryBundle(), { mcp_authz: { resource: 'https://mcp.example.com/mcp', issuers: {} } })
 * bundle.manifest.revision // 'lib-sha256-…+data-3f1a…'
 * ```
 */
export function withData(library: Bundle, data: Record<string, unknown>): Bundle {
  const dataHash = createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16)
  const files = new Map(library.files)
  files.delete('/.signatures.json')
  return {
    wasm: library.wasm,
    data,
    manifest: { ...library.manifest, revision: `lib-${library.manifest.revision ?? 'unknown'}+data-${dataHash}` },
    files,
  }
}
