// 11.5 / 11.10: the session table — owner checks, bounds per principal, in total and in time (at
// their defaults too), eviction counters and listeners — one observable behaviour per test.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Registry } from 'prom-client'
import type { Principal } from '../../src/contracts/principal.ts'
import { principalKey, registerSessionMetrics, SessionBindings } from '../../src/mcp/index.ts'
import { staticPrincipal } from '../../src/verify/index.ts'

const alice = staticPrincipal({ subject: 'alice', scopes: [] })
const bob = staticPrincipal({ subject: 'bob', scopes: [] })
const user = (i: number): Principal => staticPrincipal({ subject: `user-${i}`, scopes: [] })

function clock(start = 1_000_000) {
  let now = start
  return { now: () => now, advance: (ms: number) => void (now += ms) }
}

describe('SessionBindings: owners', () => {
  it('a bound session belongs to its principal only; an unbound one is unknown', () => {
    const b = new SessionBindings()
    assert.equal(b.bind('s1', alice), true)
    assert.equal(b.owner('s1', alice), 'owner')
    assert.equal(b.owner('s1', bob), 'other')
    assert.equal(b.owner('s2', alice), 'unknown')
    assert.equal(b.has('s1'), true)
    assert.equal(b.has('s2'), false)
    assert.equal(b.size, 1)
  })

  it('the owner is issuer + subject + tenant: another issuer or tenant with the same subject is someone else', () => {
    const b = new SessionBindings()
    b.bind('s1', alice)
    assert.equal(b.owner('s1', { ...alice, issuer: 'https://other.example' }), 'other')
    assert.equal(b.owner('s1', { ...alice, tenant: 'globex' }), 'other')
    assert.equal(b.owner('s1', { ...alice, scopes: ['more'], tokenId: 'another-token' }), 'owner', 'a new token of the same principal')
    assert.equal(principalKey(alice), JSON.stringify([alice.issuer, 'alice', null]))
  })

  it('a session is never rebound to another principal', () => {
    const b = new SessionBindings()
    b.bind('s1', alice)
    assert.equal(b.bind('s1', bob), false)
    assert.equal(b.owner('s1', alice), 'owner')
    assert.equal(b.bind('s1', alice), true, 'binding again to the owner is fine')
    assert.equal(b.size, 1)
  })

  it('forget() ends a session without counting an eviction or telling listeners', () => {
    const b = new SessionBindings()
    const told: string[] = []
    b.onEvict((id) => told.push(id))
    b.bind('s1', alice)
    b.forget('s1')
    b.forget('never-bound')
    assert.equal(b.owner('s1', alice), 'unknown')
    assert.deepEqual(told, [])
    assert.deepEqual(b.stats(), { sessions: 0, principals: 0, evictions: { principal_limit: 0, idle: 0 }, refused: 0 })
  })

  it('stores a fixed-size digest of the principal, however long its identity', () => {
    const b = new SessionBindings()
    const long = { ...alice, subject: 'x'.repeat(100_000) }
    b.bind('s1', long)
    assert.equal(b.owner('s1', long), 'owner')
    assert.equal(b.owner('s1', { ...long, subject: `${'x'.repeat(99_999)}y` }), 'other')
  })
})

describe('SessionBindings: per principal', () => {
  it('one more than maxSessionsPerPrincipal forgets that principal’s least recently used session — and only its own', () => {
    const b = new SessionBindings({ maxSessionsPerPrincipal: 2 })
    const evicted: Array<[string, string]> = []
    b.onEvict((id, reason) => evicted.push([id, reason]))
    b.bind('bob-1', bob)
    b.bind('a1', alice)
    b.bind('a2', alice)
    assert.equal(b.owner('a1', alice), 'owner') // a1 is now more recently used than a2
    b.bind('a3', alice)
    assert.deepEqual(evicted, [['a2', 'principal_limit']])
    assert.equal(b.owner('a2', alice), 'unknown')
    assert.equal(b.owner('a1', alice), 'owner')
    assert.equal(b.owner('bob-1', bob), 'owner')
    assert.equal(b.stats().evictions.principal_limit, 1)
  })

  it('default: 32 sessions per principal; the 33rd evicts the first, and 10 000 initializes of one principal leave everyone else alone', () => {
    const b = new SessionBindings()
    assert.equal(b.maxSessionsPerPrincipal, 32)
    b.bind('bob-1', bob)
    for (let i = 0; i < 32; i++) b.bind(`a${i}`, alice)
    assert.equal(b.owner('a0', alice), 'owner')
    b.bind('a32', alice)
    assert.equal(b.owner('a1', alice), 'unknown', 'a1 was the least recently used')
    for (let i = 33; i < 10_033; i++) b.bind(`a${i}`, alice)
    assert.equal(b.size, 33)
    assert.equal(b.owner('bob-1', bob), 'owner')
    assert.equal(b.stats().evictions.principal_limit, 10_001)
  })
})

