/**
 * `sprintf` as OPA runs it: Go's `fmt.Sprintf` over operands converted the way OPA converts them
 * (integers → `int64` or `*big.Int`, other numbers → `float64`, strings as they are, every other value
 * as its Rego text). Replaces the `sprintf-js` implementation opa-wasm ships, which prints
 * `[object Object]` for composites and rounds differently. Verbs: `v d s q x X o O b c U e E f F g G
 * T %`, flags `+ - # space 0`, width and precision (also `*`). Checked against `opa eval`.
 *
 * @module
 */
import { goQuote, parseRegoText, printRego, RegoNumber, type RegoValue } from './rego-text.ts'

type GoArg = { t: 'int'; v: bigint } | { t: 'big'; v: bigint } | { t: 'float'; v: number } | { t: 'string'; v: string }

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function toGo(v: RegoValue): GoArg {
  if (typeof v === 'string') return { t: 'string', v }
  if (v instanceof RegoNumber) {
    if (/^-?\d+$/.test(v.text)) {
      const n = BigInt(v.text)
      return n >= INT64_MIN && n <= INT64_MAX ? { t: 'int', v: n } : { t: 'big', v: n }
    }
    const f = Number(v.text)
    return Number.isFinite(f) ? { t: 'float', v: f } : { t: 'string', v: v.text }
  }
  return { t: 'string', v: printRego(v) }
}

const typeName = (a: GoArg) => ({ int: 'int64', big: '*big.Int', float: 'float64', string: 'string' })[a.t]

interface Flags {
  plus: boolean
  minus: boolean
  sharp: boolean
  space: boolean
  zero: boolean
  wid?: number
  prec?: number
}

const runeCount = (s: string) => [...s].length

function pad(f: Flags, s: string, zeroOk = true): string {
  if (f.wid === undefined || f.wid <= 0) return s
  const n = f.wid - runeCount(s)
  if (n <= 0) return s
  if (f.minus) return s + ' '.repeat(n)
  return (f.zero && zeroOk ? '0' : ' ').repeat(n) + s
}

function fmtInteger(f: Flags, value: bigint, base: number, verb: string): string {
  const negative = value < 0n
  let u = negative ? -value : value
  let prec = 0
  if (f.prec !== undefined) {
    prec = f.prec
    if (prec === 0 && u === 0n) return pad({ ...f, zero: false }, '')
  } else if (f.zero && !f.minus && f.wid !== undefined) {
    prec = f.wid
    if (negative || f.plus || f.space) prec--
  }
  let digits = u.toString(base)
  if (verb === 'X') digits = digits.toUpperCase()
  u = 0n
  if (digits.length < prec) digits = '0'.repeat(prec - digits.length) + digits
  if (f.sharp) {
    if (base === 2) digits = `0b${digits}`
    else if (base === 8 && digits[0] !== '0') digits = `0${digits}`
    else if (base === 16) digits = `0${verb === 'X' ? 'X' : 'x'}${digits}`
  }
  if (verb === 'O') digits = `0o${digits}`
  if (negative) digits = `-${digits}`
  else if (f.plus) digits = `+${digits}`
  else if (f.space) digits = ` ${digits}`
  return pad({ ...f, zero: false }, digits)
}

/** Exact decimal digits of a double: value = 0.d × 10^dp (digits without leading zeros). */
interface Digits {
  d: string
  dp: number
}

function exactDigits(v: number): Digits {
  if (v === 0) return { d: '', dp: 0 }
  const { mant, exp: e2 } = floatBits(v)
  let digits: string
  let dp: number
  if (e2 >= 0) {
    digits = (mant << BigInt(e2)).toString()
    dp = digits.length
  } else {
    digits = (mant * 5n ** BigInt(-e2)).toString()
    dp = digits.length + e2
  }
  const trimmed = digits.replace(/0+$/, '')
  const lead = trimmed.length - trimmed.replace(/^0+/, '').length
  return { d: trimmed.slice(lead), dp: dp - lead }
}

function shortestDigits(v: number): Digits {
  if (v === 0) return { d: '', dp: 0 }
  const [mant, exp] = Math.abs(v).toExponential().split('e') as [string, string]
  const d = mant.replace('.', '').replace(/0+$/, '')
  return { d, dp: Number(exp) + 1 }
}

