/**
 * CIDR builtins OPA does not compile into WebAssembly: `net.cidr_is_valid`,
 * `net.cidr_contains_matches`, `net.cidr_expand` (at most 65 536 addresses) and `net.cidr_merge`,
 * with Go's `net.ParseIP` / `net.ParseCIDR` rules (no leading zeros in IPv4, no zones).
 *
 * @module
 */
import { parseRegoText, RegoNumber, type RegoValue } from './rego-text.ts'
import { OperandError, RegoSet, str } from './values.ts'

/** An address: 4 bytes (IPv4) or 16 bytes (IPv6), as one bigint. */
interface Ip {
  bits: 32 | 128
  value: bigint
}

interface Net {
  ip: Ip
  prefix: number
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.')
  if (parts.length !== 4) return undefined
  let v = 0n
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0') || Number(p) > 255) return undefined
    v = (v << 8n) | BigInt(p)
  }
  return v
}

function parseV6(s: string): bigint | undefined {
  if (s.includes('%')) return undefined
  let tail: bigint | undefined
  let text = s
  const lastColon = s.lastIndexOf(':')
  if (s.slice(lastColon + 1).includes('.')) {
    tail = parseV4(s.slice(lastColon + 1))
    if (tail === undefined) return undefined
    text = `${s.slice(0, lastColon + 1)}0:0`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const groups = (h: string) => (h === '' ? [] : h.split(':'))
  const head = groups(halves[0] as string)
  const rest = halves.length === 2 ? groups(halves[1] as string) : []
  const total = head.length + rest.length
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined
  const all = [...head, ...Array(8 - total).fill('0'), ...rest]
  let v = 0n
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined
    v = (v << 16n) | BigInt(parseInt(g, 16))
  }
  if (tail !== undefined) v = (v & ~0xffffffffn) | tail
  return v
}

/** Go's net.ParseIP; IPv4-mapped IPv6 addresses are IPv4 (To4). */
export function parseIp(s: string): Ip | undefined {
  const v4 = parseV4(s)
  if (v4 !== undefined) return { bits: 32, value: v4 }
  if (!s.includes(':')) return undefined
  const v6 = parseV6(s)
  if (v6 === undefined) return undefined
  return { bits: 128, value: v6 }
}

const to4 = (ip: Ip): Ip | undefined => (ip.bits === 32 ? ip : ip.value >> 32n === 0xffffn ? { bits: 32, value: ip.value & 0xffffffffn } : undefined)

/** Go's net.ParseCIDR: the network (address masked) and its prefix length. */
export function parseCidr(s: string): Net | undefined {
  const slash = s.indexOf('/')
  if (slash < 0) return undefined
  const addr = s.slice(0, slash)
  const len = s.slice(slash + 1)
  const v4 = parseV4(addr)
  const ip: Ip | undefined = v4 !== undefined ? { bits: 32, value: v4 } : addr.includes(':') ? (() => {
    const v = parseV6(addr)
    return v === undefined ? undefined : ({ bits: 128, value: v } as Ip)
  })() : undefined
  if (ip === undefined || !/^\d{1,10}$/.test(len)) return undefined
  const prefix = Number(len)
  if (prefix > ip.bits) return undefined
  return { ip: { bits: ip.bits, value: ip.value & mask(ip.bits, prefix) }, prefix }
}

function mask(bits: number, prefix: number): bigint {
  const all = (1n << BigInt(bits)) - 1n
  return (all << BigInt(bits - prefix)) & all
}

/** Go's IPNet.Contains: IPv4 nets contain IPv4 (and IPv4-mapped) addresses only. */
function contains(net: Net, ip: Ip): boolean {
  let n = net
  if (n.ip.bits === 128 && n.ip.value >> 32n === 0xffffn) n = { ip: { bits: 32, value: n.ip.value & 0xffffffffn }, prefix: Math.max(0, n.prefix - 96) }
  const x = to4(ip) ?? ip
  if (x.bits !== n.ip.bits) return false
  return (x.value & mask(n.ip.bits, n.prefix)) === n.ip.value
}

function lastIp(net: Net): Ip {
  return { bits: net.ip.bits, value: net.ip.value | (((1n << BigInt(net.ip.bits)) - 1n) >> BigInt(net.prefix)) }
}

/** net.cidr_contains(a, b) as OPA computes it. */
function cidrContains(a: string, b: string): boolean {
  const net = parseCidr(a)
  if (net === undefined) throw new OperandError('invalid CIDR')
  const ip = parseIp(b)
  if (ip !== undefined) return contains(net, ip)
  const other = parseCidr(b)
  if (other === undefined) throw new OperandError(`not a valid textual representation of an IP address or CIDR: ${b}`)
  return contains(net, other.ip) && contains(net, lastIp(other))
}

