import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { classifyMessage } from '../../src/action/classify.ts'
import { jsonDepthExceeds } from '../../src/action/limits.ts'

const ok = (m: unknown) => {
  const c = classifyMessage(m)
  assert.ok(c.ok, `expected a classification, got ${JSON.stringify(c)}`)
  return c.action
}
const refused = (m: unknown, code: number, limits?: Parameters<typeof classifyMessage>[1]) => {
  const c = classifyMessage(m, limits)
  assert.ok(!c.ok, 'expected a refusal')
  assert.equal(c.error.code, code)
  return c
}

describe('classifyMessage maps every MCP 2025-11-25 method', () => {
  test('tools/call with name, arguments and _meta', () => {
    const a = ok({ jsonrpc: '2.0', id: 'a1', method: 'tools/call', params: { name: 'notes_write', arguments: { title: 't' }, _meta: { progressToken: 3 } } })
    assert.deepEqual(a, { method: 'tools/call', kind: 'tool', name: 'notes_write', arguments: { title: 't' }, meta: { progressToken: 3 }, id: 'a1' })
  })
  for (const method of ['resources/read', 'resources/subscribe', 'resources/unsubscribe']) {
    test(`${method} carries the uri`, () => assert.deepEqual(ok({ jsonrpc: '2.0', id: 2, method, params: { uri: 'notes://a' } }), { method, kind: 'resource', uri: 'notes://a', id: 2 }))
  }
  test('prompts/get with arguments', () => {
    assert.deepEqual(ok({ jsonrpc: '2.0', id: 3, method: 'prompts/get', params: { name: 'p', arguments: { a: 'b' } } }), { method: 'prompts/get', kind: 'prompt', name: 'p', arguments: { a: 'b' }, id: 3 })
  })
  for (const method of ['tools/list', 'resources/list', 'resources/templates/list', 'prompts/list']) {
    test(`${method} is a list`, () => assert.equal(ok({ jsonrpc: '2.0', id: 4, method, params: { cursor: 'c' } }).kind, 'list'))
  }
  for (const method of ['initialize', 'ping', 'logging/setLevel']) {
    test(`${method} is a session method`, () => assert.equal(ok({ jsonrpc: '2.0', id: 5, method }).kind, 'session'))
  }
  test('completion/complete is decided as the referenced prompt or resource', () => {
    assert.deepEqual(ok({ jsonrpc: '2.0', id: 6, method: 'completion/complete', params: { ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'x', value: 'y' } } }), { method: 'completion/complete', kind: 'prompt', name: 'p', id: 6 })
    assert.deepEqual(ok({ jsonrpc: '2.0', id: 7, method: 'completion/complete', params: { ref: { type: 'ref/resource', uri: 'notes://{id}' }, argument: { name: 'id', value: '1' } } }), { method: 'completion/complete', kind: 'resource', uri: 'notes://{id}', id: 7 })
  })
  test('notifications have no id and kind notification', () => {
    for (const method of ['notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed']) {
      assert.deepEqual(ok({ jsonrpc: '2.0', method, params: {} }), { method, kind: 'notification' })
    }
  })
  test('responses to server requests (sampling, elicitation) are kind response', () => {
    assert.deepEqual(ok({ jsonrpc: '2.0', id: 9, result: {} }), { method: 'response', kind: 'response', id: 9 })
    assert.equal(ok({ jsonrpc: '2.0', id: 9, error: { code: -1, message: 'no' } }).kind, 'response')
  })
  test('unknown methods are kind other, never an error', () => {
    assert.deepEqual(ok({ jsonrpc: '2.0', id: 10, method: 'tasks/get', params: { taskId: 't' } }), { method: 'tasks/get', kind: 'other', id: 10 })
    assert.equal(ok({ jsonrpc: '2.0', id: 11, method: 'x' }).kind, 'other')
  })
  test('text and bytes are parsed', () => {
    assert.equal(ok('{"jsonrpc":"2.0","id":1,"method":"ping"}').kind, 'session')
    assert.equal(ok(new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"ping"}')).kind, 'session')
  })
})

