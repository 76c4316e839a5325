/**
 * Property (fast-check, fixed seed, bounded runs): whatever spelling a client uses for a resource
 * URI — case, dot segments, percent-encoded dots, userinfo, empty or default ports, tabs and
 * newlines, surrounding whitespace or controls, backslashes, doubled slashes, suffixes,
 * percent-encoding — the decision on the raw message equals the decision on the URI `McpServer`
 * resolves (`new URL(raw).href`), and the message handed on carries exactly that URI; or the call
 * is refused with -32602. Through the compiled WASM policy.
 * Longer runs: FUZZ_RUNS=100000 FUZZ_SEED=<n> node --test test/fuzz/resource-uri.property.test.ts
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import fc from 'fast-check'
import { createAuthz, type Authz } from '../../src/authz.ts'
import type { Principal } from '../../src/contracts/principal.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'

const seed = Number(process.env.FUZZ_SEED ?? 20261123)
const numRuns = Number(process.env.FUZZ_RUNS ?? 1000)

const data = {
  mcp_authz: {
    ...testData.mcp_authz,
    resources: [
      { prefix: 'notes://', scopes: ['notes:read'] },
      { prefix: 'notes://private/', scopes: ['notes:private'] },
      { prefix: 'file:///srv/public/', scopes: ['files:read'] },
      { prefix: 'file:///srv/secret/', scopes: ['files:secret'] },
      { prefix: 'https://docs.example.com/public', scopes: ['docs:read'] },
      { prefix: 'https://docs.example.com/internal', scopes: ['docs:internal'] },
    ],
  },
}
const reader: Principal = { ...testPrincipal, scopes: ['docs:read', 'files:read', 'notes:read'] }
const BASES = ['notes://private/plan', 'notes://public/a', 'file:///srv/secret/key', 'file:///srv/public/a', 'https://docs.example.com/internal/roadmap', 'https://docs.example.com/public/a']

/** Index just after the authority (where the path starts). */
function pathStart(uri: string): number {
  const s = uri.indexOf('//')
  if (s < 0) return uri.indexOf(':') + 1
  const p = uri.indexOf('/', s + 2)
  return p < 0 ? uri.length : p
}
function hostRange(uri: string): [number, number] {
  const s = uri.indexOf('//')
  return s < 0 ? [0, 0] : [s + 2, pathStart(uri)]
}
function slashesInPath(uri: string): number[] {
  const out: number[] = []
  for (let i = pathStart(uri); i < uri.length; i++) if (uri[i] === '/') out.push(i)
  return out.length > 0 ? out : [uri.length]
}
const pick = <T>(xs: readonly T[], n: number): T => xs[n % xs.length]!
const insert = (s: string, at: number, what: string) => s.slice(0, at) + what + s.slice(at)

type Op = (uri: string, n: number) => string
const OPS: Record<string, Op> = {
  schemeCase: (u, n) => u.replace(/^[a-z]+/, (m) => [...m].map((c, i) => ((n >> i) & 1 ? c.toUpperCase() : c)).join('')),
  hostCase: (u, n) => {
    const [a, b] = hostRange(u)
    return u.slice(0, a) + [...u.slice(a, b)].map((c, i) => ((n >> i) & 1 ? c.toUpperCase() : c)).join('') + u.slice(b)
  },
  anyCase: (u, n) => {
    const i = n % u.length
    return u.slice(0, i) + u[i]!.toUpperCase() + u.slice(i + 1)
  },
  dot: (u, n) => insert(u, pick(slashesInPath(u), n) + 1, pick(['./', '%2e/', '%2E/'], n >> 4)),
  dotdot: (u, n) => insert(u, pick(slashesInPath(u), n) + 1, `${pick(['junk', 'private', 'public', 'secret', 'internal'], n >> 3)}/${pick(['..', '%2e%2e', '%2E%2e', '.%2e', '%2e.', '.%2E'], n >> 6)}/`),
  dotdotUp: (u, n) => insert(u, pick(slashesInPath(u), n) + 1, `${pick(['..', '%2e%2e', '.%2E'], n >> 3)}/`),
  trailingDotdot: (u, n) => `${u}/${pick(['..', '%2e%2e', '.', '../..'], n)}`,
  userinfo: (u, n) => (u.includes('//') ? insert(u, u.indexOf('//') + 2, pick(['user@', 'user:pw@', '@', ':@', 'private@', 'docs.example.com@'], n)) : u),
  emptyPort: (u) => insert(u, hostRange(u)[1], ':'),
  port: (u, n) => insert(u, hostRange(u)[1], pick([':443', ':80', ':0443', ':8443'], n)),
  control: (u, n) => insert(u, n % (u.length + 1), pick(['\t', '\n', '\r'], n >> 8)),
  edges: (u, n) => pick([` ${u}`, `${u} `, `\u0000${u}`, `${u}\u001f`, `\t${u}`, ` ${u} `], n),
  backslash: (u, n) => {
    const i = pick(slashesInPath(u), n)
    return u[i] === '/' ? `${u.slice(0, i)}\\${u.slice(i + 1)}` : u
  },
  doubleSlash: (u, n) => insert(u, pick(slashesInPath(u), n), '/'),
  suffix: (u, n) => u + pick(['?q', '#f', '?', '#', '/', '?x=../../private', '#/../x'], n),
  encode: (u, n) => {
    const start = pathStart(u) + 1
    if (start >= u.length) return u
    const i = start + (n % (u.length - start))
    const hex = u.charCodeAt(i).toString(16).padStart(2, '0')
    return `${u.slice(0, i)}%${(n >> 8) & 1 ? hex.toUpperCase() : hex}${u.slice(i + 1)}`
  },
}

