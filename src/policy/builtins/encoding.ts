/**
 * Encoding builtins OPA does not compile into WebAssembly: `hex.encode`, `hex.decode`,
 * `base64url.encode_no_pad`, `urlquery.encode`, `urlquery.decode`, and `numbers.range_step`.
 *
 * @module
 */
import { int, OperandError, str } from './values.ts'

/** Go's url.QueryEscape: unreserved bytes kept, space → '+', everything else %XX (upper case). */
function queryEscape(s: string): string {
  let out = ''
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b)
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c
    else if (c === ' ') out += '+'
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Go's url.QueryUnescape: '+' → space, %XX decoded, bad escapes are an error. */
function queryUnescape(s: string): string {
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string
    if (c === '%') {
      const hex = s.slice(i + 1, i + 3)
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new OperandError('invalid URL escape')
      bytes.push(parseInt(hex, 16))
      i += 2
    } else if (c === '+') bytes.push(32)
    else bytes.push(...Buffer.from(c, 'utf8'))
  }
  return Buffer.from(bytes).toString('utf8')
}

export const encodingBuiltins = {
  'hex.encode': { fn: (x: unknown) => Buffer.from(str(x, 1), 'utf8').toString('hex') },
  'hex.decode': {
    fn: (x: unknown) => {
      const s = str(x, 1)
      if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new OperandError('invalid hex')
      const bytes = Buffer.from(s, 'hex')
      const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
      return text
    },
  },
  'base64url.encode_no_pad': { fn: (x: unknown) => Buffer.from(str(x, 1), 'utf8').toString('base64url') },
  'urlquery.encode': { fn: (x: unknown) => queryEscape(str(x, 1)) },
  'urlquery.decode': { fn: (x: unknown) => queryUnescape(str(x, 1)) },
  'numbers.range_step': {
    fn: (a: unknown, b: unknown, s: unknown) => {
      const from = int(a, 1)
      const to = int(b, 2)
      const step = int(s, 3)
      if (step <= 0n) throw new OperandError('step must be a positive integer')
      const out: Array<number | bigint> = []
      const up = from <= to
      for (let i = from; up ? i <= to : i >= to; i = up ? i + step : i - step) {
        if (out.length >= 1_000_000) throw new OperandError('range too large')
        out.push(Number.isSafeInteger(Number(i)) ? Number(i) : i)
      }
      return out
    },
  },
}