describe('SessionBindings: in total', () => {
  it('full: a principal holding none is refused (not evicting others); one holding some gives up its own oldest', () => {
    const b = new SessionBindings({ maxSessions: 3 })
    b.bind('a1', alice)
    b.bind('a2', alice)
    b.bind('b1', bob)
    assert.equal(b.canBind(user(1)), false)
    assert.equal(b.bind('u1', user(1)), false)
    assert.equal(b.owner('u1', user(1)), 'unknown')
    assert.equal(b.canBind(bob), true)
    assert.equal(b.bind('b2', bob), true)
    assert.equal(b.owner('b1', bob), 'unknown')
    assert.equal(b.owner('a1', alice), 'owner')
    assert.equal(b.owner('a2', alice), 'owner')
    assert.deepEqual(b.stats(), { sessions: 3, principals: 2, evictions: { principal_limit: 1, idle: 0 }, refused: 2 })
  })

  it('full: idle sessions are forgotten first, so a newcomer fits', () => {
    const c = clock()
    const b = new SessionBindings({ maxSessions: 2, idleTimeoutMs: 1000, now: c.now })
    b.bind('a1', alice)
    b.bind('b1', bob)
    c.advance(500)
    b.owner('b1', bob)
    c.advance(500)
    assert.equal(b.canBind(user(1)), true)
    assert.equal(b.owner('a1', alice), 'unknown')
    assert.equal(b.bind('u1', user(1)), true)
    assert.equal(b.owner('b1', bob), 'owner')
  })

  it('default: 10 000 sessions in all', () => {
    const b = new SessionBindings()
    assert.equal(b.maxSessions, 10_000)
    for (let i = 0; i < 10_000; i++) assert.equal(b.bind(`s${i}`, user(i)), true)
    assert.equal(b.bind('one-more', user(10_000)), false)
    assert.equal(b.size, 10_000)
    assert.equal(b.owner('s0', user(0)), 'owner')
  })
})

describe('SessionBindings: order of use', () => {
  it('binding a session again (the transport repeats its id on later responses) marks it used', () => {
    const c = clock()
    const b = new SessionBindings({ idleTimeoutMs: 1000, now: c.now })
    b.bind('a1', alice)
    c.advance(900)
    b.bind('a1', alice)
    c.advance(900)
    assert.equal(b.sweep(), 0)
    assert.equal(b.owner('a1', alice), 'owner')
  })

  it('a session used again moves behind the others: the sweep still finds the stale ones', () => {
    const c = clock()
    const b = new SessionBindings({ idleTimeoutMs: 1000, now: c.now })
    b.bind('a1', alice)
    b.bind('b1', bob)
    c.advance(600)
    assert.equal(b.owner('a1', alice), 'owner')
    c.advance(600)
    assert.equal(b.sweep(), 1)
    assert.deepEqual([b.has('a1'), b.has('b1')], [true, false])
  })

  it('a request in flight at the front does not stop the sweep from forgetting idle sessions behind it', () => {
    const c = clock()
    const b = new SessionBindings({ idleTimeoutMs: 100, now: c.now })
    b.bind('busy', alice)
    b.acquire('busy')
    b.bind('idle', bob)
    c.advance(200)
    assert.equal(b.sweep(), 1)
    assert.deepEqual([b.has('busy'), b.has('idle')], [true, false])
  })

  it('bind() on a full table forgets idle sessions itself (without canBind first)', () => {
    const c = clock()
    const b = new SessionBindings({ maxSessions: 1, idleTimeoutMs: 100, now: c.now })
    b.bind('a1', alice)
    c.advance(100)
    assert.equal(b.bind('b1', bob), true)
    assert.equal(b.has('a1'), false)
    assert.equal(b.stats().refused, 0)
  })

  it('canBind() is true while the table has room, for anyone', () => {
    const b = new SessionBindings({ maxSessions: 2 })
    assert.equal(b.canBind(alice), true)
    b.bind('a1', alice)
    assert.equal(b.canBind(bob), true)
    assert.equal(b.stats().refused, 0)
  })
})