describe('resource identifiers are classified in the form the SDK resolves them', () => {
  const read = (uri: string, method = 'resources/read') => ({ jsonrpc: '2.0', id: 1, method, params: { uri } })
  for (const method of ['resources/read', 'resources/subscribe', 'resources/unsubscribe']) {
    test(`${method}: the action and the message carry new URL(uri).href`, () => {
      const sent = read('NOTES://a/public/%2e%2e/private/./x', method)
      const c = classifyMessage(sent)
      assert.ok(c.ok)
      assert.equal(c.action.uri, 'notes://a/private/x')
      assert.deepEqual(c.message, { jsonrpc: '2.0', id: 1, method, params: { uri: 'notes://a/private/x' } })
      assert.equal(sent.params.uri, 'NOTES://a/public/%2e%2e/private/./x', "the caller's object is not modified")
    })
  }
  test('odd spellings resolve to what McpServer looks up', () => {
    const cases: Array<[string, string]> = [
      ['notes://a/../b', 'notes://a/b'],
      ['notes://a/%2E%2e/b', 'notes://a/b'],
      ['notes://a:/x', 'notes://a/x'],
      ['notes://@a/x', 'notes://a/x'],
      ['HTTPS://Example.COM:443/x', 'https://example.com/x'],
      ['file:///srv/../etc/passwd', 'file:///etc/passwd'],
      ['notes://a/b c', 'notes://a/b%20c'],
      ['notes://a/é', 'notes://a/%C3%A9'],
      ['notes://a/x?y#z', 'notes://a/x?y#z'],
    ]
    for (const [raw, canonical] of cases) {
      const c = classifyMessage(read(raw))
      assert.ok(c.ok, raw)
      assert.equal(c.action.uri, canonical, raw)
      assert.equal(c.action.uri, new URL(raw).href, `${raw}: the SDK's own algorithm`)
      assert.equal((c.message.params as { uri: string }).uri, canonical)
    }
  })
  test('a canonical URI is handed on untouched (same message object)', () => {
    const sent = read('notes://a/x')
    const c = classifyMessage(sent)
    assert.ok(c.ok)
    assert.equal(c.message, sent)
  })
  test('ambiguous identifiers are refused with -32602, the id echoed and the URI not echoed', () => {
    for (const uri of ['notes://a/\tx', 'notes://a/x\n', 'notes://a/\rx', ' notes://a/x', 'notes://a/x ', 'notes://a/x\u0000', 'notes://user:secret-pw@a/x', 'notes://user@a/x', 'not a uri', 'notes://a b/x', '/relative/x']) {
      const c = refused({ jsonrpc: '2.0', id: 'r1', method: 'resources/read', params: { uri } }, -32602)
      assert.equal(c.id, 'r1')
      assert.ok(!c.error.message.includes('secret-pw'), 'the refusal never echoes the URI')
      assert.match(c.error.message, /^Invalid params: resources\/read params\.uri /)
    }
  })
  test('a URI whose canonical form exceeds the string limit is refused', () => {
    const uri = `notes://a/${'é'.repeat(20)}`
    assert.ok(classifyMessage(read(uri), { maxStringLength: 200 }).ok)
    refused(read(uri), -32602, { maxStringLength: 100 })
  })
  test('completion ref/resource: literal parts canonical, template expressions verbatim', () => {
    const complete = (uri: string) => ({ jsonrpc: '2.0', id: 7, method: 'completion/complete', params: { ref: { type: 'ref/resource', uri }, argument: { name: 'id', value: '1' } } })
    const c = classifyMessage(complete('NOTES://a/./private/{id}'))
    assert.ok(c.ok)
    assert.equal(c.action.uri, 'notes://a/private/{id}')
    assert.deepEqual(c.message.params, { ref: { type: 'ref/resource', uri: 'notes://a/private/{id}' }, argument: { name: 'id', value: '1' } })
    const same = complete('notes://{folder}/{id}{?q}')
    const d = classifyMessage(same)
    assert.ok(d.ok && d.action.uri === 'notes://{folder}/{id}{?q}' && d.message === same)
    assert.equal(classifyMessage(complete('notes://a/x')).ok && (classifyMessage(complete('NOTES://a/x')) as { action: { uri: string } }).action.uri, 'notes://a/x')
    refused(complete('notes://a/{id'), -32602)
    refused(complete('notes://a/id}'), -32602)
    refused(complete('notes://a/{x}/../b'), -32602) // the expression would vanish in a dot segment
    refused(complete('notes://a/mcpauthzexpr0z/{id}'), -32602)
    refused(complete('notes://a/\t{id}'), -32602)
  })
})

