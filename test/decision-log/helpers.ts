/**
 * Fixtures of the decision-log tests: sample events, realistic secrets, a loopback collector.
 *
 * @module
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { gunzipSync } from 'node:zlib'
import type { DecisionEvent } from '../../src/decision-log/record.ts'
import type { PolicyInput } from '../../src/policy/decision.ts'

/** A deterministic generator (mulberry32), for jitter and sampling in tests. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const rnd = seeded(7)
/** Random characters from an alphabet (deterministic across runs). */
export function chars(n: number, alphabet = ALNUM, random = rnd): string {
  let s = ''
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(random() * alphabet.length)]
  return s
}
/** Random alphanumerics guaranteed to mix upper, lower and digits. */
export function mixed(n: number, random = rnd): string {
  return `A1b${chars(n - 3, ALNUM, random)}`
}

export const B64URL = `${ALNUM}-_`
export const B64 = `${ALNUM}+/`

/** A JWT-shaped token with a real JOSE header. */
export function makeJwt(random = rnd): string {
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'at+jwt', kid: chars(8, ALNUM, random) })).toString('base64url')
  const payload = Buffer.from(JSON.stringify({ iss: 'https://as.example', sub: chars(10, ALNUM, random), aud: 'https://mcp.example/mcp', exp: 1_900_000_000 })).toString('base64url')
  return `${header}.${payload}.${chars(86, B64URL, random)}`
}

/** A PEM private key block. */
export function makePem(random = rnd, label = 'RSA PRIVATE KEY'): string {
  const lines = Array.from({ length: 6 }, () => chars(64, B64, random))
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----`
}

/** Kinds of planted secrets: `secret` is what must disappear, `text` is what gets planted. */
export interface Planted {
  kind: string
  secret: string
  text: string
}

/** Realistic secrets of every pattern kind (the property test picks among them). */
export const SECRET_MAKERS: Record<string, (random: () => number) => Planted> = {
  jwt: (r) => {
    const s = makeJwt(r)
    return { kind: 'jwt', secret: s, text: s }
  },
  bearer: (r) => {
    const s = `${mixed(32, r)}`
    return { kind: 'bearer', secret: s, text: `Authorization: Bearer ${s}` }
  },
  private_key: (r) => {
    const s = makePem(r)
    return { kind: 'private_key', secret: s.split('\n')[2] as string, text: s }
  },
  aws_access_key_id: (r) => {
    const s = `AKIA${chars(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', r)}`
    return { kind: 'aws_access_key_id', secret: s, text: s }
  },
  aws_secret_access_key: (r) => {
    const s = chars(40, `${ALNUM}/+`, r)
    return { kind: 'aws_secret_access_key', secret: s, text: `export AWS_SECRET_ACCESS_KEY=${s}` }
  },
  github_token: (r) => {
    const s = `ghp_${chars(36, ALNUM, r)}`
    return { kind: 'github_token', secret: s, text: s }
  },
  github_pat: (r) => {
    const s = `github_pat_${chars(22, ALNUM, r)}_${chars(59, ALNUM, r)}`
    return { kind: 'github_token', secret: s, text: s }
  },
  slack_token: (r) => {
    const s = `xoxb-${chars(12, '0123456789', r)}-${chars(13, '0123456789', r)}-${chars(24, ALNUM, r)}`
    return { kind: 'slack_token', secret: s, text: s }
  },
  slack_webhook: (r) => {
    const s = `T${chars(8, 'ABCDEFGHIJ0123456789', r)}/B${chars(8, 'ABCDEFGHIJ0123456789', r)}/${chars(24, ALNUM, r)}`
    return { kind: 'slack_webhook', secret: s, text: `https://hooks.slack.com/services/${s}` }
  },
  stripe_key: (r) => {
    const s = `sk_live_${chars(24, ALNUM, r)}`
    return { kind: 'stripe_key', secret: s, text: s }
  },
  openai_key: (r) => {
    const s = `sk-proj-${mixed(48, r)}`
    return { kind: 'openai_key', secret: s, text: s }
  },
  google_api_key: (r) => {
    const s = `AIza${chars(35, B64URL, r)}`
    return { kind: 'google_api_key', secret: s, text: s }
  },
  url_credentials: (r) => {
    const s = mixed(16, r)
    return { kind: 'url_credentials', secret: s, text: `postgres://app:${s}@db.internal:5432/main` }
  },
  secret_assignment: (r) => {
    const s = mixed(14, r)
    return { kind: 'secret_assignment', secret: s, text: `https://api.example/v1?client=x&api_key=${s}&page=2` }
  },
}

/** A principal as verification produces it. */
export function samplePrincipal(): PolicyInput['principal'] {
  return {
    subject: 'alice',
    clientId: 'notes-desktop',
    issuer: 'https://as.example',
    tenant: 'acme',
    audience: ['https://mcp.example/mcp'],
    scopes: ['notes:read', 'notes:write'],
    authMethod: 'jwt',
    expiresAt: 1_900_000_000,
    issuedAt: 1_899_996_400,
    tokenId: 'jti-5f0c2a',
    claims: { roles: ['editor'] },
  }
}

/** A sample event: a denied `tools/call` with arguments holding secrets. */
export function sampleEvent(overrides: Partial<DecisionEvent> = {}): DecisionEvent {
  return {
    decisionId: '4ca636c1-55e4-417a-b1d8-4aceb67960d1',
    timestamp: new Date('2025-11-25T10:00:00.123Z'),
    path: 'mcp/authz/decision',
    input: {
      principal: samplePrincipal(),
      action: {
        method: 'tools/call',
        kind: 'tool',
        name: 'create_note',
        id: 7,
        arguments: { title: 'Groceries', body: 'milk, eggs', password: 'hunter2hunter2' },
      },
      server: { resource: 'https://mcp.example/mcp', name: 'notes' },
      context: { time_ns: 1_764_064_800_123_000_000, transport: 'http', request_id: 'req-1' },
    },
    result: {
      allow: false,
      reasons: [{ code: 'insufficient_scope', message: 'tool create_note needs notes:admin' }],
      required_scopes: ['notes:admin'],
    },
    revision: '2025-11-25T09:00:00Z',
    metrics: { verify_ns: 12_000, eval_ns: 41_000, total_ns: 90_500 },
    enforcement: 'enforced',
    wouldAllow: false,
    httpStatus: 403,
    transport: 'http',
    ...overrides,
  }
}

/** An allowed `tools/call` event. */
export function allowEvent(method = 'tools/call', overrides: Partial<DecisionEvent> = {}): DecisionEvent {
  const base = sampleEvent()
  return {
    ...base,
    input: { ...(base.input as PolicyInput), action: { method, kind: method === 'tools/call' ? 'tool' : method === 'ping' ? 'session' : 'list', name: 'search' } },
    result: { allow: true, reasons: [], required_scopes: [] },
    wouldAllow: true,
    httpStatus: 200,
    ...overrides,
  }
}

/**
 * The least CPU time (user + system, in ms) of `runs` calls of `fn`. CPU time, not wall time: on a
 * busy machine a long call is preempted more often than a short one, which would skew a ratio.
 */
export function fastest(fn: () => unknown, runs = 5): number {
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < runs; i++) {
    const start = process.cpuUsage()
    fn()
    const used = process.cpuUsage(start)
    best = Math.min(best, (used.user + used.system) / 1000)
  }
  return best
}

