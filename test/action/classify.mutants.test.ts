/**
 * Behaviour the mutation run of src/action (npm run mutate -- action) found unasserted: what a
 * client is told for each refusal, which optional params are optional, malformed responses, and the
 * pre-parse depth scan on wide, string-heavy and escaped input.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { classifyMessage, type Refused } from '../../src/action/classify.ts'
import { jsonDepthExceeds, valueExceeds } from '../../src/action/limits.ts'
import { canonicalResourceIdentifier, canonicalResourceTemplate } from '../../src/action/resource-uri.ts'

const refusal = (m: unknown, limits?: Parameters<typeof classifyMessage>[1]): Refused => {
  const c = classifyMessage(m, limits)
  assert.ok(!c.ok, `expected a refusal of ${JSON.stringify(m)?.slice(0, 200)}`)
  return c
}
const call = (params: unknown) => ({ jsonrpc: '2.0', id: 9, method: 'tools/call', params })
const complete = (ref: unknown) => ({ jsonrpc: '2.0', id: 7, method: 'completion/complete', params: { ref, argument: { name: 'id', value: '1' } } })

describe('what a client is told for each refusal (the JSON-RPC error message)', () => {
  test('parse errors name the bound that was passed', () => {
    assert.equal(refusal('{"a":1}', { maxBytes: 3 }).error.message, 'Parse error: message exceeds 3 bytes')
    assert.equal(refusal('[[[[]]]]', { maxDepth: 2 }).error.message, 'Parse error: nesting deeper than 2')
    assert.equal(refusal([[[[]]]], { maxDepth: 2 }).error.message, 'Parse error: nesting deeper than 2')
    assert.equal(refusal({ a: 'x'.repeat(11) }, { maxStringLength: 10 }).error.message, 'Parse error: a string is longer than 10')
    assert.equal(refusal('{').error.message, 'Parse error: invalid JSON')
  })
  test('invalid requests say what is wrong', () => {
    assert.deepEqual(refusal([{ jsonrpc: '2.0', id: 1, method: 'ping' }]).error, { code: -32600, message: 'Invalid Request: batches are not supported' })
    assert.deepEqual(refusal(42).error, { code: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 message' })
    assert.deepEqual(refusal({ jsonrpc: '2.0', id: 1, method: 'ping', result: {} }).error, { code: -32600, message: 'Invalid Request: a message with a method carries no result or error' })
    assert.deepEqual(refusal({ jsonrpc: '2.0', id: 1 }).error, { code: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 request or notification' })
    assert.deepEqual(refusal({ jsonrpc: '1.0', id: 1, result: {} }).error, { code: -32600, message: 'Invalid Request: malformed JSON-RPC response' })
  })
  test('invalid params name the method and the missing or wrong param', () => {
    assert.equal(refusal(call({})).error.message, 'Invalid params: tools/call requires params.name')
    assert.equal(refusal(call({ name: 't', arguments: [1] })).error.message, 'Invalid params: tools/call params.arguments must be an object')
    assert.equal(refusal(call({ name: 't', arguments: { a: 1, b: 2 } }), { maxArguments: 1 }).error.message, 'Invalid params: tools/call has more than 1 arguments')
    assert.equal(refusal({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: '' } }).error.message, 'Invalid params: resources/read requires params.uri')
    assert.equal(refusal(complete({ type: 'ref/x' })).error.message, 'Invalid params: completion/complete requires params.ref of type ref/prompt or ref/resource')
    assert.match(refusal(complete({ type: 'ref/resource', uri: 'notes://a/{id' })).error.message, /^Invalid params: completion\/complete params\.ref\.uri /)
  })
})

describe('params: what is optional, what must have its type', () => {
  test('tools/call and prompts/get without arguments are decided, with no arguments on the action', () => {
    const c = classifyMessage(call({ name: 'notes_list' }))
    assert.ok(c.ok)
    assert.deepEqual(c.action, { method: 'tools/call', kind: 'tool', name: 'notes_list', id: 9 })
    const p = classifyMessage({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: 'summary' } })
    assert.ok(p.ok && !('arguments' in p.action))
  })
  test('arguments that are not an object, and names or URIs of the wrong type, are refused -32602', () => {
    for (const args of [[1], 'x', 3, null, true]) assert.equal(refusal(call({ name: 't', arguments: args })).error.code, -32602, JSON.stringify(args))
    assert.equal(refusal(call({ name: 7 })).error.code, -32602)
    for (const uri of [7, '', null, ['notes://a']]) assert.equal(refusal({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } }).error.code, -32602, JSON.stringify(uri))
  })
  test('completion refs: each field checked, the action is exactly the referenced item', () => {
    for (const ref of ['ref/prompt', { type: 'ref/prompt', name: '' }, { type: 'ref/prompt', name: 5 }, { type: 'ref/prompt', uri: 'notes://a' }, { type: 'ref/resource', name: 'x' }, { type: 'ref/resource', uri: 5 }, { name: 'x' }, null]) {
      assert.equal(refusal(complete(ref)).error.code, -32602, JSON.stringify(ref))
    }
    const p = classifyMessage(complete({ type: 'ref/prompt', name: 'summary' }))
    assert.ok(p.ok)
    assert.deepEqual(p.action, { method: 'completion/complete', kind: 'prompt', name: 'summary', id: 7 })
    const r = classifyMessage(complete({ type: 'ref/resource', uri: 'NOTES://a/{id}' }))
    assert.ok(r.ok)
    assert.deepEqual(r.action, { method: 'completion/complete', kind: 'resource', uri: 'notes://a/{id}', id: 7 })
  })
  test('a completion URI whose canonical form exceeds maxStringLength is refused (the limit applies, not the default)', () => {
    const uri = `notes://a/${'é'.repeat(20)}/{id}`
    assert.ok(classifyMessage(complete({ type: 'ref/resource', uri }), { maxStringLength: 200 }).ok)
    assert.equal(refusal(complete({ type: 'ref/resource', uri }), { maxStringLength: 100 }).error.code, -32602)
  })
})

describe('responses (to sampling / elicitation) must be well-formed JSON-RPC 2.0', () => {
  test('a malformed response is refused -32600, not passed on as a response', () => {
    for (const m of [
      { jsonrpc: '1.0', id: 1, result: {} },
      { id: 1, result: {} },
      { jsonrpc: '2.0', id: { x: 1 }, result: {} },
      { jsonrpc: '2.0', id: 1, error: { code: 1.5, message: 'x' } },
      { jsonrpc: '2.0', id: 1, error: { code: 1 } },
      { jsonrpc: '2.0', id: 1, error: 'boom' },
    ]) assert.equal(refusal(m).error.code, -32600, JSON.stringify(m))
  })
  test('an error response with a null id is a response without an id', () => {
    const c = classifyMessage({ jsonrpc: '2.0', id: null, error: { code: -32000, message: 'x', data: 1 } })
    assert.ok(c.ok)
    assert.deepEqual(c.action, { method: 'response', kind: 'response' })
  })
})

describe('bytes and the pre-parse depth scan', () => {
  test('invalid UTF-8 inside a JSON string is refused -32700, never decoded with replacement characters', () => {
    const head = Buffer.from('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":"')
    const bytes = new Uint8Array(Buffer.concat([head, Buffer.from([0xc3, 0x28]), Buffer.from('"}}}')]))
    assert.deepEqual(refusal(bytes).error, { code: -32700, message: 'Parse error: invalid JSON' })
  })
  test('depth counts nesting, not width: many siblings at the limit are accepted', () => {
    assert.equal(jsonDepthExceeds('[' + '[],'.repeat(100) + '{}]', 2), false)
    assert.equal(jsonDepthExceeds('{"a":{},"b":{},"c":[[]]}', 3), false)
    const wide = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: { list: Array.from({ length: 50 }, () => ({ a: [1] })) } } })
    assert.ok(classifyMessage(wide, { maxDepth: 6 }).ok)
  })
  test('depth: one level more than the limit is detected, in objects and arrays, after strings too', () => {
    assert.equal(jsonDepthExceeds('[[[]]]', 3), false)
    assert.equal(jsonDepthExceeds('[[[[]]]]', 3), true)
    assert.equal(jsonDepthExceeds('{"a":{"b":{"c":{}}}}', 3), true)
    assert.equal(jsonDepthExceeds('{"s":"x","a":[[[[]]]]}', 3), true, 'a string closes')
    assert.equal(jsonDepthExceeds('{"s":"\\\\","a":[[[[]]]]}', 3), true, 'an escaped backslash does not swallow the closing quote')
  })
  test('brackets in strings, after an escaped quote, do not count', () => {
    assert.equal(jsonDepthExceeds('{"a":"\\"[[[[[[[["}', 2), false)
    const msg = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: { q: '"[[[[[[[[[[{{{{{{{{' } } })
    assert.ok(classifyMessage(msg, { maxDepth: 4 }).ok)
  })
  test('values: scalars at the depth limit are fine; keys and strings exactly at the string limit are fine', () => {
    assert.equal(valueExceeds({ a: 1, b: true, c: null, d: 'x' }, 1, 10), undefined)
    assert.equal(valueExceeds({ a: {} }, 1, 10), 'depth')
    assert.equal(valueExceeds({ ['k'.repeat(10)]: 'v'.repeat(10) }, 5, 10), undefined)
    assert.equal(valueExceeds({ ['k'.repeat(11)]: 1 }, 5, 10), 'string')
    assert.equal(valueExceeds(Array.from({ length: 12 }, (_, i) => i), 5, 1), undefined, 'array indexes are not keys')
    const msg = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: { ['k'.repeat(100)]: 1 } } })
    assert.ok(classifyMessage(msg, { maxStringLength: 100 }).ok)
  })
})

describe('resource URI refusals carry their problem code', () => {
  test('empty or non-string identifiers and templates are unparsable', () => {
    assert.deepEqual({ ...canonicalResourceIdentifier(''), message: undefined }, { ok: false, problem: 'unparsable', message: undefined })
    const t = canonicalResourceTemplate(5 as unknown as string)
    assert.ok(!t.ok && t.problem === 'unparsable')
  })
  test('a template is too long when its expressions, put back, pass the limit', () => {
    const raw = `notes://a/{${'x'.repeat(50)}}`
    assert.ok(canonicalResourceTemplate(raw, { maxLength: 100 }).ok)
    const t = canonicalResourceTemplate(raw, { maxLength: 40 })
    assert.ok(!t.ok && t.problem === 'too_long')
  })
})

describe('request ids the JSON-RPC schema refuses (found by the second action run: the hand-written fast path)', () => {
  test('a request whose id is not a string of at most 256 characters or a safe integer is refused, with no id echoed', () => {
    for (const id of [1.5, {}, true, [1], 2 ** 60, null, 'x'.repeat(257)]) {
      const r = refusal({ jsonrpc: '2.0', id, method: 'tools/list' })
      assert.deepEqual(r.error, { code: -32600, message: 'Invalid Request: not a JSON-RPC 2.0 request or notification' }, `id ${JSON.stringify(id)}`)
      assert.equal(r.id, null)
    }
  })
  test('the accepted ids are decided under the id the client sent', () => {
    for (const id of ['x'.repeat(256), '', 0, -1, Number.MAX_SAFE_INTEGER]) {
      const c = classifyMessage({ jsonrpc: '2.0', id, method: 'tools/list' })
      assert.ok(c.ok, `id ${JSON.stringify(id)?.slice(0, 20)}`)
      assert.equal(c.action.id, id)
    }
  })
  test('a method of exactly 256 characters is classified, one of 257 refused', () => {
    const at = classifyMessage({ jsonrpc: '2.0', id: 1, method: `x/${'a'.repeat(254)}` })
    assert.ok(at.ok)
    assert.equal(refusal({ jsonrpc: '2.0', id: 1, method: `x/${'a'.repeat(255)}` }).error.code, -32600)
  })
})
