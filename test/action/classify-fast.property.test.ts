/**
 * The classifier checks the common message shape by hand and leaves everything else to zod; the
 * value bounds are walked recursively up to a depth and with a stack beyond. Both are speed-ups of
 * the decision hot path, so both must answer exactly as the plain way does: a property over random
 * messages (ids, methods, params of every type, symbol keys, class instances, null prototypes,
 * `constructor` keys, long strings) compares the classifier with zod's own schemas, and the two
 * walks with each other.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { z } from 'zod'
import { classifyMessage } from '../../src/action/classify.ts'
import { exceedsIteratively, valueExceeds } from '../../src/action/limits.ts'

const seed = Number(process.env.FUZZ_SEED ?? 20261202)
const numRuns = Number(process.env.FUZZ_RUNS ?? 2000)

// The schemas the classifier validates requests and notifications with (src/action/classify.ts).
const id = z.union([z.string().max(256), z.number().int().safe()])
const params = z.record(z.string(), z.unknown())
const request = z.object({ jsonrpc: z.literal('2.0'), id, method: z.string().min(1).max(256), params: params.optional() })
const notification = z.object({ jsonrpc: z.literal('2.0'), method: z.string().min(1).max(256), params: params.optional() })

class Params {
  name = 'notes_read'
}

const odd = fc.constantFrom<unknown>(
  Object.create(null) as unknown,
  Object.assign(Object.create(null) as object, { name: 'notes_read' }),
  { [Symbol('s')]: 1, name: 'notes_read' },
  { constructor: 'x', name: 'notes_read' },
  { constructor: { prototype: null }, name: 'notes_read' },
  { constructor: function Ctor() {}, name: 'notes_read' },
  new Params(),
  new Date(0),
  [],
  ['notes_read'],
  new Map(),
  null,
)
const anyId = fc.oneof(fc.integer(), fc.string({ maxLength: 300 }), fc.constant(null), fc.double(), fc.constant(2 ** 53), fc.constant(-0), fc.boolean(), fc.constant('x'.repeat(256)), fc.constant('x'.repeat(257)))
const anyMethod = fc.oneof(fc.constantFrom('tools/call', 'tools/list', 'ping', 'prompts/get', 'notifications/initialized', '', 'x'.repeat(256), 'x'.repeat(257)), fc.string(), fc.integer())
const anyParams = fc.oneof(fc.constant(undefined), odd, fc.record({ name: fc.oneof(fc.string(), fc.constant('notes_read')), arguments: fc.dictionary(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue())
const messageArb = fc.record({ jsonrpc: fc.oneof(fc.constant('2.0'), fc.constant(2), fc.string()), id: anyId, method: anyMethod, params: anyParams }, { requiredKeys: ['jsonrpc', 'method'] })

describe('property: the hand-checked message shape answers as zod does', () => {
  test(`classification and refusals (${numRuns} runs, seed ${seed})`, () => {
    let valid = 0
    let invalid = 0
    fc.assert(
      fc.property(messageArb, (m) => {
        const value = m as Record<string, unknown>
        const isRequest = 'id' in value
        const zodOk = (isRequest ? request : notification).safeParse(value).success
        const c = classifyMessage(value)
        const notRpc = !c.ok && c.error.message === 'Invalid Request: not a JSON-RPC 2.0 request or notification'
        assert.equal(notRpc, !zodOk, `zod says ${zodOk ? 'valid' : 'invalid'}: ${String(JSON.stringify(m))}`)
        const readable = id.safeParse(value.id)
        if (!c.ok) assert.equal(c.id, readable.success ? readable.data : null)
        else if (isRequest) assert.equal(c.action.id, readable.data)
        zodOk ? valid++ : invalid++
      }),
      { seed, numRuns },
    )
    assert.ok(valid > numRuns / 20 && invalid > numRuns / 20, `both answers are exercised (${valid} valid, ${invalid} invalid)`)
  })

  test('messages whose params zod refuses are refused: symbol keys, arrays, class instances', () => {
    for (const params of [{ [Symbol('s')]: 1 }, [], new Params(), new Date(0), null, 'x']) {
      const c = classifyMessage({ jsonrpc: '2.0', id: 1, method: 'tools/list', params })
      assert.equal(c.ok, request.safeParse({ jsonrpc: '2.0', id: 1, method: 'tools/list', params }).success, String(params))
    }
  })
})

describe('property: the recursive bounds walk answers as the stack walk', () => {
  const leaf = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null), fc.boolean())
  const tree = fc.letrec((tie) => ({
    node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, fc.array(tie('node'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 12 }), tie('node'), { maxKeys: 4 })),
  })).node
  test(`depth and string bounds (${numRuns} runs)`, () => {
    fc.assert(
      fc.property(tree, fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 12 }), (value, maxDepth, maxString) => {
        assert.equal(valueExceeds(value, maxDepth, maxString), exceedsIteratively(value, maxDepth, maxString))
      }),
      { seed, numRuns },
    )
  })

  test('a cyclic object is too deep, whatever the limit', () => {
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    assert.equal(valueExceeds(cyclic, 64, 100), 'depth')
    assert.equal(valueExceeds(cyclic, 100_000, 100), 'depth', 'beyond the recursion limit the stack walk takes over')
  })
})