/** strconv's decimal rounding to nd digits: half to even on the exact value. */
function roundDigits(x: Digits, nd: number): Digits {
  if (nd < 0 || nd >= x.d.length) return nd < 0 ? { d: '', dp: x.dp } : x
  const next = x.d.charCodeAt(nd) - 48
  let up: boolean
  if (next === 5 && nd + 1 === x.d.length) up = nd > 0 && (x.d.charCodeAt(nd - 1) - 48) % 2 === 1
  else up = next >= 5
  if (!up) return { d: x.d.slice(0, nd).replace(/0+$/, ''), dp: x.dp }
  let i = nd - 1
  const chars = x.d.slice(0, nd).split('')
  while (i >= 0 && chars[i] === '9') i--
  if (i < 0) return { d: '1', dp: x.dp + 1 }
  chars[i] = String(Number(chars[i]) + 1)
  return { d: chars.slice(0, i + 1).join(''), dp: x.dp }
}

function fmtE(digs: Digits, prec: number, e: string): string {
  let out = digs.d.length === 0 ? '0' : (digs.d[0] as string)
  if (prec > 0) {
    out += '.'
    let i = 1
    const m = Math.min(digs.d.length, prec + 1)
    if (i < m) {
      out += digs.d.slice(i, m)
      i = m
    }
    for (; i <= prec; i++) out += '0'
  }
  const exp = digs.d.length === 0 ? 0 : digs.dp - 1
  const abs = Math.abs(exp)
  return `${out}${e}${exp < 0 ? '-' : '+'}${abs < 10 ? `0${abs}` : abs}`
}

function fmtF(digs: Digits, prec: number): string {
  let out = ''
  if (digs.dp > 0) {
    const m = Math.min(digs.d.length, digs.dp)
    out += digs.d.slice(0, m) + '0'.repeat(digs.dp - m)
  } else out += '0'
  if (prec > 0) {
    out += '.'
    for (let i = 1; i <= prec; i++) {
      const j = digs.dp + i - 1
      out += j >= 0 && j < digs.d.length ? digs.d[j] : '0'
    }
  }
  return out
}

/** strconv.FormatFloat(v, fmt, prec, 64) for e, E, f, g, G. */
function formatFloat(v: number, verb: string, prec: number): string {
  const neg = v < 0 || Object.is(v, -0)
  const abs = Math.abs(v)
  const shortest = prec < 0
  let digs: Digits
  if (shortest) {
    digs = shortestDigits(abs)
    if (verb === 'e' || verb === 'E') prec = Math.max(digs.d.length - 1, 0)
    else if (verb === 'f') prec = Math.max(digs.d.length - digs.dp, 0)
    else prec = digs.d.length
  } else {
    const exact = exactDigits(abs)
    if (verb === 'e' || verb === 'E') digs = roundDigits(exact, 1 + prec)
    else if (verb === 'f') digs = roundDigits(exact, exact.dp + prec)
    else {
      if (prec === 0) prec = 1
      digs = roundDigits(exact, prec)
    }
  }
  let body: string
  if (verb === 'e' || verb === 'E') body = fmtE(digs, prec, verb)
  else if (verb === 'f') body = fmtF(digs, prec)
  else {
    let eprec = prec
    if (eprec > digs.d.length && digs.d.length >= digs.dp) eprec = digs.d.length
    if (shortest) eprec = 6
    const exp = digs.dp - 1
    if (exp < -4 || exp >= eprec) {
      if (prec > digs.d.length) prec = digs.d.length
      body = fmtE(digs, prec - 1, verb === 'g' ? 'e' : 'E')
    } else {
      if (prec > digs.dp) prec = digs.d.length
      body = fmtF(digs, Math.max(prec - digs.dp, 0))
    }
  }
  return (neg ? '-' : '+') + body
}

function fmtFloat(f: Flags, v: number, verb: string, prec: number): string {
  if (f.prec !== undefined) prec = f.prec
  let num = formatFloat(v, verb === 'F' ? 'f' : verb, prec)
  if (f.space && num[0] === '+' && !f.plus) num = ` ${num.slice(1)}`
  if (f.plus || num[0] !== '+') {
    if (f.zero && !f.minus && f.wid !== undefined && f.wid > num.length) return num[0] + '0'.repeat(f.wid - num.length) + num.slice(1)
    return pad(f, num)
  }
  return pad(f, num.slice(1))
}