/** Go's net.IP.String(). */
export function formatIp(ip: Ip): string {
  if (ip.bits === 32) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.')
  if (ip.value >> 32n === 0xffffn) return formatIp({ bits: 32, value: ip.value & 0xffffffffn })
  const groups: number[] = []
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.value >> BigInt(i * 16)) & 0xffffn))
  // Longest run (≥ 2) of zero groups becomes '::'.
  let best = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      best = i
      bestLen = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (best < 0) return hex.join(':')
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`
}

const formatNet = (n: Net) => `${formatIp(n.ip)}/${n.prefix}`

/** Elements of a contains_matches operand: [cidr, key] pairs (array: index, set: element, object: key). */
function operandItems(v: RegoValue): Array<[string, RegoValue]> {
  const cidrOf = (x: RegoValue): string => {
    if (typeof x === 'string') return x
    if (Array.isArray(x) && x.length > 0 && typeof x[0] === 'string') return x[0]
    throw new OperandError('element must be string or non-empty array')
  }
  if (typeof v === 'string') return [[v, v]]
  if (Array.isArray(v)) return v.map((x, i) => [cidrOf(x), new RegoNumber(String(i))])
  if (v instanceof RegoSet) return (v.items as RegoValue[]).map((x) => [cidrOf(x), x])
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [cidrOf(x), k])
  return []
}

/** A Rego value back to the value text the runtime loads (numbers, sets kept). */
function regoToPlain(v: RegoValue): unknown {
  if (v instanceof RegoNumber) return /^-?\d+$/.test(v.text) ? Number(v.text) : Number(v.text)
  if (Array.isArray(v)) return v.map(regoToPlain)
  if (v instanceof RegoSet) return new RegoSet((v.items as RegoValue[]).map(regoToPlain))
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [k, regoToPlain(x)]))
  return v
}

/** Go's net.IP.DefaultMask (classful) for an IPv4 address. */
function defaultPrefix(v4: bigint): number | undefined {
  const first = Number(v4 >> 24n)
  if (first < 0x80) return 8
  if (first < 0xc0) return 16
  if (first < 0xe0) return 24
  return undefined
}

interface Range {
  first: bigint
  last: bigint
  bits: 32 | 128
  net?: string
}

/** Smallest list of CIDRs covering [first, last] (netaddr's range_to_cidrs). */
function rangeToCidrs(first: bigint, last: bigint, bits: 32 | 128): string[] {
  const out: string[] = []
  let cur = first
  while (cur <= last) {
    let size = 0
    while (size < bits) {
      const block = 1n << BigInt(size + 1)
      if (cur % block !== 0n || cur + block - 1n > last) break
      size++
    }
    out.push(formatNet({ ip: { bits, value: cur }, prefix: bits - size }))
    cur += 1n << BigInt(size)
  }
  return out
}

export const netBuiltins = {
  'net.cidr_is_valid': { fn: (x: unknown) => typeof x === 'string' && parseCidr(x) !== undefined },
  'net.cidr_contains_matches': {
    raw: true,
    fn: (a: string, b: string) => {
      const left = operandItems(parseRegoText(a))
      const right = operandItems(parseRegoText(b))
      const out: unknown[] = []
      const seen = new Set<string>()
      for (const [c1, k1] of left) {
        for (const [c2, k2] of right) {
          if (!cidrContains(c1, c2)) continue
          const pair = [regoToPlain(k1), regoToPlain(k2)]
          const key = JSON.stringify(pair, (_k, v) => (v instanceof RegoSet ? { set: v.items } : v))
          if (!seen.has(key)) {
            seen.add(key)
            out.push(pair)
          }
        }
      }
      return new RegoSet(out)
    },
  },
  'net.cidr_expand': {
    fn: (x: unknown) => {
      const net = parseCidr(str(x, 1))
      if (net === undefined) throw new OperandError('invalid CIDR')
      const size = 1n << BigInt(net.ip.bits - net.prefix)
      if (size > 65_536n) throw new OperandError('net.cidr_expand: more than 65536 addresses')
      const out: string[] = []
      for (let i = 0n; i < size; i++) out.push(formatIp({ bits: net.ip.bits, value: net.ip.value + i }))
      return new RegoSet(out)
    },
  },
  'net.cidr_merge': {
    fn: (x: unknown) => {
      if (!Array.isArray(x)) throw new OperandError('operand must be an array')
      const ranges: Range[] = []
      for (const e of x) {
        if (typeof e !== 'string') throw new OperandError('element must be string')
        const ip = parseIp(e)
        let net: Net | undefined
        let display: string
        if (ip === undefined) {
          net = parseCidr(e)
          if (net === undefined) throw new OperandError('invalid CIDR')
          display = formatNet(net)
        } else {
          const v4 = to4(ip)
          if (v4 === undefined) throw new OperandError('IPv6 invalid: needs prefix length')
          const prefix = defaultPrefix(v4.value)
          if (prefix === undefined) throw new OperandError('IPv4 address without a default mask')
          // Go keeps the address unmasked in the IPNet it prints.
          display = `${formatIp(v4)}/${prefix}`
          net = { ip: { bits: 32, value: v4.value & mask(32, prefix) }, prefix }
        }
        const last = lastIp(net)
        ranges.push({ first: net.ip.value, last: last.value, bits: net.ip.bits, net: display })
      }
      // Sort by last address, then first (bytes order: IPv4 before IPv6 of the same numeric value is not a concern in practice).
      const key = (r: Range) => (r.bits === 32 ? [0, r.last, r.first] : [1, r.last, r.first]) as [number, bigint, bigint]
      ranges.sort((a, b) => {
        const [ab, al, af] = key(a)
        const [bb, bl, bf] = key(b)
        if (ab !== bb) return ab - bb
        if (al !== bl) return al < bl ? -1 : 1
        return af < bf ? -1 : af > bf ? 1 : 0
      })
      for (let i = ranges.length - 1; i > 0; i--) {
        const cur = ranges[i] as Range
        const prev = ranges[i - 1] as Range
        if (cur.bits !== prev.bits) continue
        if (cur.first - 1n <= prev.last) {
          ranges[i - 1] = { first: prev.first < cur.first ? prev.first : cur.first, last: cur.last, bits: cur.bits }
          ranges.splice(i, 1)
        }
      }
      const out = new Set<string>()
      for (const r of ranges) for (const c of r.net !== undefined ? [r.net] : rangeToCidrs(r.first, r.last, r.bits)) out.add(c)
      return new RegoSet([...out])
    },
  },
}
