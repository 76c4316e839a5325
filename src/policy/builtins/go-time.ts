/**
 * Go's `time` package as OPA's time builtins use it: instants in int64 nanoseconds, wall clocks in
 * IANA time zones (offsets from `Intl`), Go layout strings ("2006-01-02T15:04:05Z07:00") for
 * formatting and parsing, and `time.ParseDuration`. Written from Go's documented behaviour and
 * checked against `opa eval` by test/authoring/builtins.test.ts.
 *
 * @module
 */
import { zoneAbbreviation } from './tzif.ts'
import { OperandError } from './values.ts'

const NS_PER_S = 1_000_000_000n
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** A time zone: fixed UTC, or an IANA zone resolved by `Intl`. */
export interface Zone {
  name: string
  /** Offset east of UTC in seconds at an instant (epoch seconds). */
  offsetAt(epochSeconds: number): number
  /** Zone abbreviation at an instant ("UTC", "EST"), when one is known. */
  abbreviationAt(epochSeconds: number): string
}

export const UTC: Zone = { name: 'UTC', offsetAt: () => 0, abbreviationAt: () => 'UTC' }

const zones = new Map<string, Zone>()

/** Resolves a zone name the way OPA does: "" and "UTC" are UTC, "Local" the process's zone, else IANA. */
export function zone(name: string): Zone {
  if (name === '' || name === 'UTC') return UTC
  const iana = name === 'Local' ? (process.env.TZ === undefined || process.env.TZ === '' ? Intl.DateTimeFormat().resolvedOptions().timeZone : process.env.TZ) : name
  if (iana === 'UTC' || iana === 'Etc/UTC') return UTC
  let z = zones.get(iana)
  if (z !== undefined) return z
  let parts: Intl.DateTimeFormat
  let abbrev: Intl.DateTimeFormat
  try {
    parts = new Intl.DateTimeFormat('en-US', { timeZone: iana, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', era: 'short' })
    abbrev = new Intl.DateTimeFormat('en-US', { timeZone: iana, timeZoneName: 'short' })
  } catch {
    throw new OperandError(`unknown time zone ${name}`)
  }
  const offsetAt = (epochSeconds: number): number => {
    const fields: Record<string, string> = {}
    for (const p of parts.formatToParts(new Date(epochSeconds * 1000))) fields[p.type] = p.value
    let year = Number(fields.year)
    if (fields.era === 'BC' || fields.era === 'B') year = 1 - year
    return utcSeconds(year, Number(fields.month), Number(fields.day), Number(fields.hour), Number(fields.minute), Number(fields.second)) - epochSeconds
  }
  const abbreviationAt = (epochSeconds: number): string => {
    const off = offsetAt(epochSeconds)
    const fromDatabase = zoneAbbreviation(iana, epochSeconds, off)
    if (fromDatabase !== undefined) return fromDatabase
    const name = abbrev.formatToParts(new Date(epochSeconds * 1000)).find((p) => p.type === 'timeZoneName')?.value ?? ''
    if (/^[A-Z]{3,5}$/.test(name)) return name
    // No database and Intl has no abbreviation ("GMT+9"): use the numeric form tzdata uses for such zones.
    const sign = off < 0 ? '-' : '+'
    const abs = Math.abs(off)
    const hh = String(Math.floor(abs / 3600)).padStart(2, '0')
    const mm = Math.floor((abs % 3600) / 60)
    return `${sign}${hh}${mm === 0 ? '' : String(mm).padStart(2, '0')}`
  }
  z = { name: iana, offsetAt, abbreviationAt }
  zones.set(iana, z)
  return z
}

/** A wall-clock reading of an instant in a zone. */
export interface Wall {
  year: number
  month: number
  day: number
  hour: number
  minute: number
  second: number
  nanosecond: number
  weekday: number
  yearDay: number
  offset: number
  zone: Zone
  epochSeconds: number
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q
}

/** The wall clock of an instant (ns since the epoch) in a zone. */
export function wall(ns: bigint, z: Zone): Wall {
  const sec = floorDiv(ns, NS_PER_S)
  const nanosecond = Number(ns - sec * NS_PER_S)
  const epochSeconds = Number(sec)
  const offset = z.offsetAt(epochSeconds)
  const d = new Date((epochSeconds + offset) * 1000)
  const year = d.getUTCFullYear()
  const yearDay = Math.floor((utcSeconds(year, d.getUTCMonth() + 1, d.getUTCDate(), 0, 0, 0) - utcSeconds(year, 1, 1, 0, 0, 0)) / 86_400) + 1
  return {
    year,
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    nanosecond,
    weekday: d.getUTCDay(),
    yearDay,
    offset,
    zone: z,
    epochSeconds,
  }
}

/** Seconds since the epoch of a wall time read as UTC (fields normalised; years 0–99 are not 1900–1999). */
function utcSeconds(year: number, month: number, day: number, hour: number, minute: number, second: number): number {
  const date = new Date(0)
  date.setUTCFullYear(year, month - 1, day)
  date.setUTCHours(hour, minute, second, 0)
  return Math.floor(date.getTime() / 1000)
}

/** Go's `time.Date`: wall fields (normalised when out of range) in a zone → ns since the epoch. */
export function fromWall(year: number, month: number, day: number, hour: number, minute: number, second: number, nanosecond: number, z: Zone): bigint {
  const unix = utcSeconds(year, month, day, hour, minute, second)
  // Go: look the offset up at the wall time taken as UTC, then again at the adjusted instant.
  const offset = z.offsetAt(unix - z.offsetAt(unix))
  return BigInt(unix - offset) * NS_PER_S + BigInt(nanosecond)
}

/** Refuses instants outside int64 nanoseconds (1677–2262), as OPA does. */
export function checkRange(ns: bigint): bigint {
  if (ns < INT64_MIN || ns > INT64_MAX) throw new OperandError('time outside of valid range')
  return ns
}

const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const LONG_MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

export function weekdayName(w: Wall): string {
  return LONG_DAYS[w.weekday] as string
}

/** Go's named layouts that OPA accepts in place of a layout string. */
export const NAMED_LAYOUTS: Readonly<Record<string, string>> = {
  ANSIC: 'Mon Jan _2 15:04:05 2006',
  UnixDate: 'Mon Jan _2 15:04:05 MST 2006',
  RubyDate: 'Mon Jan 02 15:04:05 -0700 2006',
  RFC822: '02 Jan 06 15:04 MST',
  RFC822Z: '02 Jan 06 15:04 -0700',
  RFC850: 'Monday, 02-Jan-06 15:04:05 MST',
  RFC1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  RFC1123Z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  RFC3339: '2006-01-02T15:04:05Z07:00',
  RFC3339Nano: '2006-01-02T15:04:05.999999999Z07:00',
}

type Std =
  | 'Jan' | 'January' | '1' | '01' | 'Mon' | 'Monday' | '2' | '_2' | '02' | '__2' | '002'
  | '15' | '3' | '03' | '4' | '04' | '5' | '05' | '2006' | '06' | 'PM' | 'pm' | 'MST'
  | 'Z0700' | 'Z070000' | 'Z07' | 'Z07:00' | 'Z07:00:00' | '-0700' | '-070000' | '-07' | '-07:00' | '-07:00:00'
  | 'frac0' | 'frac9'

interface Chunk {
  prefix: string
  std?: Std
  /** For fractional seconds: digit count and separator. */
  digits?: number
  sep?: string
}

const isDigitAt = (s: string, i: number) => i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57
const startsLower = (s: string) => s.length > 0 && s[0]! >= 'a' && s[0]! <= 'z'

/** Go's `nextStdChunk`: the literal text before the next layout element, the element, and the rest. */
function nextChunk(layout: string): { chunk: Chunk; rest: string } {
  for (let i = 0; i < layout.length; i++) {
    const c = layout[i]
    const at = (s: string) => layout.startsWith(s, i)
    const hit = (std: Std, len: number) => ({ chunk: { prefix: layout.slice(0, i), std }, rest: layout.slice(i + len) })
    switch (c) {
      case 'J':
        if (at('Jan')) {
          if (at('January')) return hit('January', 7)
          if (!startsLower(layout.slice(i + 3))) return hit('Jan', 3)
        }
        break
      case 'M':
        if (layout.length >= i + 3) {
          if (at('Mon')) {
            if (at('Monday')) return hit('Monday', 6)
            if (!startsLower(layout.slice(i + 3))) return hit('Mon', 3)
          }
          if (at('MST')) return hit('MST', 3)
        }
        break
      case '0':
        if (i + 1 < layout.length && layout[i + 1]! >= '1' && layout[i + 1]! <= '6') return hit((['01', '02', '03', '04', '05', '06'] as const)[Number(layout[i + 1]) - 1]!, 2)
        if (at('002')) return hit('002', 3)
        break
      case '1':
        if (at('15')) return hit('15', 2)
        return hit('1', 1)
      case '2':
        if (at('2006')) return hit('2006', 4)
        return hit('2', 1)
      case '_':
        if (at('_2')) {
          if (at('_2006')) return { chunk: { prefix: layout.slice(0, i + 1), std: '2006' }, rest: layout.slice(i + 5) }
          return hit('_2', 2)
        }
        if (at('__2')) return hit('__2', 3)
        break
      case '3':
        return hit('3', 1)
      case '4':
        return hit('4', 1)
      case '5':
        return hit('5', 1)
      case 'P':
        if (at('PM')) return hit('PM', 2)
        break
      case 'p':
        if (at('pm')) return hit('pm', 2)
        break
      case '-':
        for (const s of ['-070000', '-07:00:00', '-0700', '-07:00', '-07'] as const) if (at(s)) return hit(s, s.length)
        break
      case 'Z':
        for (const s of ['Z070000', 'Z07:00:00', 'Z0700', 'Z07:00', 'Z07'] as const) if (at(s)) return hit(s, s.length)
        break
      case '.':
      case ',':
        if (i + 1 < layout.length && (layout[i + 1] === '0' || layout[i + 1] === '9')) {
          const ch = layout[i + 1]
          let j = i + 1
          while (j < layout.length && layout[j] === ch) j++
          if (!isDigitAt(layout, j)) return { chunk: { prefix: layout.slice(0, i), std: ch === '0' ? 'frac0' : 'frac9', digits: j - (i + 1), sep: c }, rest: layout.slice(j) }
        }
        break
    }
  }
  return { chunk: { prefix: layout }, rest: '' }
}

const pad = (n: number, width: number) => {
  const s = String(Math.abs(n)).padStart(width, '0')
  return n < 0 ? `-${s}` : s
}

function formatZone(std: Std, offset: number): string {
  const iso = std.startsWith('Z')
  if (offset === 0 && iso) return 'Z'
  let zoneMin = Math.trunc(offset / 60)
  let abs = offset
  let out = ''
  if (zoneMin < 0) {
    out += '-'
    zoneMin = -zoneMin
    abs = -abs
  } else out += '+'
  out += pad(Math.floor(zoneMin / 60), 2)
  const colon = std.includes(':')
  const short = std === '-07' || std === 'Z07'
  const seconds = std === '-070000' || std === 'Z070000' || std === '-07:00:00' || std === 'Z07:00:00'
  if (colon) out += ':'
  if (!short) out += pad(zoneMin % 60, 2)
  if (seconds) {
    if (colon) out += ':'
    out += pad(abs % 60, 2)
  }
  return out
}

/** Go's `Time.Format`. */
export function formatTime(w: Wall, layout: string): string {
  let out = ''
  let rest = layout
  while (rest !== '') {
    const { chunk, rest: next } = nextChunk(rest)
    out += chunk.prefix
    rest = next
    if (chunk.std === undefined) break
    const hour12 = w.hour % 12 === 0 ? 12 : w.hour % 12
    switch (chunk.std) {
      case '06': out += pad(((w.year % 100) + 100) % 100, 2); break
      case '2006': out += pad(w.year, 4); break
      case 'Jan': out += LONG_MONTHS[w.month - 1]!.slice(0, 3); break
      case 'January': out += LONG_MONTHS[w.month - 1]; break
      case '1': out += String(w.month); break
      case '01': out += pad(w.month, 2); break
      case 'Mon': out += LONG_DAYS[w.weekday]!.slice(0, 3); break
      case 'Monday': out += LONG_DAYS[w.weekday]; break
      case '2': out += String(w.day); break
      case '_2': out += String(w.day).padStart(2, ' '); break
      case '02': out += pad(w.day, 2); break
      case '__2': out += String(w.yearDay).padStart(3, ' '); break
      case '002': out += pad(w.yearDay, 3); break
      case '15': out += pad(w.hour, 2); break
      case '3': out += String(hour12); break
      case '03': out += pad(hour12, 2); break
      case '4': out += String(w.minute); break
      case '04': out += pad(w.minute, 2); break
      case '5': out += String(w.second); break
      case '05': out += pad(w.second, 2); break
      case 'PM': out += w.hour >= 12 ? 'PM' : 'AM'; break
      case 'pm': out += w.hour >= 12 ? 'pm' : 'am'; break
      case 'MST': {
        const name = w.zone === UTC ? 'UTC' : w.zone.abbreviationAt(w.epochSeconds)
        out += name
        break
      }
      case 'frac0':
      case 'frac9': {
        const digits = String(w.nanosecond).padStart(9, '0')
        if (chunk.std === 'frac0') out += (chunk.sep ?? '.') + digits.slice(0, Math.min(9, chunk.digits ?? 0))
        else {
          const trimmed = digits.slice(0, Math.min(9, chunk.digits ?? 0)).replace(/0+$/, '')
          if (trimmed !== '') out += (chunk.sep ?? '.') + trimmed
        }
        break
      }
      default:
        out += formatZone(chunk.std, w.offset)
    }
  }
  return out
}

class ParseError extends OperandError {}

function getnum(s: string, fixed: boolean): [number, string] {
  if (!isDigitAt(s, 0)) throw new ParseError('bad number')
  if (!isDigitAt(s, 1)) {
    if (fixed) throw new ParseError('bad number')
    return [Number(s[0]), s.slice(1)]
  }
  return [Number(s.slice(0, 2)), s.slice(2)]
}

function getnum3(s: string, fixed: boolean): [number, string] {
  let n = 0
  let i = 0
  for (; i < 3 && isDigitAt(s, i); i++) n = n * 10 + Number(s[i])
  if (i === 0 || (fixed && i !== 3)) throw new ParseError('bad number')
  return [n, s.slice(i)]
}

function cutspace(s: string): string {
  let i = 0
  while (i < s.length && s[i] === ' ') i++
  return s.slice(i)
}

function skip(value: string, prefix: string): string {
  while (prefix.length > 0) {
    if (prefix[0] === ' ') {
      if (value.length > 0 && value[0] !== ' ') throw new ParseError('bad literal')
      prefix = cutspace(prefix)
      value = cutspace(value)
      continue
    }
    if (value.length === 0 || value[0] !== prefix[0]) throw new ParseError('bad literal')
    prefix = prefix.slice(1)
    value = value.slice(1)
  }
  return value
}

function lookupName(names: readonly string[], value: string): [number, string] {
  for (const [i, n] of names.entries()) if (value.length >= n.length && value.slice(0, n.length).toLowerCase() === n.toLowerCase()) return [i, value.slice(n.length)]
  throw new ParseError('bad name')
}

function parseNanoseconds(value: string, nbytes: number): number {
  if (value[0] !== '.' && value[0] !== ',') throw new ParseError('bad fraction')
  if (nbytes > 10) nbytes = 10
  const digits = value.slice(1, nbytes)
  if (!/^\d+$/.test(digits)) throw new ParseError('bad fraction')
  return Number(digits) * 10 ** (10 - nbytes)
}

function leadingInt(s: string): [bigint, string] {
  let i = 0
  let x = 0n
  for (; i < s.length && isDigitAt(s, i); i++) {
    x = x * 10n + BigInt(s.charCodeAt(i) - 48)
    if (x > 2n ** 63n) throw new ParseError('overflow')
  }
  return [x, s.slice(i)]
}

function parseSignedOffset(value: string): number {
  const sign = value[0]
  if (sign !== '-' && sign !== '+') return 0
  let x: bigint
  let rem: string
  try {
    ;[x, rem] = leadingInt(value.slice(1))
  } catch {
    return 0
  }
  if (rem === value.slice(1) || x > 23n) return 0
  return value.length - rem.length
}

function parseTimeZone(value: string): number {
  if (value.length < 3) return 0
  if (value.startsWith('ChST') || value.startsWith('MeST')) return 4
  if (value.startsWith('GMT')) return value.length === 3 ? 3 : 3 + parseSignedOffset(value.slice(3))
  if (value[0] === '+' || value[0] === '-') return parseSignedOffset(value)
  let n = 0
  for (; n < 6 && n < value.length; n++) if (value[n]! < 'A' || value[n]! > 'Z') break
  if (n === 5 && value[4] === 'T') return 5
  if (n === 4 && (value[3] === 'T' || value.startsWith('WITA'))) return 4
  if (n === 3) return 3
  return 0
}

const isLeap = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
const DAYS_BEFORE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365]
const daysIn = (m: number, y: number) => (m === 2 && isLeap(y) ? 29 : (DAYS_BEFORE[m] as number) - (DAYS_BEFORE[m - 1] as number))

/** Go's `time.Parse` (location UTC): ns since the epoch. Throws {@link OperandError} when the value does not match. */
export function parseTime(layout: string, value: string): bigint {
  let year = 0
  let month = -1
  let day = -1
  let yday = -1
  let hour = 0
  let min = 0
  let sec = 0
  let nsec = 0
  let zoneOffset: number | undefined
  let utc = false
  let pm = false
  let am = false
  let rest = layout
  for (;;) {
    const { chunk, rest: next } = nextChunk(rest)
    value = skip(value, chunk.prefix)
    if (chunk.std === undefined) {
      if (value.length > 0) throw new ParseError('extra text')
      break
    }
    rest = next
    const std = chunk.std
    switch (std) {
      case '06': {
        if (value.length < 2 || !isDigitAt(value, 0) || !isDigitAt(value, 1)) throw new ParseError('bad year')
        year = Number(value.slice(0, 2))
        year += year >= 69 ? 1900 : 2000
        value = value.slice(2)
        break
      }
      case '2006': {
        if (value.length < 4 || !isDigitAt(value, 0)) throw new ParseError('bad year')
        const p = value.slice(0, 4)
        if (!/^\d{4}$/.test(p)) throw new ParseError('bad year')
        year = Number(p)
        value = value.slice(4)
        break
      }
      case 'Jan': [month, value] = lookupName(LONG_MONTHS.map((m) => m.slice(0, 3)), value); month++; break
      case 'January': [month, value] = lookupName(LONG_MONTHS, value); month++; break
      case '1':
      case '01':
        ;[month, value] = getnum(value, std === '01')
        if (month <= 0 || month > 12) throw new ParseError('month out of range')
        break
      case 'Mon': [, value] = lookupName(LONG_DAYS.map((d) => d.slice(0, 3)), value); break
      case 'Monday': [, value] = lookupName(LONG_DAYS, value); break
      case '2':
      case '_2':
      case '02':
        if (std === '_2' && value[0] === ' ') value = value.slice(1)
        ;[day, value] = getnum(value, std === '02')
        break
      case '__2':
      case '002':
        for (let i = 0; i < 2; i++) if (std === '__2' && value[0] === ' ') value = value.slice(1)
        ;[yday, value] = getnum3(value, std === '002')
        if (yday < 1 || yday > 366) throw new ParseError('day-of-year out of range')
        break
      case '15':
        ;[hour, value] = getnum(value, false)
        if (hour < 0 || hour >= 24) throw new ParseError('hour out of range')
        break
      case '3':
      case '03':
        ;[hour, value] = getnum(value, std === '03')
        if (hour < 0 || hour > 12) throw new ParseError('hour out of range')
        break
      case '4':
      case '04':
        ;[min, value] = getnum(value, std === '04')
        if (min < 0 || min >= 60) throw new ParseError('minute out of range')
        break
      case '5':
      case '05': {
        ;[sec, value] = getnum(value, std === '05')
        if (sec < 0 || sec >= 60) throw new ParseError('second out of range')
        // A fractional second in the value that the layout does not mention is accepted.
        if (value.length >= 2 && (value[0] === '.' || value[0] === ',') && isDigitAt(value, 1)) {
          const following = nextChunk(rest).chunk.std
          if (following === 'frac0' || following === 'frac9') break
          let n = 2
          while (n < value.length && isDigitAt(value, n)) n++
          nsec = parseNanoseconds(value, n)
          value = value.slice(n)
        }
        break
      }
      case 'PM':
      case 'pm': {
        if (value.length < 2) throw new ParseError('bad am/pm')
        const p = value.slice(0, 2)
        value = value.slice(2)
        if (p === (std === 'PM' ? 'PM' : 'pm')) pm = true
        else if (p === (std === 'PM' ? 'AM' : 'am')) am = true
        else throw new ParseError('bad am/pm')
        break
      }
      case 'MST': {
        if (value.startsWith('UTC')) {
          utc = true
          value = value.slice(3)
          break
        }
        const n = parseTimeZone(value)
        if (n === 0) throw new ParseError('bad zone')
        value = value.slice(n)
        break
      }
      case 'frac0': {
        const ndigit = 1 + (chunk.digits ?? 0)
        if (value.length < ndigit) throw new ParseError('bad fraction')
        nsec = parseNanoseconds(value, ndigit)
        value = value.slice(ndigit)
        break
      }
      case 'frac9': {
        if (value.length < 2 || (value[0] !== '.' && value[0] !== ',') || !isDigitAt(value, 1)) break
        let i = 0
        while (i + 1 < value.length && isDigitAt(value, i + 1)) i++
        nsec = parseNanoseconds(value, 1 + i)
        value = value.slice(1 + i)
        break
      }
      default: {
        if (std.startsWith('Z') && value[0] === 'Z') {
          utc = true
          value = value.slice(1)
          break
        }
        let sign: string, hh: string, mm: string, ss: string
        const colon = std.includes(':')
        if (std === 'Z07:00' || std === '-07:00') {
          if (value.length < 6 || value[3] !== ':') throw new ParseError('bad zone')
          ;[sign, hh, mm, ss, value] = [value.slice(0, 1), value.slice(1, 3), value.slice(4, 6), '00', value.slice(6)]
        } else if (std === 'Z07' || std === '-07') {
          if (value.length < 3) throw new ParseError('bad zone')
          ;[sign, hh, mm, ss, value] = [value.slice(0, 1), value.slice(1, 3), '00', '00', value.slice(3)]
        } else if (colon) {
          if (value.length < 9 || value[3] !== ':' || value[6] !== ':') throw new ParseError('bad zone')
          ;[sign, hh, mm, ss, value] = [value.slice(0, 1), value.slice(1, 3), value.slice(4, 6), value.slice(7, 9), value.slice(9)]
        } else if (std === 'Z070000' || std === '-070000') {
          if (value.length < 7) throw new ParseError('bad zone')
          ;[sign, hh, mm, ss, value] = [value.slice(0, 1), value.slice(1, 3), value.slice(3, 5), value.slice(5, 7), value.slice(7)]
        } else {
          if (value.length < 5) throw new ParseError('bad zone')
          ;[sign, hh, mm, ss, value] = [value.slice(0, 1), value.slice(1, 3), value.slice(3, 5), '00', value.slice(5)]
        }
        const [h] = getnum(hh, true)
        const [m] = getnum(mm, true)
        const [s] = getnum(ss, true)
        if (h > 24 || m > 60 || s > 60) throw new ParseError('zone offset out of range')
        zoneOffset = (h * 60 + m) * 60 + s
        if (sign === '-') zoneOffset = -zoneOffset
        else if (sign !== '+') throw new ParseError('bad zone')
      }
    }
  }
  if (pm && hour < 12) hour += 12
  else if (am && hour === 12) hour = 0
  if (yday >= 0) {
    let d = 0
    let m = 0
    if (isLeap(year)) {
      if (yday === 31 + 29) {
        m = 2
        d = 29
      } else if (yday > 31 + 29) yday--
    }
    if (yday < 1 || yday > 365) throw new ParseError('day-of-year out of range')
    if (m === 0) {
      m = Math.floor((yday - 1) / 31) + 1
      if ((DAYS_BEFORE[m] as number) < yday) m++
      d = yday - (DAYS_BEFORE[m - 1] as number)
    }
    if (month >= 0 && month !== m) throw new ParseError('day-of-year does not match month')
    month = m
    if (day >= 0 && day !== d) throw new ParseError('day-of-year does not match day')
    day = d
  } else {
    if (month < 0) month = 1
    if (day < 0) day = 1
  }
  if (day < 1 || day > daysIn(month, year)) throw new ParseError('day out of range')
  let ns = fromWall(year, month, day, hour, min, sec, nsec, UTC)
  // A zone abbreviation (MST, GMT+3) names a zone Go does not know in UTC: the instant stays as read.
  if (!utc && zoneOffset !== undefined) ns -= BigInt(zoneOffset) * NS_PER_S
  return ns
}

const UNITS: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n,
  'μs': 1_000n,
  ms: 1_000_000n,
  s: NS_PER_S,
  m: 60n * NS_PER_S,
  h: 3600n * NS_PER_S,
  // OPA's extension of Go's units.
  d: 86_400n * NS_PER_S,
  w: 7n * 86_400n * NS_PER_S,
  y: 365n * 86_400n * NS_PER_S,
}

