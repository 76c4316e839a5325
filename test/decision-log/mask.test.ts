import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { applyMasks, compileMasks, escapePointerSegment, parsePointer } from '../../src/decision-log/mask.ts'

const input = () => ({
  action: { method: 'tools/call', name: 'login', arguments: { user: 'al', password: 'pw', 'a/b': 1, 'c~d': 2, list: ['x', 'y', 'z'] } },
  principal: { subject: 'al', claims: { email: 'al@example.com' } },
})
const result = () => ({ allow: false, reasons: [{ code: 'argument_denied', message: 'password too short' }], required_scopes: [] })

describe('masks (OPA system.log.mask semantics)', () => {
  it('a string pointer erases, and the pointer is listed in erased', () => {
    const out = applyMasks(compileMasks(['/input/action/arguments/password']), input(), result())
    assert.deepEqual((out.input as ReturnType<typeof input>).action.arguments, { user: 'al', 'a/b': 1, 'c~d': 2, list: ['x', 'y', 'z'] })
    assert.deepEqual(out.erased, ['/input/action/arguments/password'])
    assert.deepEqual(out.masked, [])
  })

  it('{ op: "remove" } is the same as a string', () => {
    const out = applyMasks(compileMasks([{ op: 'remove', path: '/input/principal/claims/email' }]), input(), result())
    assert.deepEqual((out.input as ReturnType<typeof input>).principal.claims, {})
    assert.deepEqual(out.erased, ['/input/principal/claims/email'])
  })

  it('upsert replaces an existing value and is listed in masked', () => {
    const out = applyMasks(compileMasks([{ op: 'upsert', path: '/input/action/arguments/password', value: '***' }]), input(), result())
    assert.equal((out.input as ReturnType<typeof input>).action.arguments.password, '***')
    assert.deepEqual(out.masked, ['/input/action/arguments/password'])
  })

  it('upsert inserts a missing value, creating intermediate objects', () => {
    const out = applyMasks(compileMasks([{ op: 'upsert', path: '/input/extra/deep/flag', value: { masked: true } }]), input(), result())
    assert.deepEqual((out.input as { extra: unknown }).extra, { deep: { flag: { masked: true } } })
    assert.deepEqual(out.masked, ['/input/extra/deep/flag'])
  })

  it('unescapes ~1 and ~0 in pointers', () => {
    const out = applyMasks(compileMasks(['/input/action/arguments/a~1b', '/input/action/arguments/c~0d']), input(), result())
    assert.deepEqual(Object.keys((out.input as ReturnType<typeof input>).action.arguments), ['user', 'password', 'list'])
    assert.deepEqual(out.erased, ['/input/action/arguments/a~1b', '/input/action/arguments/c~0d'])
    assert.deepEqual(parsePointer('/input/~01/~10'), ['input', '~1', '/0'])
    assert.equal(escapePointerSegment('a/b~c'), 'a~1b~0c')
  })

  it('addresses array elements by index; erasing one shifts the rest, like OPA', () => {
    const out = applyMasks(compileMasks(['/input/action/arguments/list/1', { op: 'upsert', path: '/result/reasons/0/message', value: '[masked]' }]), input(), result())
    assert.deepEqual((out.input as ReturnType<typeof input>).action.arguments.list, ['x', 'z'])
    assert.deepEqual((out.result as ReturnType<typeof result>).reasons, [{ code: 'argument_denied', message: '[masked]' }])
  })

  it('skips pointers that match nothing, without listing them', () => {
    const masks = compileMasks([
      '/input/action/arguments/missing',
      '/input/nope/deeper',
      '/input/action/arguments/list/9',
      '/input/action/arguments/list/-',
      '/input/action/arguments/list/01',
      '/input/action/method/x',
      { op: 'upsert', path: '/input/action/method/x', value: 1 },
      { op: 'upsert', path: '/input/action/arguments/list/5', value: 1 },
    ])
    const before = input()
    const out = applyMasks(masks, before, result())
    assert.equal(out.input, before, 'nothing applied: same object')
    assert.deepEqual(out.erased, [])
    assert.deepEqual(out.masked, [])
  })

  it('erasing /input removes the whole input; upserting it replaces it', () => {
    assert.equal(applyMasks(compileMasks(['/input']), input(), result()).input, undefined)
    assert.deepEqual(applyMasks(compileMasks(['/input']), input(), result()).erased, ['/input'])
    assert.deepEqual(applyMasks(compileMasks([{ op: 'upsert', path: '/input', value: { redacted: true } }]), input(), result()).input, { redacted: true })
    assert.deepEqual(applyMasks(compileMasks(['/input/action']), undefined, result()), { input: undefined, result: result(), erased: [], masked: [] })
  })

  it('never modifies the caller objects', () => {
    const i = input()
    const r = result()
    const snapshot = structuredClone({ i, r })
    const out = applyMasks(compileMasks(['/input/action/arguments/password', { op: 'upsert', path: '/result/reasons/0/message', value: 'x' }, { op: 'upsert', path: '/input/new/key', value: 1 }]), i, r)
    assert.deepEqual({ i, r }, snapshot)
    assert.notEqual(out.input, i)
    assert.equal((out.input as ReturnType<typeof input>).principal, i.principal, 'untouched branches are shared')
  })

  it('upserted values are copies of the configured value', () => {
    const value = { a: 1 }
    const masks = compileMasks([{ op: 'upsert', path: '/input/x', value }])
    value.a = 2
    assert.deepEqual((applyMasks(masks, {}, {}).input as { x: unknown }).x, { a: 1 })
  })

  it('applies masks in order', () => {
    const out = applyMasks(compileMasks([{ op: 'upsert', path: '/input/a', value: 1 }, '/input/a', { op: 'upsert', path: '/input/a', value: 2 }]), {}, {})
    assert.deepEqual(out.input, { a: 2 })
    assert.deepEqual(out.masked, ['/input/a', '/input/a'])
    assert.deepEqual(out.erased, ['/input/a'])
  })

  it('rejects malformed masks with a TypeError naming the option', () => {
    assert.throws(() => compileMasks(['input/a']), { name: 'TypeError', message: /masks\[0\].*start with "\/"/ })
    assert.throws(() => compileMasks(['/headers/authorization']), { name: 'TypeError', message: /masks\[0\] must start with \/input or \/result/ })
    assert.throws(() => compileMasks(['/input/a~2']), { name: 'TypeError', message: /masks\[0\]/ })
    assert.throws(() => compileMasks([{ op: 'erase' as never, path: '/input/a' }]), { name: 'TypeError', message: /masks\[0\]\.op/ })
    assert.throws(() => compileMasks([{ op: 'upsert', path: '/input/a' }]), { name: 'TypeError', message: /masks\[0\]\.value/ })
    assert.throws(() => compileMasks([42 as never]), { name: 'TypeError', message: /masks\[0\]/ })
    assert.throws(() => compileMasks('/input/a' as never), { name: 'TypeError', message: /masks must be an array/ })
    assert.throws(() => compileMasks([`/input${'/a'.repeat(100)}`]), { name: 'TypeError', message: /segments/ })
  })
})
