/**
 * Zone abbreviations ("CET", "JST") from the system time zone database (`/usr/share/zoneinfo`,
 * TZif files), which is where Go's `time` package reads them; `Intl` only knows a few. Used by the
 * `MST` element of `time.format` layouts. Without the database, callers fall back to numeric names.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

interface ZoneInfo {
  transitions: bigint[]
  types: number[]
  infos: Array<{ offset: number; abbreviation: string }>
}

const cache = new Map<string, ZoneInfo | null>()

function parse(buf: Buffer): ZoneInfo | null {
  if (buf.toString('latin1', 0, 4) !== 'TZif') return null
  const counts = (at: number) => ({ isut: buf.readUInt32BE(at + 20), isstd: buf.readUInt32BE(at + 24), leap: buf.readUInt32BE(at + 28), time: buf.readUInt32BE(at + 32), type: buf.readUInt32BE(at + 36), char: buf.readUInt32BE(at + 40) })
  let at = 0
  let c = counts(at)
  let timeSize = 4
  if (buf[4] !== 0) {
    // Version 2+: skip the 32-bit block, read the 64-bit one.
    at = 44 + c.time * 4 + c.time + c.type * 6 + c.char + c.leap * 8 + c.isstd + c.isut
    c = counts(at)
    timeSize = 8
  }
  let p = at + 44
  const transitions: bigint[] = []
  for (let i = 0; i < c.time; i++, p += timeSize) transitions.push(timeSize === 8 ? buf.readBigInt64BE(p) : BigInt(buf.readInt32BE(p)))
  const types: number[] = []
  for (let i = 0; i < c.time; i++, p++) types.push(buf[p] as number)
  const raw: Array<{ offset: number; index: number }> = []
  for (let i = 0; i < c.type; i++, p += 6) raw.push({ offset: buf.readInt32BE(p), index: buf[p + 5] as number })
  const chars = buf.subarray(p, p + c.char)
  const infos = raw.map((r) => {
    const end = chars.indexOf(0, r.index)
    return { offset: r.offset, abbreviation: chars.toString('latin1', r.index, end < 0 ? undefined : end) }
  })
  return { transitions, types, infos }
}

function load(zone: string): ZoneInfo | null {
  if (cache.has(zone)) return cache.get(zone) as ZoneInfo | null
  let info: ZoneInfo | null = null
  if (/^[A-Za-z0-9_+\-]+(\/[A-Za-z0-9_+\-]+)*$/.test(zone)) {
    for (const dir of [process.env.ZONEINFO, '/usr/share/zoneinfo', '/usr/lib/zoneinfo', '/usr/share/lib/zoneinfo']) {
      if (dir === undefined || dir === '') continue
      try {
        info = parse(readFileSync(join(dir, zone)))
        if (info !== null) break
      } catch {
        // Try the next folder.
      }
    }
  }
  cache.set(zone, info)
  return info
}

/**
 * The abbreviation of `zone` at an instant with the given offset: the zone type in effect (from
 * the transition table), or beyond the table the most recent type with that offset.
 */
export function zoneAbbreviation(zone: string, epochSeconds: number, offset: number): string | undefined {
  const info = load(zone)
  if (info === null || info.infos.length === 0) return undefined
  const t = BigInt(Math.floor(epochSeconds))
  const { transitions, types, infos } = info
  if (transitions.length > 0 && t >= (transitions[0] as bigint) && t < (transitions[transitions.length - 1] as bigint)) {
    let lo = 0
    let hi = transitions.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if ((transitions[mid] as bigint) <= t) lo = mid
      else hi = mid - 1
    }
    const type = infos[types[lo] as number]
    if (type !== undefined && type.offset === offset) return type.abbreviation
  }
  for (let i = types.length - 1; i >= 0; i--) {
    const type = infos[types[i] as number]
    if (type !== undefined && type.offset === offset) return type.abbreviation
  }
  return infos.find((i) => i.offset === offset)?.abbreviation
}