/** Go's `time.ParseDuration` → ns, with OPA's extra units `d`, `w` and `y`. */
export function parseDuration(input: string): bigint {
  let s = input
  let neg = false
  if (s !== '' && (s[0] === '-' || s[0] === '+')) {
    neg = s[0] === '-'
    s = s.slice(1)
  }
  if (s === '0') return 0n
  if (s === '') throw new ParseError(`invalid duration ${input}`)
  let d = 0n
  while (s !== '') {
    if (!(s[0] === '.' || isDigitAt(s, 0))) throw new ParseError(`invalid duration ${input}`)
    const before = s.length
    let v: bigint
    ;[v, s] = leadingInt(s)
    const pre = before !== s.length
    let f = 0n
    let scale = 1
    let post = false
    if (s[0] === '.') {
      s = s.slice(1)
      const pl = s.length
      let i = 0
      let overflow = false
      for (; i < s.length && isDigitAt(s, i); i++) {
        if (overflow) continue
        if (f > (2n ** 63n - 1n) / 10n) {
          overflow = true
          continue
        }
        const y = f * 10n + BigInt(s.charCodeAt(i) - 48)
        if (y > 2n ** 63n) {
          overflow = true
          continue
        }
        f = y
        scale *= 10
      }
      s = s.slice(i)
      post = pl !== s.length
    }
    if (!pre && !post) throw new ParseError(`invalid duration ${input}`)
    let i = 0
    for (; i < s.length; i++) if (s[i] === '.' || isDigitAt(s, i)) break
    if (i === 0) throw new ParseError(`missing unit in duration ${input}`)
    const unit = UNITS[s.slice(0, i)]
    s = s.slice(i)
    if (unit === undefined) throw new ParseError(`unknown unit in duration ${input}`)
    if (v > 2n ** 63n / unit) throw new ParseError(`invalid duration ${input}`)
    v *= unit
    if (f > 0n) {
      v += BigInt(Math.trunc(Number(f) * (Number(unit) / scale)))
      if (v > 2n ** 63n) throw new ParseError(`invalid duration ${input}`)
    }
    d += v
    if (d > 2n ** 63n) throw new ParseError(`invalid duration ${input}`)
  }
  if (neg) return -d
  if (d > 2n ** 63n - 1n) throw new ParseError(`invalid duration ${input}`)
  return d
}
