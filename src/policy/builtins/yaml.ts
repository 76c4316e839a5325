/**
 * `yaml.is_valid` and `yaml.unmarshal` (YAML 1.2 core schema, as OPA reads it: `yes` and `on` are
 * strings). `yaml.marshal` is not provided: its output layout would differ from OPA's.
 *
 * @module
 */
import { parseDocument } from 'yaml'
import { OperandError, str } from './values.ts'

function parse(text: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true })
  if (doc.errors.length > 0) throw new OperandError('invalid YAML')
  return doc.toJS({ maxAliasCount: 100 })
}

export const yamlBuiltins = {
  'yaml.is_valid': {
    fn: (x: unknown) => {
      if (typeof x !== 'string') return false
      try {
        parse(x)
        return true
      } catch {
        return false
      }
    },
  },
  'yaml.unmarshal': { fn: (x: unknown) => parse(str(x, 1)) ?? null },
}
