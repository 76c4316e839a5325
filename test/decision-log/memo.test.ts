// The redactor's memo of clean strings (src/decision-log/redact.ts) skips the pattern scan for short
// strings it has logged verbatim before. It must never change a record: over random sequences of
// events that reuse the same strings as values and as keys, in clean, secret, private-JWK,
// high-entropy and truncated forms, every record built with the memo equals, byte for byte, the
// record a redactor without the memo (the code as it was) builds for the same event.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { createRecordBuilder, type DecisionEvent } from '../../src/decision-log/record.ts'
import { CLEAN_MEMO_MAX_LENGTH, createRedactor, type RedactionOptions } from '../../src/decision-log/redact.ts'
import { mixed, SECRET_MAKERS, sampleEvent, seeded } from './helpers.ts'

const SEED = 20261202
const RUNS = 150

const secret = (kind: string, seed: number): string => (SECRET_MAKERS[kind] as (r: () => number) => { text: string })(seeded(seed)).text

// The strings events are made of: a small pool, so that the same string recurs across records and
// within one, sometimes clean, sometimes holding a secret, sometimes only high-entropy text.
const POOL: readonly string[] = [
  'alice',
  'notes_read',
  'tools/call',
  'https://as.example',
  'groceries and more groceries',
  'x'.repeat(CLEAN_MEMO_MAX_LENGTH),
  'y'.repeat(CLEAN_MEMO_MAX_LENGTH + 1),
  `${'z'.repeat(40)} ${secret('jwt', 1)}`,
  secret('github_token', 2),
  secret('url_credentials', 3),
  secret('secret_assignment', 4),
  '{"kty":"RSA","n":"abc","d":"private-part"}',
  '"kty"',
  mixed(32, seeded(5)),
  mixed(24, seeded(6)),
  'token',
  'password',
  'session_key',
  'value',
  'name',
  'DB_PASSWORD',
  'Authorization',
  'headers',
  'é ü 中文 line1\nline2',
]
const word = fc.constantFrom(...POOL)

// JSON-like values built from the pool, keys included (so `{ name, value }` pairs and secret-ish
// keys occur).
const value: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, word, fc.integer(), fc.boolean(), fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(word, tie('node'), { maxKeys: 4 })),
})).node

const eventArb: fc.Arbitrary<DecisionEvent> = fc
  .record({ subject: word, tool: word, client: word, args: fc.dictionary(word, value, { maxKeys: 6 }), message: word, allow: fc.boolean() })
  .map(({ subject, tool, client, args, message, allow }) => {
    const base = sampleEvent()
    const input = base.input as NonNullable<DecisionEvent['input']>
    return {
      ...base,
      input: {
        ...input,
        principal: { ...input.principal, subject, clientId: client },
        action: { method: 'tools/call', kind: 'tool', name: tool, id: 7, arguments: args },
      },
      result: allow ? { allow: true, reasons: [], required_scopes: [] } : { allow: false, reasons: [{ code: 'argument_denied', message }], required_scopes: [] },
    } as DecisionEvent
  })

// Small bounds too, so that truncation (by string and in total) meets the memo.
const optionsArb: fc.Arbitrary<RedactionOptions> = fc.constantFrom<RedactionOptions>({}, { maxStringLength: 30 }, { maxTotalStringLength: 200 }, { entropy: false }, { maxNodes: 20 })

describe('redactor memo of clean strings (fast-check, fixed seed)', () => {
  it('every record built with the memo equals the record built without it, event after event', () => {
    fc.assert(
      fc.property(optionsArb, fc.constantFrom(1, 2, 8, 4096), fc.array(eventArb, { minLength: 1, maxLength: 8 }), (options, entries, events) => {
        const withMemo = createRecordBuilder({ redactor: createRedactor(options, 'redaction', entries) })
        const without = createRecordBuilder({ redactor: createRedactor(options, 'redaction', 0) })
        // Each event twice: the second time every clean string is in the memo.
        for (const event of [...events, ...events]) assert.equal(JSON.stringify(withMemo(event)), JSON.stringify(without(event)))
      }),
      { seed: SEED, numRuns: RUNS },
    )
  })

  it('a string logged clean under a plain key is still redacted under a secret-ish key', () => {
    const redact = createRedactor()
    const text = mixed(32, seeded(7))
    assert.deepEqual(redact({ note: text }).value, { note: text })
    assert.deepEqual(redact({ note: text }).value, { note: text })
    assert.deepEqual(redact({ token: text }).value, { token: '[REDACTED:high_entropy]' })
    assert.deepEqual(redact({ password: text }).value, { password: '[REDACTED:secret_field]' })
  })
})
