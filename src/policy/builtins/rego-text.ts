/**
 * Rego value text as OPA prints it (`opa_value_dump`, Go's `ast.Value.String()`): JSON plus sets
 * (`{1, 2}`, `set()`), with ", " and ": " separators. Parsed for builtins that must tell a set from
 * an array or an integer from a float (sprintf), and printed the way `sprintf("%v", …)` prints.
 *
 * @module
 */
import { RegoSet } from './values.ts'

/** A number kept as its source text, so `1` and `1.0` stay distinct. */
export class RegoNumber {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** A Rego value with exact numbers: what `sprintf` formats. */
export type RegoValue = null | boolean | string | RegoNumber | RegoValue[] | RegoSet | Map<string, RegoValue>

/** Parses Rego value text (JSON, sets, `set()`). Throws SyntaxError on anything else. */
export function parseRegoText(text: string): RegoValue {
  let i = 0
  const ws = () => {
    while (i < text.length && /\s/.test(text[i] as string)) i++
  }
  const value = (): RegoValue => {
    ws()
    const c = text[i]
    if (c === '"') {
      const start = i
      i++
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1
      i++
      return JSON.parse(text.slice(start, i)) as string
    }
    if (c === '[') {
      i++
      const items: RegoValue[] = []
      ws()
      if (text[i] === ']') {
        i++
        return items
      }
      for (;;) {
        items.push(value())
        ws()
        if (text[i] === ',') i++
        else if (text[i] === ']') {
          i++
          return items
        } else throw new SyntaxError('bad array')
      }
    }
    if (c === '{') {
      i++
      ws()
      if (text[i] === '}') {
        i++
        return new Map()
      }
      const first = value()
      ws()
      if (text[i] === ':') {
        const map = new Map<string, RegoValue>()
        let key = first
        for (;;) {
          i++
          const v = value()
          map.set(typeof key === 'string' ? key : printRego(key), v)
          ws()
          if (text[i] === ',') {
            i++
            key = value()
            ws()
            if (text[i] !== ':') throw new SyntaxError('bad object')
          } else if (text[i] === '}') {
            i++
            return map
          } else throw new SyntaxError('bad object')
        }
      }
      const items: RegoValue[] = [first]
      for (;;) {
        if (text[i] === ',') {
          i++
          items.push(value())
          ws()
        } else if (text[i] === '}') {
          i++
          return new RegoSet(items)
        } else throw new SyntaxError('bad set')
      }
    }
    if (text.startsWith('set()', i)) {
      i += 5
      return new RegoSet([])
    }
    for (const [word, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length
        return v
      }
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i))
    if (m === null) throw new SyntaxError(`unexpected ${c ?? 'end'} in Rego value`)
    i += m[0].length
    return new RegoNumber(m[0])
  }
  const v = value()
  ws()
  if (i !== text.length) throw new SyntaxError('trailing text in Rego value')
  return v
}

/** Go's `strconv.Quote`. */
export function goQuote(s: string): string {
  let out = '"'
  for (const ch of s) {
    const cp = ch.codePointAt(0) as number
    if (ch === '"' || ch === '\\') out += `\\${ch}`
    else if (cp === 7) out += '\\a'
    else if (cp === 8) out += '\\b'
    else if (cp === 12) out += '\\f'
    else if (cp === 10) out += '\\n'
    else if (cp === 13) out += '\\r'
    else if (cp === 9) out += '\\t'
    else if (cp === 11) out += '\\v'
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\\ufffd'
    else if (isPrintable(cp)) out += ch
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`
    else out += `\\U${cp.toString(16).padStart(8, '0')}`
  }
  return `${out}"`
}

function isPrintable(cp: number): boolean {
  if (cp < 0x20 || cp === 0x7f) return false
  if (cp >= 0x80 && cp < 0xa0) return false
  if (cp === 0xad) return false
  return /[\p{L}\p{M}\p{N}\p{P}\p{S}\u0020]/u.test(String.fromCodePoint(cp))
}

const rank = (v: RegoValue): number =>
  v === null ? 0 : typeof v === 'boolean' ? 1 : v instanceof RegoNumber ? 2 : typeof v === 'string' ? 3 : Array.isArray(v) ? 4 : v instanceof Map ? 5 : 6

const utf8 = new TextEncoder()

function compareBytes(a: string, b: string): number {
  const x = utf8.encode(a)
  const y = utf8.encode(b)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number)
  return x.length - y.length
}

function compareNumbers(a: string, b: string): number {
  const ints = /^-?\d+$/
  if (ints.test(a) && ints.test(b)) {
    const x = BigInt(a)
    const y = BigInt(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
  return Number(a) - Number(b)
}

/** OPA's value ordering (ast.Compare): null < booleans < numbers < strings < arrays < objects < sets. */
export function compareRego(a: RegoValue, b: RegoValue): number {
  const ra = rank(a)
  const rb = rank(b)
  if (ra !== rb) return ra - rb
  if (typeof a === 'boolean') return Number(a) - Number(b as boolean)
  if (a instanceof RegoNumber) return compareNumbers(a.text, (b as RegoNumber).text)
  if (typeof a === 'string') return compareBytes(a, b as string)
  if (Array.isArray(a)) {
    const y = b as RegoValue[]
    for (let i = 0; i < Math.min(a.length, y.length); i++) {
      const c = compareRego(a[i] as RegoValue, y[i] as RegoValue)
      if (c !== 0) return c
    }
    return a.length - y.length
  }
  if (a instanceof RegoSet) return compareRego(sortedItems(a), sortedItems(b as RegoSet))
  if (a instanceof Map) {
    const x = [...a.keys()].sort(compareBytes)
    const y = [...(b as Map<string, RegoValue>).keys()].sort(compareBytes)
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = compareBytes(x[i] as string, y[i] as string) || compareRego(a.get(x[i] as string) as RegoValue, (b as Map<string, RegoValue>).get(y[i] as string) as RegoValue)
      if (c !== 0) return c
    }
    return x.length - y.length
  }
  return 0
}

const sortedItems = (s: RegoSet) => [...(s.items as RegoValue[])].sort(compareRego)

/** Go's `ast.Value.String()` for a Rego value (what `%v` prints for composites): sets and object keys sorted. */
export function printRego(v: RegoValue): string {
  if (v === null) return 'null'
  if (typeof v === 'boolean') return v ? 'true' : 'false'
  if (typeof v === 'string') return goQuote(v)
  if (v instanceof RegoNumber) return v.text
  if (Array.isArray(v)) return `[${v.map(printRego).join(', ')}]`
  if (v instanceof RegoSet) return v.items.length === 0 ? 'set()' : `{${sortedItems(v).map(printRego).join(', ')}}`
  return `{${[...v.keys()].sort(compareBytes).map((k) => `${goQuote(k)}: ${printRego(v.get(k) as RegoValue)}`).join(', ')}}`
}