describe('SessionBindings: in time', () => {
  it('a session unused for idleTimeoutMs is forgotten on its next use, counted as idle', () => {
    const c = clock()
    const b = new SessionBindings({ idleTimeoutMs: 1000, now: c.now })
    const evicted: string[] = []
    b.onEvict((id, reason) => evicted.push(`${id}:${reason}`))
    b.bind('a1', alice)
    c.advance(999)
    assert.equal(b.owner('a1', alice), 'owner', 'used in time: marked used again')
    c.advance(999)
    assert.equal(b.owner('a1', alice), 'owner')
    c.advance(1000)
    assert.equal(b.owner('a1', alice), 'unknown')
    assert.deepEqual(evicted, ['a1:idle'])
    assert.equal(b.stats().evictions.idle, 1)
  })

  it('a request in flight (an open stream) keeps its session; idle time counts from its end', () => {
    const c = clock()
    const b = new SessionBindings({ idleTimeoutMs: 1000, now: c.now })
    b.bind('a1', alice)
    b.acquire('a1')
    c.advance(5000)
    assert.equal(b.sweep(), 0)
    assert.equal(b.has('a1'), true)
    b.release('a1')
    c.advance(999)
    assert.equal(b.sweep(), 0)
    c.advance(1)
    assert.equal(b.sweep(), 1)
    assert.equal(b.has('a1'), false)
  })

  it('two requests in flight: the session stays until both ended', () => {
    const c = clock()
    const b = new SessionBindings({ idleTimeoutMs: 10, now: c.now })
    b.bind('a1', alice)
    b.acquire('a1')
    b.acquire('a1')
    b.release('a1')
    c.advance(100)
    assert.equal(b.sweep(), 0)
    b.release('a1')
    b.release('a1') // more releases than acquires change nothing
    c.advance(10)
    assert.equal(b.sweep(), 1)
    b.acquire('gone')
    b.release('gone')
  })

  it('sweep() forgets every idle session, least recently used first, and stops at the first fresh one', () => {
    const c = clock()
    const b = new SessionBindings({ idleTimeoutMs: 100, now: c.now })
    b.bind('old1', alice)
    b.bind('old2', bob)
    c.advance(50)
    b.bind('fresh', user(1))
    c.advance(50)
    assert.equal(b.sweep(), 2)
    assert.deepEqual([b.has('old1'), b.has('old2'), b.has('fresh')], [false, false, true])
  })

  it('default idle timeout: 30 minutes', () => {
    const c = clock()
    const b = new SessionBindings({ now: c.now })
    assert.equal(b.idleTimeoutMs, 1_800_000)
    b.bind('a1', alice)
    c.advance(1_799_999)
    assert.equal(b.sweep(), 0)
    c.advance(1)
    assert.equal(b.sweep(), 1)
  })
})

describe('SessionBindings: options and listeners', () => {
  it('bad options fail fast with a TypeError naming the option', () => {
    for (const [options, name] of [
      [{ maxSessions: 0 }, 'maxSessions'],
      [{ maxSessions: 1.5 }, 'maxSessions'],
      [{ maxSessionsPerPrincipal: -1 }, 'maxSessionsPerPrincipal'],
      [{ idleTimeoutMs: '5' }, 'idleTimeoutMs'],
      [{ now: 5 }, 'now'],
    ] as const) {
      assert.throws(() => new SessionBindings(options as never), (e: unknown) => e instanceof TypeError && e.message.includes(name), name)
    }
    assert.throws(() => new SessionBindings(null as never), /sessionBinding options must be an object/)
    assert.throws(() => new SessionBindings('x' as never), /sessionBinding options must be an object/)
    assert.equal(new SessionBindings(5).maxSessions, 5, 'a number is maxSessions')
  })

  it('a listener that throws is reported as a warning; the eviction still happens and the next listener still runs', async () => {
    const b = new SessionBindings({ maxSessionsPerPrincipal: 1 })
    const warned = new Promise<Error>((resolve) => process.once('warning', resolve))
    const told: string[] = []
    const off = b.onEvict(() => {
      throw new Error('listener broke')
    })
    b.onEvict((id) => told.push(id))
    b.bind('a1', alice)
    b.bind('a2', alice)
    assert.match((await warned).message, /listener broke/)
    assert.deepEqual(told, ['a1'])
    off()
    b.bind('a3', alice)
    assert.deepEqual(told, ['a1', 'a2'])
  })

  it('exports its counters as Prometheus metrics', async () => {
    const c = clock()
    const b = new SessionBindings({ maxSessions: 2, maxSessionsPerPrincipal: 1, idleTimeoutMs: 100, now: c.now })
    const registry = new Registry()
    registerSessionMetrics(registry, b)
    b.bind('a1', alice)
    b.bind('a2', alice) // principal_limit
    b.bind('b1', bob)
    b.bind('u1', user(1)) // refused
    c.advance(100)
    b.sweep() // two idle
    b.bind('u2', user(2))
    const text = await registry.metrics()
    assert.match(text, /^mcp_authz_sessions 1$/m)
    assert.match(text, /^mcp_authz_session_principals 1$/m)
    assert.match(text, /^mcp_authz_session_evictions_total\{reason="principal_limit"\} 1$/m)
    assert.match(text, /^mcp_authz_session_evictions_total\{reason="idle"\} 2$/m)
    assert.match(text, /^mcp_authz_session_refusals_total 1$/m)
    assert.throws(() => registerSessionMetrics(new Registry(), undefined), TypeError)
  })
})