describe('a message with both a method and a result or error is not JSON-RPC 2.0', () => {
  test('request or notification carrying result / error → -32600, not decided as either', () => {
    assert.equal(refused({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'x' }, result: {} }, -32600).id, 3)
    refused({ jsonrpc: '2.0', id: 3, method: 'ping', error: { code: 1, message: 'x' } }, -32600)
    refused({ jsonrpc: '2.0', method: 'notifications/initialized', result: {} }, -32600)
    refused('{"jsonrpc":"2.0","id":3,"result":{},"method":"admin/shutdown"}', -32600)
  })
  test('a response is still a response, and a request still a request', () => {
    assert.equal(ok({ jsonrpc: '2.0', id: 3, result: {} }).kind, 'response')
    assert.equal(ok({ jsonrpc: '2.0', id: 3, method: 'ping' }).kind, 'session')
  })
})

describe('classifyMessage refuses malformed messages with the right JSON-RPC error', () => {
  test('-32700 for invalid JSON and invalid UTF-8', () => {
    refused('{', -32700)
    refused(new Uint8Array([0x7b, 0xff, 0x7d]), -32700)
  })
  test('-32600 for batches, non-objects, wrong version, bad ids, missing method', () => {
    refused([{ jsonrpc: '2.0', id: 1, method: 'ping' }], -32600)
    refused('"hello"', -32600)
    refused(null, -32600)
    refused({ jsonrpc: '1.0', id: 1, method: 'ping' }, -32600)
    refused({ jsonrpc: '2.0', id: { x: 1 }, method: 'ping' }, -32600)
    refused({ jsonrpc: '2.0', id: 1.5, method: 'ping' }, -32600)
    refused({ jsonrpc: '2.0', id: 1 }, -32600)
    refused({ jsonrpc: '2.0', id: 1, method: 'ping', params: [1] }, -32600)
  })
  test('-32602 for MCP methods missing what authorization needs, with the id echoed', () => {
    assert.equal(refused({ jsonrpc: '2.0', id: 42, method: 'tools/call', params: {} }, -32602).id, 42)
    refused({ jsonrpc: '2.0', id: 1, method: 'prompts/get', params: { name: '' } }, -32602)
    refused({ jsonrpc: '2.0', id: 1, method: 'resources/read' }, -32602)
    refused({ jsonrpc: '2.0', id: 1, method: 'completion/complete', params: { ref: { type: 'ref/x' } } }, -32602)
  })
  test('bounds: size, depth, string length and argument count, each at the limit and beyond', () => {
    const msg = (args: unknown) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 't', arguments: args } })
    const small = msg({ a: 'x' })
    assert.ok(classifyMessage(small, { maxBytes: Buffer.byteLength(small) }).ok)
    refused(small, -32700, { maxBytes: Buffer.byteLength(small) - 1 })
    // depth: message(1) > params(2) > arguments(3) > nested arrays
    const nested = (n: number) => msg({ a: JSON.parse('['.repeat(n) + ']'.repeat(n)) })
    assert.ok(classifyMessage(nested(6), { maxDepth: 9 }).ok)
    refused(nested(7), -32700, { maxDepth: 9 })
    refused(JSON.parse(nested(7)), -32700, { maxDepth: 9 })
    assert.ok(classifyMessage(msg({ a: 'x'.repeat(100) }), { maxStringLength: 100 }).ok)
    refused(msg({ a: 'x'.repeat(101) }), -32700, { maxStringLength: 100 })
    refused(msg({ ['k'.repeat(101)]: 1 }), -32700, { maxStringLength: 100 })
    const args = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, i]))
    assert.ok(classifyMessage(msg(args(3)), { maxArguments: 3 }).ok)
    refused(msg(args(4)), -32602, { maxArguments: 3 })
  })
  test('a million nested brackets are refused in linear time, not a stack overflow', () => {
    const deep = '['.repeat(1_000_000) + ']'.repeat(1_000_000)
    refused(deep, -32700, { maxBytes: 4_000_000 })
    assert.equal(jsonDepthExceeds('{"a":"[[[[[[["}', 2), false, 'brackets inside strings do not count')
  })
  test('bad limits fail fast naming the option', () => {
    assert.throws(() => classifyMessage('{}', { maxDepth: 0 }), /limits\.maxDepth/)
  })
})