const mutated = fc
  .tuple(fc.constantFrom(...BASES), fc.array(fc.tuple(fc.constantFrom(...Object.keys(OPS)), fc.nat()), { minLength: 1, maxLength: 4 }))
  .map(([base, ops]) => ops.reduce<string>((u, [op, n]) => OPS[op]!(u, n), base))

const read = (uri: string, method = 'resources/read') => ({ jsonrpc: '2.0', id: 1, method, params: { uri } })

describe('property: a resource is decided on the URI the server resolves, whatever its spelling', () => {
  let authz: Authz
  before(async () => {
    authz = await createAuthz({ bundle: await buildTestBundle(data) })
  })

  test(`decide(raw) = decide(new URL(raw).href), and the message carries it (${numRuns} runs, seed ${seed})`, () => {
    const seen = { refused: 0, rewritten: 0, allowed: 0, denied: 0 }
    fc.assert(
      fc.property(mutated, fc.constantFrom('resources/read', 'resources/subscribe', 'resources/unsubscribe'), (raw, method) => {
        const r = authz.decide(reader, read(raw, method))
        let resolved: string | undefined
        try {
          resolved = new URL(raw).href
        } catch {
          resolved = undefined
        }
        if (r.status === 400) {
          assert.equal(r.jsonRpcError?.code, -32602, `refused ${JSON.stringify(raw)} with ${JSON.stringify(r.jsonRpcError)}`)
          seen.refused++
          return
        }
        assert.ok(resolved !== undefined, `decided a URI the SDK cannot parse: ${JSON.stringify(raw)}`)
        assert.equal(r.action?.uri, resolved, 'the policy decided on the resolved URI')
        assert.equal((r.message?.params as { uri?: unknown } | undefined)?.uri, resolved, 'the handler receives the resolved URI')
        assert.equal(new URL(resolved).href, resolved, 'the SDK resolves the handed URI to itself')
        const direct = authz.decide(reader, read(resolved, method))
        assert.equal(r.allow, direct.allow, `${JSON.stringify(raw)} → ${resolved}`)
        assert.deepEqual(r.reasons, direct.reasons)
        assert.deepEqual(r.requiredScopes, direct.requiredScopes)
        if (resolved !== raw) seen.rewritten++
        if (r.allow) seen.allowed++
        else seen.denied++
      }),
      { seed, numRuns },
    )
    assert.ok(seen.refused > 0 && seen.rewritten > 0 && seen.allowed > 0 && seen.denied > 0, `every outcome explored: ${JSON.stringify(seen)}`)
    console.log(`resource URI mutations: ${numRuns} runs, ${JSON.stringify(seen)}, 0 disagreements`)
  })

  test('completion references: decide(raw template) = decide(canonical template)', () => {
    const templates = fc.tuple(fc.constantFrom('notes://private/{id}', 'notes://{folder}/{id}', 'file:///srv/secret/{name}', 'https://docs.example.com/internal/{page}{?q}'), fc.array(fc.tuple(fc.constantFrom('schemeCase', 'hostCase', 'dot', 'emptyPort', 'control', 'userinfo', 'suffix', 'port'), fc.nat()), { minLength: 1, maxLength: 3 }))
      .map(([base, ops]) => ops.reduce<string>((u, [op, n]) => OPS[op]!(u, n), base))
    const complete = (uri: string) => ({ jsonrpc: '2.0', id: 2, method: 'completion/complete', params: { ref: { type: 'ref/resource', uri }, argument: { name: 'id', value: '' } } })
    fc.assert(
      fc.property(templates, (raw) => {
        const r = authz.decide(reader, complete(raw))
        if (r.status === 400) return assert.equal(r.jsonRpcError?.code, -32602)
        const handed = (r.message?.params as { ref: { uri: string } }).ref.uri
        assert.equal(r.action?.uri, handed)
        const direct = authz.decide(reader, complete(handed))
        assert.equal(direct.action?.uri, handed, 'canonical templates are fixed points')
        assert.equal(r.allow, direct.allow)
        assert.deepEqual(r.reasons, direct.reasons)
      }),
      { seed, numRuns: Math.ceil(numRuns / 4) },
    )
  })
})
