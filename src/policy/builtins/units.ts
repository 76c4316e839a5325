/**
 * `units.parse` (SI and binary suffixes, exact rationals, 10 decimals for non-integers) and
 * `units.parse_bytes` (byte units, truncated to an integer), as OPA computes them.
 *
 * @module
 */
import { OperandError, RawNumber, str } from './values.ts'

/** OPA's extractNumAndUnit: the leading number (digits, '.', exponent) and the rest. */
function split(s: string): [string, string] {
  let firstNonNum = -1
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string
    const isNum = (c >= '0' && c <= '9') || c === '.'
    if (!isNum && c !== 'e' && c !== 'E' && c !== '+' && c !== '-') {
      firstNonNum = i
      break
    }
    if (c === 'e' || c === 'E') {
      const next = s[i + 1]
      if (i === s.length - 1 || !(next !== undefined && ((next >= '0' && next <= '9') || next === '+' || next === '-'))) {
        firstNonNum = i
        break
      }
      if (next === '+' || next === '-') i++
      let end = i + 1
      while (end < s.length && s[end]! >= '0' && s[end]! <= '9') end++
      if (end - (i + 1) > 6) throw new OperandError('exponent too large')
    }
  }
  if (firstNonNum === -1) return [s, '']
  if (firstNonNum === 0) return ['', s]
  return [s.slice(0, firstNonNum), s.slice(firstNonNum)]
}

/** A decimal number as an exact fraction p/q (q > 0), or undefined when it is not one. */
function rational(num: string): [bigint, bigint] | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(num)
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) return undefined
  const digits = `${m[2]}${m[3] ?? ''}`
  let p = BigInt(digits === '' ? '0' : digits)
  let q = 10n ** BigInt((m[3] ?? '').length)
  const exp = Number(m[4] ?? '0')
  if (exp >= 0) p *= 10n ** BigInt(exp)
  else q *= 10n ** BigInt(-exp)
  if (m[1] === '-') p = -p
  return [p, q]
}

/** The exact value of a double as a fraction. */
function doubleRational(x: number): [bigint, bigint] {
  let q = 1n
  while (!Number.isInteger(x)) {
    x *= 2
    q *= 2n
  }
  return [BigInt(x), q]
}

const K = 1000n
const SI: Record<string, bigint> = { k: K, K: K, M: K ** 2n, g: K ** 3n, G: K ** 3n, t: K ** 4n, T: K ** 4n, p: K ** 5n, P: K ** 5n, e: K ** 6n, E: K ** 6n }
const BIN: Record<string, bigint> = { ki: 1n << 10n, mi: 1n << 20n, gi: 1n << 30n, ti: 1n << 40n, pi: 1n << 50n, ei: 1n << 60n }

/** big.Rat.FloatString(10): rounded half away from zero. */
function floatString(p: bigint, q: bigint, places: number): string {
  const neg = p < 0n
  const abs = neg ? -p : p
  const scale = 10n ** BigInt(places)
  let scaled = (abs * scale) / q
  const rem = (abs * scale) % q
  if (rem * 2n >= q) scaled++
  const intPart = scaled / scale
  const frac = (scaled % scale).toString().padStart(places, '0')
  return `${neg ? '-' : ''}${intPart}.${frac}`
}

export const unitsBuiltins = {
  'units.parse': {
    fn: (x: unknown) => {
      const s = str(x, 1).replaceAll('"', '')
      if (s.includes(' ')) throw new OperandError('spaces not allowed in resource strings')
      const [num, rawUnit] = split(s)
      if (num === '') throw new OperandError('no amount provided')
      const unit = rawUnit.length > 1 ? rawUnit[0] + rawUnit.slice(1).toLowerCase() : rawUnit
      let factor: [bigint, bigint]
      if (unit === 'm') factor = doubleRational(0.001)
      else if (unit === '') factor = [1n, 1n]
      else if (SI[unit] !== undefined) factor = [SI[unit] as bigint, 1n]
      else if (BIN[unit.toLowerCase()] !== undefined && unit.length === 2) factor = [BIN[unit.toLowerCase()] as bigint, 1n]
      else throw new OperandError(`unit ${unit} not recognized`)
      const r = rational(num)
      if (r === undefined) throw new OperandError('could not parse amount to a number')
      const p = r[0] * factor[0]
      const q = r[1] * factor[1]
      if (p % q === 0n) {
        const n = p / q
        return Number.isSafeInteger(Number(n)) ? Number(n) : n
      }
      return new RawNumber(floatString(p, q, 10))
    },
  },
  'units.parse_bytes': {
    fn: (x: unknown) => {
      const s = str(x, 1).toLowerCase().replaceAll('"', '')
      if (s.includes(' ')) throw new OperandError('spaces not allowed in resource strings')
      const [num, unit] = split(s)
      if (num === '') throw new OperandError('no byte amount provided')
      const units: Record<string, bigint> = { '': 1n, kb: K, k: K, kib: 1n << 10n, ki: 1n << 10n, mb: K ** 2n, m: K ** 2n, mib: 1n << 20n, mi: 1n << 20n, gb: K ** 3n, g: K ** 3n, gib: 1n << 30n, gi: 1n << 30n, tb: K ** 4n, t: K ** 4n, tib: 1n << 40n, ti: 1n << 40n, pb: K ** 5n, p: K ** 5n, pib: 1n << 50n, pi: 1n << 50n, eb: K ** 6n, e: K ** 6n, eib: 1n << 60n, ei: 1n << 60n }
      const factor = units[unit]
      if (factor === undefined) throw new OperandError(`byte unit ${unit} not recognized`)
      const r = rational(num)
      if (r === undefined) throw new OperandError('could not parse byte amount to a number')
      const n = (r[0] * factor) / r[1]
      return Number.isSafeInteger(Number(n)) ? Number(n) : n
    },
  },
}
