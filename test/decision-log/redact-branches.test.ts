/**
 * Every decision of the redactor seen from outside (11.10): each option, default and bound is
 * asserted exactly — at the boundary, on both sides — so that changing any of them changes a result
 * here (what a mutation-testing run of `src/decision-log/redact*` needs).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MIN_PATTERN_LENGTH } from '../../src/decision-log/patterns.ts'
import { CIRCULAR, createRedactor, errorText, TRUNCATED, UNREADABLE } from '../../src/decision-log/redact.ts'

const redact = createRedactor()
const SECRET = '[REDACTED:secret_field]'
const AKIA = 'AKIAIOSFODNN7EXAMPLE'
const HIGH_ENTROPY = 'f3Jx9Qp2LmZt7Rv1Kc8Wn4Ys'

describe('redactor: options and their defaults, exactly', () => {
  it('rejects each bad option with a TypeError naming it (and the configured option name)', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ maxDepth: 1001 }, /^redaction\.maxDepth must be an integer between 1 and 1000$/],
      [{ maxDepth: 0 }, /^redaction\.maxDepth/],
      [{ maxNodes: 0 }, /^redaction\.maxNodes must be an integer between 1 and /],
      [{ maxNodes: '5' }, /^redaction\.maxNodes/],
      [{ maxStringLength: 0 }, /^redaction\.maxStringLength/],
      [{ maxTotalStringLength: 0 }, /^redaction\.maxTotalStringLength/],
      [{ maxPaths: 0 }, /^redaction\.maxPaths must be an integer between 1 and 100000$/],
      [{ maxPaths: 100_001 }, /^redaction\.maxPaths/],
      [{ patterns: ['nope'] }, /^redaction\.patterns: unknown pattern "nope"$/],
      [{ patterns: 'jwt' }, /^redaction\.patterns must be a boolean or a list of pattern names$/],
      [{ secretKeys: 'yes' }, /^redaction\.secretKeys must be a boolean$/],
      [{ extraSecretKeys: 'pin' }, /^redaction\.extraSecretKeys must be an array of strings$/],
      [{ extraSecretKeys: [1] }, /^redaction\.extraSecretKeys must be an array of strings$/],
      [{ entropy: 'off' }, /^redaction\.entropy must be false or an object$/],
      [{ entropy: null }, /^redaction\.entropy must be false or an object$/],
      [{ entropy: { minLength: 0 } }, /^redaction\.entropy\.minLength/],
      [{ entropy: { threshold: 16.5 } }, /^redaction\.entropy\.threshold must be a number between 0 and 16$/],
      [{ entropy: { threshold: '3' } }, /^redaction\.entropy\.threshold/],
      [{ stripKeys: [1] }, /^redaction\.stripKeys must be an array of strings$/],
      [{ customPatterns: [{ name: 'x', pattern: '(' }] }, /^redaction\.customPatterns/],
    ]
    for (const [options, message] of bad) assert.throws(() => createRedactor(options as never), { name: 'TypeError', message }, JSON.stringify(options))
    assert.throws(() => createRedactor(null as never), { name: 'TypeError', message: /^redaction must be an object$/ })
    assert.throws(() => createRedactor({ maxDepth: 0 }, 'decisionLog.redaction'), { message: /^decisionLog\.redaction\.maxDepth/ })
    for (const ok of [{ maxDepth: 1000 }, { maxDepth: 1 }, { maxPaths: 100_000 }, { maxPaths: 1 }, { entropy: { threshold: 16 } }, { entropy: { threshold: 0 } }, { patterns: true }, { patterns: [] }]) {
      assert.doesNotThrow(() => createRedactor(ok as never), JSON.stringify(ok))
    }
  })

  it('maxStringLength defaults to 8192: a longer string keeps exactly 8192 characters', () => {
    const out = redact({ body: 'a'.repeat(9000) }).value as { body: string }
    assert.equal(out.body, `${'a'.repeat(8192)}…${TRUNCATED}`)
    assert.equal((redact({ body: 'a'.repeat(8192) }).value as { body: string }).body, 'a'.repeat(8192))
  })

  it('maxTotalStringLength defaults to 262144 per call', () => {
    const value = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'b'.repeat(8192)]))
    const out = redact(value)
    const v = out.value as Record<string, string>
    assert.equal(v.k31, 'b'.repeat(8192), '32 × 8192 = 262144 fit')
    assert.equal(v.k32, TRUNCATED)
    assert.equal(out.truncated, 1)
  })

  it('a cut never splits a surrogate pair', () => {
    const r = createRedactor({ maxStringLength: 5 })
    assert.equal((r({ s: 'abcd😀ef' }).value as { s: string }).s, `abcd…${TRUNCATED}`)
    assert.equal((r({ s: 'abc😀ef' }).value as { s: string }).s, `abc😀…${TRUNCATED}`)
  })

  it('maxPaths defaults to 64 pointers per call; configurable', () => {
    const many = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`p${i}_password`, 'x']))
    const out = redact(many)
    assert.equal(out.redacted, 70)
    assert.equal(out.paths.masked.length, 64)
    const two = createRedactor({ maxPaths: 2, stripKeys: ['a', 'b', 'c'] })(many)
    assert.deepEqual(two.paths.masked, ['/p0_password', '/p1_password'])
    assert.deepEqual(createRedactor({ maxPaths: 2, stripKeys: ['a', 'b', 'c'] })({ a: 1, b: 2, c: 3 }).paths.erased, ['/a', '/b'])
  })

  it('the maxNodes budget counts every value: exactly maxNodes values are kept', () => {
    assert.deepEqual(createRedactor({ maxNodes: 3 })([1, 2, 3, 4]).value, [1, 2, TRUNCATED])
    assert.deepEqual(createRedactor({ maxNodes: 4 })({ a: 1, b: 2, c: 3 }).value, { a: 1, b: 2, c: 3 })
    assert.deepEqual(createRedactor({ maxNodes: 3 })({ a: 1, b: 2, c: 3 }).value, { a: 1, b: 2, [TRUNCATED]: '1 more keys' })
    const cut = createRedactor({ maxNodes: 3 })({ a: 1, b: 2, c: 3, d: AKIA })
    assert.equal(cut.truncated, 1)
  })

  it('the entropy rule has defaults { minLength: 20, threshold: 3 }, can be tuned, and can be turned off', () => {
    assert.deepEqual(redact({ token: HIGH_ENTROPY }).value, { token: '[REDACTED:high_entropy]' })
    assert.deepEqual(redact({ token: HIGH_ENTROPY.slice(0, 19) }).value, { token: HIGH_ENTROPY.slice(0, 19) }, '19 characters is below minLength')
    assert.deepEqual(redact({ token: HIGH_ENTROPY.slice(0, 20) }).value, { token: '[REDACTED:high_entropy]' })
    assert.deepEqual(createRedactor({ entropy: { minLength: 30 } })({ token: HIGH_ENTROPY }).value, { token: HIGH_ENTROPY })
    assert.deepEqual(createRedactor({ entropy: { threshold: 16 } })({ token: HIGH_ENTROPY }).value, { token: HIGH_ENTROPY })
    assert.deepEqual(createRedactor({ entropy: false })({ token: HIGH_ENTROPY }).value, { token: HIGH_ENTROPY })
    assert.deepEqual(createRedactor({ entropy: false })({ password: 'pw' }).value, { password: SECRET }, 'entropy off does not turn off secret names')
    assert.deepEqual(redact({ name: HIGH_ENTROPY }).value, { name: HIGH_ENTROPY }, 'not under an ordinary key')
  })

  it('secretKeys: false judges secret names by entropy instead', () => {
    const r = createRedactor({ secretKeys: false })
    assert.deepEqual(r({ password: 'hunter2', api_key: HIGH_ENTROPY }).value, { password: 'hunter2', api_key: '[REDACTED:high_entropy]' })
    const off = createRedactor({ secretKeys: false, entropy: false })
    assert.deepEqual(off({ api_key: HIGH_ENTROPY }).value, { api_key: HIGH_ENTROPY })
  })

  it('patterns: a list keeps only the named ones; false keeps none; custom patterns apply with them', () => {
    const awsOnly = createRedactor({ patterns: ['aws_access_key_id'] })
    assert.equal((awsOnly({ a: AKIA }).value as { a: string }).a, '[REDACTED:aws_access_key_id]')
    assert.match((awsOnly({ b: `ghp_${'a'.repeat(36)}` }).value as { b: string }).b, /^ghp_a+$/)
    assert.deepEqual(createRedactor({ patterns: false })({ a: AKIA }).value, { a: AKIA })
    assert.deepEqual(createRedactor({ patterns: false, customPatterns: [{ name: 'acme', pattern: 'acme_[0-9]{4}' }] })({ a: 'id acme_1234' }).value, { a: 'id [REDACTED:acme]' })
  })

  it('a custom pattern scans strings of any length (a built-in one needs at least MIN_PATTERN_LENGTH characters)', () => {
    assert.deepEqual(createRedactor({ customPatterns: [{ name: 'pin', pattern: '^\\d{4}$' }] })({ a: '4711' }).value, { a: '[REDACTED:pin]' })
    const shortest = 'a://:b@'
    assert.equal(shortest.length, MIN_PATTERN_LENGTH)
    assert.deepEqual(redact({ u: shortest }).value, { u: 'a://[REDACTED:url_credentials]@' })
    assert.deepEqual(redact({ [shortest]: 1 }).value, { 'a://[REDACTED:url_credentials]@': 1 })
  })

  it('stripKeys replaces the default list (compared ignoring case); the default strips the five names', () => {
    const v = { Headers: 1, AUTHORIZATION: 2, 'Proxy-Authorization': 3, Cookie: 4, 'set-cookie': 5, keep: 6 }
    const out = redact(v, { pathPrefix: '/x' })
    assert.deepEqual(out.value, { keep: 6 })
    assert.equal(out.stripped, 5)
    assert.deepEqual(out.paths.erased, ['/x/Headers', '/x/AUTHORIZATION', '/x/Proxy-Authorization', '/x/Cookie', '/x/set-cookie'])
    assert.deepEqual(createRedactor({ stripKeys: [] })({ headers: 1 }).value, { headers: 1 })
    assert.deepEqual(createRedactor({ stripKeys: ['X-Trace'] })({ 'x-trace': 1, 'x-tracer': 2 }).value, { 'x-tracer': 2 }, 'a name of the same length is compared, not a prefix')
  })
})

describe('redactor: values and keys, exactly', () => {
  it('counts each secret once; a value already redacted under a secret name is not counted again', () => {
    const out = redact({ password: '[REDACTED:jwt]', secret: 'x', nested: { api_key: 'y' } }, { pathPrefix: '/in' })
    assert.deepEqual(out.value, { password: '[REDACTED:jwt]', secret: SECRET, nested: { api_key: SECRET } })
    assert.equal(out.redacted, 2)
    assert.deepEqual(out.paths.masked, ['/in/secret', '/in/nested/api_key'])
  })

  it('a 40-character value under an aws secret name is named aws_secret_access_key; anything else there is a secret_field', () => {
    const key40 = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
    assert.deepEqual(redact({ aws_secret: key40, awsSecret: 'short', db_secret: key40 }).value, { aws_secret: '[REDACTED:aws_secret_access_key]', awsSecret: SECRET, db_secret: SECRET })
  })

  it('only a value of exactly 40 key characters is named aws_secret_access_key', () => {
    const key41 = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYX'
    assert.deepEqual(redact({ aws_secret: key41 }).value, { aws_secret: SECRET })
  })

  it('a high-entropy replacement is counted and listed', () => {
    const out = redact({ nested: { token: HIGH_ENTROPY } }, { pathPrefix: '/in' })
    assert.equal(out.redacted, 1)
    assert.deepEqual(out.paths.masked, ['/in/nested/token'])
  })

  it('JSON text with "kty" but no private member is left alone', () => {
    const v = { jwk: '{"kty":"EC","crv":"P-256","x":"xx","y":"yy"}' }
    const out = redact(v)
    assert.equal(out.value, v)
    assert.equal(out.redacted, 0)
    assert.deepEqual(out.paths.masked, [])
  })

  it('keys are cut at maxStringLength exactly, and each cut is counted', () => {
    const out = createRedactor({ maxStringLength: 8 })({ abcdefgh: 1, abcdefghi: 2 })
    assert.deepEqual(out.value, { abcdefgh: 1, [`abcdefgh…${TRUNCATED}`]: 2 })
    assert.equal(out.truncated, 1)
  })

  it('keys that redact to the same text stay apart: #2, #3', () => {
    const keys = [AKIA, 'AKIAIOSFODNN7EXAMPLF', 'AKIAIOSFODNN7EXAMPLG']
    const out = redact(Object.fromEntries(keys.map((k, i) => [k, i])))
    assert.deepEqual(out.value, { '[REDACTED:aws_access_key_id]': 0, '[REDACTED:aws_access_key_id]#2': 1, '[REDACTED:aws_access_key_id]#3': 2 })
  })

  it('secrets in keys are replaced and counted; short keys are not scanned', () => {
    const out = redact({ [AKIA]: 1, ok: 2 }, { pathPrefix: '/in' })
    assert.deepEqual(out.value, { '[REDACTED:aws_access_key_id]': 1, ok: 2 })
    assert.equal(out.redacted, 1)
    const same = { abcdef: 1 }
    assert.equal(redact(same).value, same)
  })

  it('a { name, value } pair is judged by its name only when the name is a string of at most 256 characters', () => {
    assert.deepEqual(redact({ name: 'x'.repeat(248) + 'password', value: 'v' }).value, { name: 'x'.repeat(248) + 'password', value: SECRET })
    assert.deepEqual(redact({ name: 'x'.repeat(249) + 'password', value: 'v' }).value, { name: 'x'.repeat(249) + 'password', value: 'v' })
    assert.deepEqual(redact({ name: 7, key: 'api_key', value: 'v' }).value, { name: 7, key: 'api_key', value: SECRET }, 'name not a string: key is used')
    assert.deepEqual(redact({ name: 'password', other: 'v' }).value, { name: 'password', other: 'v' }, 'no value field: nothing to judge')
  })

  it('key names longer than 256 characters are not classified (a bound on the work per key)', () => {
    const long = `${'x'.repeat(249)}password`
    assert.deepEqual(redact({ [long]: 'v' }).value, { [long]: 'v' })
    const limit = `${'x'.repeat(248)}password`
    assert.deepEqual(redact({ [limit]: 'v' }).value, { [limit]: SECRET })
  })

  it('the key option classifies the top-level value; pathPrefix prefixes pointers', () => {
    assert.deepEqual(redact('hunter2', { key: 'password' }).value, SECRET)
    assert.deepEqual(redact(['a', 'b'], { key: 'tokens' }).value, ['a', 'b'])
    assert.equal(redact('hunter2').value, 'hunter2')
    assert.deepEqual(redact({ password: 'x' }).paths.masked, ['/password'])
  })

  it('ArrayBuffers and typed arrays are written as their size; a toJSON returning itself is unreadable; other toJSON values are walked', () => {
    const self = { toJSON(): unknown {
      return self
    } }
    const out = redact({ ab: new ArrayBuffer(5), u16: new Uint16Array(3), self, wrapped: { toJSON: () => ({ password: 'pw', ok: AKIA }) } })
    assert.deepEqual(out.value, { ab: '[BINARY 5 bytes]', u16: '[BINARY 6 bytes]', self: UNREADABLE, wrapped: { password: SECRET, ok: '[REDACTED:aws_access_key_id]' } })
  })

  it('booleans, undefined, functions and symbols pass through untouched', () => {
    const f = () => 1
    const sym = Symbol('s')
    const v = { a: true, b: undefined, f, sym }
    assert.equal(redact(v).value, v)
  })

  it('a private JWK in JSON text with other secrets: one pointer, every secret counted', () => {
    const text = `{"kty":"oct","k":"c2VjcmV0"} and ${AKIA}`
    const out = redact({ t: text }, { pathPrefix: '/in' })
    assert.equal((out.value as { t: string }).t, '{"kty":"oct","k":"[REDACTED:private_jwk]"} and [REDACTED:aws_access_key_id]')
    assert.equal(out.redacted, 2)
    assert.deepEqual(out.paths.masked, ['/in/t'])
  })

  it('a high-entropy value that is also a pattern match is counted once, as the pattern', () => {
    const out = redact({ token: `ghp_${'aB3'.repeat(12)}` })
    assert.deepEqual(out.value, { token: '[REDACTED:github_token]' })
    assert.equal(out.redacted, 1)
  })

  it('errorText writes codes that are strings or numbers, and causes of any kind', () => {
    assert.equal(errorText(Object.assign(new Error('m'), { code: 42 })), 'Error [42]: m')
    assert.equal(errorText(Object.assign(new Error('m'), { code: { x: 1 } })), 'Error: m')
    assert.equal(errorText(new Error('m', { cause: Symbol('why') })), 'Error: m; cause: Symbol(why)')
  })
})

describe('redactor: state between and within calls', () => {
  it('paths, counts and budgets belong to one call', () => {
    const r = createRedactor({ maxNodes: 4 })
    const first = r({ password: 'a', b: [1, 2, 3, 4, 5] }, { pathPrefix: '/one' })
    assert.equal(first.truncated, 1)
    const second = r({ secret: 'x' }, { pathPrefix: '/two' })
    assert.deepEqual(second.paths.masked, ['/two/secret'])
    assert.deepEqual(second.paths.erased, [])
    assert.equal(second.redacted, 1)
    assert.equal(second.truncated, 0)
  })

  it('a call made from inside another (a getter that redacts) gets its own state', () => {
    const r = createRedactor()
    let inner: ReturnType<typeof r> | undefined
    const tricky = {
      get value(): string {
        inner = r({ api_key: 'inner-secret', list: [AKIA] }, { pathPrefix: '/inner' })
        return 'outer'
      },
      password: 'pw',
    }
    const outer = r(tricky, { pathPrefix: '/outer' })
    assert.deepEqual(outer.value, { value: 'outer', password: SECRET })
    assert.equal(outer.redacted, 1)
    assert.deepEqual(outer.paths.masked, ['/outer/password'])
    assert.equal(inner?.redacted, 2)
    assert.deepEqual(inner?.paths.masked, ['/inner/api_key', '/inner/list/0'])
  })

  it('what throws while being read makes the whole value [UNREADABLE] and counts as truncated', () => {
    const out = redact({ get boom(): string {
      throw new Error('no')
    } })
    assert.equal(out.value, UNREADABLE)
    assert.equal(out.truncated, 1)
    assert.equal(out.redacted, 0)
  })

  it('cycles are counted as truncated', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    const out = redact(a)
    assert.deepEqual(out.value, { self: CIRCULAR })
    assert.equal(out.truncated, 1)
  })

  it('the key-name cache survives thousands of distinct keys (it is cleared, not grown, past 4096)', () => {
    const r = createRedactor()
    for (let round = 0; round < 2; round++) {
      const v = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`field_${i}_${round}`, i]))
      assert.equal(r(v).value, v)
    }
    assert.deepEqual(r({ password: 'x' }).value, { password: SECRET }, 'classification still right after the cache was cleared')
  })
})