function fmtString(f: Flags, s: string, verb: string): string {
  if (f.prec !== undefined) s = [...s].slice(0, f.prec).join('')
  if (verb === 'q') return pad(f, goQuote(s))
  if (verb === 'x' || verb === 'X') {
    let bytes = [...new TextEncoder().encode(s)].map((b) => b.toString(16).padStart(2, '0'))
    if (verb === 'X') bytes = bytes.map((b) => b.toUpperCase())
    const prefix = f.sharp ? (verb === 'X' ? '0X' : '0x') : ''
    return pad(f, f.space ? bytes.map((b) => prefix + b).join(' ') : prefix + bytes.join(''))
  }
  return pad(f, s)
}

const validRune = (v: bigint) => v >= 0n && v <= 0x10ffffn && !(v >= 0xd800n && v <= 0xdfffn)
const isPrintableRune = (v: bigint) => goQuote(String.fromCodePoint(Number(v))).length === String.fromCodePoint(Number(v)).length + 2

/** Go's strconv.QuoteRune. */
function quoteRune(v: bigint): string {
  if (!validRune(v)) return "'\uFFFD'"
  const ch = String.fromCodePoint(Number(v))
  if (ch === "'") return "'\\''"
  const quoted = ch === '"' ? '"' : goQuote(ch).slice(1, -1)
  return `'${quoted}'`
}

function floatBits(v: number): { neg: boolean; mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8))
  view.setFloat64(0, v)
  const bits = view.getBigUint64(0)
  const expBits = Number((bits >> 52n) & 0x7ffn)
  let mant = bits & ((1n << 52n) - 1n)
  let exp: number
  if (expBits === 0) exp = -1074
  else {
    mant |= 1n << 52n
    exp = expBits - 1075
  }
  return { neg: bits >> 63n === 1n, mant, exp }
}

/** strconv.FormatFloat(v, 'b', -1, 64): decimal mantissa, binary exponent. */
function binaryFloat(v: number): string {
  const { neg, mant, exp } = floatBits(v)
  return `${neg ? '-' : ''}${mant}p${exp >= 0 ? '+' : '-'}${Math.abs(exp)}`
}

/** strconv.FormatFloat(v, 'x', -1, 64): 0x1.8p+00. */
function hexFloat(v: number, upper: boolean): string {
  let { neg, mant, exp } = floatBits(v)
  let out: string
  if (mant === 0n) out = '0x0p+00'
  else {
    while (mant < 1n << 52n) {
      mant <<= 1n
      exp--
    }
    exp += 52
    const frac = (mant & ((1n << 52n) - 1n)).toString(16).padStart(13, '0').replace(/0+$/, '')
    const e = Math.abs(exp)
    out = `0x1${frac === '' ? '' : `.${frac}`}p${exp < 0 ? '-' : '+'}${e < 10 ? `0${e}` : e}`
  }
  if (upper) out = out.toUpperCase()
  return (neg ? '-' : '') + out
}

