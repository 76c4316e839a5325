/**
 * Regenerates the self-contained copies inside schemas/input.schema.json from
 * schemas/principal.schema.json and schemas/action.schema.json, so `opa check --schema schemas/`
 * and editors resolve every reference offline (no `$ref` to another file, which they would try to
 * fetch from the `$id` host). test/authoring/schemas.test.ts fails when the copies drift.
 *
 * Run: node scripts/sync-schemas.ts
 */
import { readFileSync, writeFileSync } from 'node:fs'

const dir = new URL('../schemas/', import.meta.url)
const read = (name: string) => JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as Record<string, unknown>

/** A contract's schema as embedded under $defs: without its own $schema and $id. */
export function embedded(name: 'principal' | 'action'): Record<string, unknown> {
  const { $schema: _s, $id: _i, ...rest } = read(`${name}.schema.json`)
  return rest
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const input = read('input.schema.json')
  input.$defs = { principal: embedded('principal'), action: embedded('action') }
  writeFileSync(new URL('input.schema.json', dir), `${JSON.stringify(input, null, 2)}\n`)
}
