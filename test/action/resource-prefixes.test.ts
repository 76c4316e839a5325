// Resource prefix rules are written in the canonical form the classifier decides on; a
// non-canonical prefix is refused when the data is validated, naming the form to write instead.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { resourcePrefixProblems } from '../../src/action/resource-prefixes.ts'
import { schemaProblems } from '../../src/schemas.ts'
import { PolicyError } from '../../src/policy/errors.ts'
import { buildTestBundle, testData } from '../helpers/bundle.ts'

const withPrefixes = (...prefixes: string[]) => ({ mcp_authz: { ...testData.mcp_authz, resources: prefixes.map((prefix) => ({ prefix, scopes: ['notes:read'] })) } })

describe('resourcePrefixProblems', () => {
  test('canonical prefixes pass, including scheme-only and template literal parts', () => {
    assert.deepEqual(resourcePrefixProblems(withPrefixes('notes://', 'notes://private/', 'notes://a', 'file:///srv/', 'https://example.com/docs/', 'notes:', 'search://q?')), [])
  })
  test('each non-canonical prefix is named by JSON path with its canonical form', () => {
    assert.deepEqual(resourcePrefixProblems(withPrefixes('notes://', 'NOTES://private/', 'notes://a/../secret/', 'notes://a/%2e%2e/b', 'https://Example.com', 'notes://a:/x')), [
      { path: '$.mcp_authz.resources[1].prefix', message: 'must be in canonical form: notes://private/' },
      { path: '$.mcp_authz.resources[2].prefix', message: 'must be in canonical form: notes://a/secret/' },
      { path: '$.mcp_authz.resources[3].prefix', message: 'must be in canonical form: notes://a/b' },
      { path: '$.mcp_authz.resources[4].prefix', message: 'must be in canonical form: https://example.com/' },
      { path: '$.mcp_authz.resources[5].prefix', message: 'must be in canonical form: notes://a/x' },
    ])
  })
  test('prefixes with no canonical form are refused too', () => {
    const problems = resourcePrefixProblems(withPrefixes('notes', 'notes://a/\tb', 'notes://user:pw@a/'))
    assert.deepEqual(problems.map((p) => p.path), ['$.mcp_authz.resources[0].prefix', '$.mcp_authz.resources[1].prefix', '$.mcp_authz.resources[2].prefix'])
    assert.ok(problems.every((p) => p.message.startsWith('must be a canonical absolute URI prefix')))
    assert.ok(!problems.some((p) => p.message.includes('pw')), 'userinfo is not echoed')
  })
  test('anything that is not a prefix list is left to the schema', () => {
    assert.deepEqual(resourcePrefixProblems(undefined), [])
    assert.deepEqual(resourcePrefixProblems({ mcp_authz: { resources: 'x' } }), [])
    assert.deepEqual(resourcePrefixProblems({ mcp_authz: { resources: [null, { prefix: 3 }] } }), [])
  })
})

describe('data validation runs the prefix check (build and load refuse non-canonical prefixes)', () => {
  test("schemaProblems('data') reports it", () => {
    assert.deepEqual(schemaProblems('data', withPrefixes('NOTES://private/')), [{ path: '$.mcp_authz.resources[0].prefix', message: 'must be in canonical form: notes://private/' }])
    assert.deepEqual(schemaProblems('data', withPrefixes('notes://private/')), [])
  })
  test('mcp-authz build refuses the data with ERR_DATA_INVALID', async () => {
    await assert.rejects(buildTestBundle(withPrefixes('notes://a/./b/')), (e: unknown) => e instanceof PolicyError && e.code === 'ERR_DATA_INVALID' && /notes:\/\/a\/b\//.test(e.message))
  })
})