/**
 * How much slower `fn(make(16 n))` is than `fn(make(n))`: about 16 for linear work, 256 or more for
 * quadratic. A ratio in the same run, so a loaded machine slows both sides alike; `n` is doubled
 * first (up to `maxN`) until the small side takes 5 ms, so timer noise stays small.
 */
export function growth<T>(make: (n: number) => T, n: number, fn: (input: T) => unknown, maxN = 1_000_000): number {
  let small = make(n)
  fn(small)
  while (fastest(() => fn(small), 3) < 5 && n * 2 <= maxN) {
    n *= 2
    small = make(n)
    fn(small)
  }
  const large = make(16 * n)
  fn(large)
  return fastest(() => fn(large)) / Math.max(1, fastest(() => fn(small)))
}

/** Polls a condition every 5 ms, failing after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

/** A loopback OPA-style decision-log collector that gunzips and counts. */
export interface Collector {
  url: string
  /** Records of each accepted (2xx) batch. */
  batches: unknown[][]
  /** Every request seen (before the handler's answer). */
  requests: { headers: IncomingMessage['headers']; records: unknown[] }[]
  /** Requests being held (by a `hold` answer). */
  held: ServerResponse[]
  /** Answers held requests with 200 (their batches are then accepted). */
  release(): void
  close(): Promise<void>
}

/** What the collector answers to request number `n` (0-based): a status, or `hold` to never answer until released. */
export type CollectorPlan = (n: number) => number | 'hold' | { status: number; headers?: Record<string, string> }

export async function startCollector(plan: CollectorPlan = () => 204): Promise<Collector> {
  const batches: unknown[][] = []
  const requests: Collector['requests'] = []
  const held: ServerResponse[] = []
  const heldRecords = new Map<ServerResponse, unknown[]>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      let records: unknown[] = []
      try {
        records = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as unknown[]
      } catch {
        res.writeHead(400).end()
        return
      }
      const n = requests.length
      requests.push({ headers: req.headers, records })
      const answer = plan(n)
      if (answer === 'hold') {
        held.push(res)
        heldRecords.set(res, records)
        return
      }
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer
      if (status >= 200 && status < 300) batches.push(records)
      res.writeHead(status, headers).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/logs`,
    batches,
    requests,
    held,
    release() {
      for (const res of held.splice(0)) {
        batches.push(heldRecords.get(res) ?? [])
        if (!res.destroyed) res.writeHead(200).end()
      }
    },
    async close() {
      for (const res of held.splice(0)) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A loopback URL where nothing listens. */
export async function deadUrl(): Promise<string> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}/logs`
}
