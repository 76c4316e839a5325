/**
 * OPA's `time.*` builtins over {@link ./go-time.ts}: `now_ns` (one value per evaluation), the
 * parsers, and the calendar functions taking `ns` or `[ns, tz]` / `[ns, tz, layout]`.
 *
 * @module
 */
import type { EvalContext } from '../wasm.ts'
import { checkRange, formatTime, fromWall, NAMED_LAYOUTS, parseDuration, parseTime, wall, weekdayName, zone, type Zone } from './go-time.ts'
import { exact, OperandError, smallInt, str } from './values.ts'

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

function nanos(v: unknown): bigint {
  if (typeof v === 'bigint') {
    if (v < INT64_MIN || v > INT64_MAX) throw new OperandError('timestamp too big')
    return v
  }
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new OperandError('timestamp too big')
  return BigInt(v)
}

/** OPA's `tzTime`: a number (ns, UTC) or `[ns, tz?, layout?]`. */
function tzTime(v: unknown): { ns: bigint; zone: Zone; layout: string } {
  if (Array.isArray(v)) {
    if (v.length === 0) throw new OperandError('operand 1 must be either number (ns) or [number (ns), string (tz)]')
    const ns = nanos(v[0])
    const z = v.length > 1 ? zone(str(v[1], 1)) : zone('UTC')
    const layout = v.length > 2 ? str(v[2], 1) : ''
    return { ns, zone: z, layout }
  }
  if (typeof v === 'number' || typeof v === 'bigint') return { ns: nanos(v), zone: zone('UTC'), layout: '' }
  throw new OperandError('operand 1 must be either number (ns) or [number (ns), string (tz)]')
}

export const timeBuiltins = {
  'time.now_ns': { fn: (ctx: EvalContext) => exact(ctx.nowNs()), context: true },
  'time.parse_ns': { fn: (layout: unknown, value: unknown) => exact(checkRange(parseTime(NAMED_LAYOUTS[str(layout, 1)] ?? str(layout, 1), str(value, 2)))) },
  'time.parse_rfc3339_ns': { fn: (value: unknown) => exact(checkRange(parseTime(NAMED_LAYOUTS.RFC3339 as string, str(value, 1)))) },
  'time.parse_duration_ns': { fn: (value: unknown) => exact(parseDuration(str(value, 1))) },
  'time.date': {
    fn: (x: unknown) => {
      const { ns, zone } = tzTime(x)
      const w = wall(ns, zone)
      return [w.year, w.month, w.day]
    },
  },
  'time.clock': {
    fn: (x: unknown) => {
      const { ns, zone } = tzTime(x)
      const w = wall(ns, zone)
      return [w.hour, w.minute, w.second]
    },
  },
  'time.weekday': {
    fn: (x: unknown) => {
      const { ns, zone } = tzTime(x)
      return weekdayName(wall(ns, zone))
    },
  },
  'time.format': {
    fn: (x: unknown) => {
      const { ns, zone, layout } = tzTime(x)
      const l = layout === '' ? (NAMED_LAYOUTS.RFC3339Nano as string) : (NAMED_LAYOUTS[layout] ?? layout)
      return formatTime(wall(ns, zone), l)
    },
  },
  'time.add_date': {
    fn: (x: unknown, years: unknown, months: unknown, days: unknown) => {
      const { ns, zone } = tzTime(x)
      const y = smallInt(years, 2)
      const m = smallInt(months, 3)
      const d = smallInt(days, 4)
      const w = wall(ns, zone)
      return exact(checkRange(fromWall(w.year + y, w.month + m, w.day + d, w.hour, w.minute, w.second, w.nanosecond, zone)))
    },
  },
  'time.diff': {
    fn: (a: unknown, b: unknown) => {
      const t1 = tzTime(a)
      const t2 = tzTime(b)
      let first = { ns: t1.ns, zone: t1.zone }
      let second = { ns: t2.ns, zone: t1.zone }
      if (first.ns > second.ns) [first, second] = [second, first]
      const w1 = wall(first.ns, first.zone)
      const w2 = wall(second.ns, second.zone)
      let year = w2.year - w1.year
      let month = w2.month - w1.month
      let day = w2.day - w1.day
      let hour = w2.hour - w1.hour
      let min = w2.minute - w1.minute
      let sec = w2.second - w1.second
      if (sec < 0) {
        sec += 60
        min--
      }
      if (min < 0) {
        min += 60
        hour--
      }
      if (hour < 0) {
        hour += 24
        day--
      }
      if (day < 0) {
        // Days in w1's month: day 32 of it rolls into the next month.
        const probe = new Date(0)
        probe.setUTCFullYear(w1.year, w1.month - 1, 32)
        day += 32 - probe.getUTCDate()
        month--
      }
      if (month < 0) {
        month += 12
        year--
      }
      return [year, month, day, hour, min, sec]
    },
  },
}
