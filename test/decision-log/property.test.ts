import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { createRedactor } from '../../src/decision-log/redact.ts'
import { mixed, SECRET_MAKERS, seeded, type Planted } from './helpers.ts'

const redact = createRedactor()
const SEED = 20251125
const RUNS = 300

/** A secret to plant, and how: inside a string value, as an object key, or as the value of a secret-ish key. */
type Plant =
  | { mode: 'text' | 'key'; planted: Planted; before: string; after: string }
  | { mode: 'named'; key: string; secret: string }

const WORDS = fc.constantFrom('', 'see', 'note:', 'curl -s', 'value =', '(', 'x,', 'line1\nline2', 'é ü 中文')
const SECRET_NAMES = fc.constantFrom('password', 'client_secret', 'apiKey', 'DB_PASSWORD', 'access_token', 'private_key', 'x-api-key', 'smtpPassword')
const MAYBE_NAMES = fc.constantFrom('token', 'session_key', 'auth', 'signature', 'key', 'creds')

const plantArb: fc.Arbitrary<Plant> = fc.oneof(
  fc.record({
    mode: fc.constantFrom('text' as const, 'key' as const),
    planted: fc.tuple(fc.constantFrom(...Object.keys(SECRET_MAKERS)), fc.integer()).map(([kind, seed]) => (SECRET_MAKERS[kind] as (r: () => number) => Planted)(seeded(seed))),
    before: WORDS,
    after: WORDS,
  }),
  fc.record({ mode: fc.constant('named' as const), key: SECRET_NAMES, secret: fc.integer().map((seed) => mixed(14, seeded(seed))) }),
  fc.record({ mode: fc.constant('named' as const), key: MAYBE_NAMES, secret: fc.integer().map((seed) => mixed(32, seeded(seed))) }),
)

/** Walks down `choices` into containers of `root`, returning the container to plant into. */
function pick(root: Record<string, unknown>, choices: readonly number[]): Record<string, unknown> | unknown[] {
  let node: Record<string, unknown> | unknown[] = root
  for (const c of choices) {
    const children = (Array.isArray(node) ? node : Object.values(node)).filter((v): v is Record<string, unknown> | unknown[] => typeof v === 'object' && v !== null)
    if (children.length === 0) break
    node = children[c % children.length] as Record<string, unknown> | unknown[]
  }
  return node
}

function plant(root: Record<string, unknown>, plants: readonly { plant: Plant; where: number[] }[]): string[] {
  const secrets: string[] = []
  plants.forEach(({ plant: p, where }, i) => {
    const target = pick(root, where)
    let value: unknown
    if (p.mode === 'named') {
      value = { [p.key]: p.secret }
      secrets.push(p.secret)
    } else if (p.mode === 'text') {
      value = `${p.before} ${p.planted.text} ${p.after}`
      secrets.push(p.planted.secret)
    } else {
      value = { [p.planted.text]: i }
      secrets.push(p.planted.secret)
    }
    if (Array.isArray(target)) target.push(value)
    else target[`planted_${i}`] = value
  })
  return secrets
}

describe('redactor properties (fast-check, fixed seed)', () => {
  it('every planted secret is gone from the redacted JSON, wherever it was planted', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 4 }),
        fc.array(fc.record({ plant: plantArb, where: fc.array(fc.nat(), { maxLength: 8 }) }), { minLength: 1, maxLength: 6 }),
        (base, plants) => {
          const root: Record<string, unknown> = { arguments: base, meta: { nested: [base] } }
          const secrets = plant(root, plants)
          const before = JSON.stringify(root)
          for (const s of secrets) assert.ok(before.includes(JSON.stringify(s).slice(1, -1)), 'secret planted')
          const out = redact(root)
          const text = JSON.stringify(out.value)
          for (const s of secrets) assert.equal(text.includes(JSON.stringify(s).slice(1, -1)), false, `secret survived: ${s.slice(0, 40)}`)
          assert.ok(out.redacted >= 1)
          assert.equal(JSON.stringify(root), before, 'input not mutated')
        },
      ),
      { seed: SEED, numRuns: RUNS },
    )
  })

  it('redaction is idempotent: a redacted value passes again unchanged (same reference)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), fc.array(plantArb, { maxLength: 4 }), (base, plants) => {
        const root: Record<string, unknown> = { base }
        plant(root, plants.map((p) => ({ plant: p, where: [] })))
        const once = redact(root).value
        const twice = redact(once)
        assert.equal(twice.value, once)
        assert.equal(twice.redacted, 0)
      }),
      { seed: SEED, numRuns: RUNS },
    )
  })

  it('ordinary JSON without secrets comes back as the same reference', () => {
    // Keys and strings from a vocabulary that cannot form a secret.
    const word = fc.constantFrom('id', 'name', 'title', 'list', 'a', 'b', 'query', 'limit', '550e8400-e29b-41d4-a716-446655440000', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'https://example.com/x?y=1', '/tmp/file.txt', '2025-11-25')
    const tree = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: 'small' }, word, fc.integer(), fc.boolean(), fc.constant(null), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(word, tie('node'), { maxKeys: 4 })),
    })).node
    fc.assert(
      fc.property(tree, (value) => {
        assert.equal(redact(value).value, value)
      }),
      { seed: SEED, numRuns: RUNS },
    )
  })

  it('never throws and always yields JSON-serialisable output, whatever the input', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4, withBigInt: true, withDate: true, withTypedArray: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true }), (value) => {
        const out = redact(value)
        assert.doesNotThrow(() => JSON.stringify(out.value))
      }),
      { seed: SEED, numRuns: RUNS },
    )
  })
})