function printArg(f: Flags, a: GoArg, verb: string): string {
  if (verb === 'T') return pad(f, typeName(a))
  switch (a.t) {
    case 'int':
    case 'big':
      if (a.t === 'big' && !'bdoOxXsv'.includes(verb)) return `%!${verb}(big.Int=${a.v.toString()})`
      switch (verb) {
        case 'v':
        case 'd':
        case 's':
          if (verb === 's' && a.t === 'int') return badVerb(f, a, verb)
          return fmtInteger(f, a.v, 10, verb)
        case 'b':
          return fmtInteger(f, a.v, 2, verb)
        case 'o':
        case 'O':
          return fmtInteger(f, a.v, 8, verb)
        case 'x':
        case 'X':
          return fmtInteger(f, a.v, 16, verb)
        case 'c':
          return pad(f, a.v >= 0n && a.v <= 0x10ffffn && !(a.v >= 0xd800n && a.v <= 0xdfffn) ? String.fromCodePoint(Number(a.v)) : '\ufffd')
        case 'q':
          return pad(f, quoteRune(a.v))
        case 'U': {
          const hex = (a.v < 0n ? -a.v : a.v).toString(16).toUpperCase().padStart(4, '0')
          return pad(f, f.sharp && validRune(a.v) && isPrintableRune(a.v) ? `U+${hex} '${String.fromCodePoint(Number(a.v))}'` : `U+${hex}`)
        }
        default:
          return badVerb(f, a, verb)
      }
    case 'float':
      switch (verb) {
        case 'v':
          return fmtFloat(f, a.v, 'g', -1)
        case 'g':
        case 'G':
          return fmtFloat(f, a.v, verb, -1)
        case 'e':
        case 'E':
        case 'f':
        case 'F':
          return fmtFloat(f, a.v, verb, 6)
        case 'x':
        case 'X':
        case 'b':
          return pad(f, (f.plus && a.v >= 0 ? '+' : '') + (verb === 'b' ? binaryFloat(a.v) : hexFloat(a.v, verb === 'X')))
        default:
          return badVerb(f, a, verb)
      }
    case 'string':
      if (verb === 'v' || verb === 's' || verb === 'q' || verb === 'x' || verb === 'X') return fmtString(f, a.v, verb)
      return badVerb(f, a, verb)
  }
}

function badVerb(f: Flags, a: GoArg, verb: string): string {
  return `%!${verb}(${typeName(a)}=${printArg(f, a, 'v')})`
}

/** Go's `fmt.Sprintf(format, args...)`. */
export function goSprintf(format: string, args: GoArg[]): string {
  let out = ''
  let argNum = 0
  let i = 0
  const end = format.length
  while (i < end) {
    const pct = format.indexOf('%', i)
    if (pct < 0) {
      out += format.slice(i)
      break
    }
    out += format.slice(i, pct)
    i = pct + 1
    const f: Flags = { plus: false, minus: false, sharp: false, space: false, zero: false }
    for (; i < end; i++) {
      const c = format[i]
      if (c === '#') f.sharp = true
      else if (c === '0') f.zero = !f.minus
      else if (c === '+') f.plus = true
      else if (c === '-') {
        f.minus = true
        f.zero = false
      } else if (c === ' ') f.space = true
      else break
    }
    const number = (): number | undefined => {
      const m = /^\d+/.exec(format.slice(i))
      if (m === null) return undefined
      i += m[0].length
      return Math.min(Number(m[0]), 1e6)
    }
    const star = (): number | undefined => {
      const a = args[argNum++]
      if (a === undefined || a.t !== 'int') {
        out += '%!(BADWIDTH)'
        return undefined
      }
      return Number(a.v)
    }
    if (format[i] === '*') {
      i++
      let w = star()
      if (w !== undefined && w < 0) {
        f.minus = true
        f.zero = false
        w = -w
      }
      if (w !== undefined) f.wid = w
    } else {
      const w = number()
      if (w !== undefined) f.wid = w
    }
    if (format[i] === '.') {
      i++
      if (format[i] === '*') {
        i++
        const p = star()
        if (p !== undefined && p >= 0) f.prec = p
      } else f.prec = number() ?? 0
    }
    if (i >= end) {
      out += '%!(NOVERB)'
      break
    }
    const verb = String.fromCodePoint(format.codePointAt(i) as number)
    i += verb.length
    if (verb === '%') {
      out += '%'
      continue
    }
    const arg = args[argNum]
    if (arg === undefined) {
      out += `%!${verb}(MISSING)`
      continue
    }
    argNum++
    out += printArg(f, arg, verb)
  }
  if (argNum < args.length) out += `%!(EXTRA ${args.slice(argNum).map((a) => `${typeName(a)}=${printArg({ plus: false, minus: false, sharp: false, space: false, zero: false }, a, 'v')}`).join(', ')})`
  return out
}

/** The `sprintf(format, values)` builtin, given its operands as Rego value text. */
export function sprintf(formatText: string, valuesText: string): string | undefined {
  const format = parseRegoText(formatText)
  const values = parseRegoText(valuesText)
  if (typeof format !== 'string') return undefined
  if (!Array.isArray(values)) return undefined
  return goSprintf(format, values.map(toGo))
}
