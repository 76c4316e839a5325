/**
 * List filtering decides each item in the form a call on it would be decided (resource URIs
 * canonical, as McpServer resolves them), and is recorded: what the list held, showed and hid.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createAuthz, type DecisionEvent } from '../../src/authz.ts'
import { buildTestBundle, testData, testPrincipal } from '../helpers/bundle.ts'

describe('visible()', () => {
  test('resource items are filtered on their canonical URI; unreadable ones are hidden', async () => {
    const events: DecisionEvent[] = []
    const authz = await createAuthz({ bundle: await buildTestBundle(testData), onDecision: (e) => events.push(e) })
    const items = [{ uri: 'notes://a' }, { uri: 'notes://private/a' }, { uri: 'notes://private:/b' }, { uri: 'notes://x\ty' }, { uriTemplate: 'notes://public/{id}' }, { uriTemplate: 'notes://private:/{id}' }, { name: 'no uri' }]
    const shown = authz.visible(testPrincipal, 'resource', items, { decisionId: 'list-call-1' })
    assert.deepEqual(shown, [{ uri: 'notes://a' }, { uriTemplate: 'notes://public/{id}' }], 'items come back as listed, filtered on their canonical form')
    // What a read of each would be decided: the same answer.
    for (const uri of ['notes://private:/b', 'notes://private/a']) {
      assert.equal(authz.decide(testPrincipal, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } }).allow, false, uri)
    }
    const record = events.find((e) => e.path === 'mcp/authz/visible')
    assert.ok(record)
    assert.equal(record.relatedDecisionId, 'list-call-1')
    assert.deepEqual(record.list, { kind: 'resource', total: 7, visible: 2, hidden: ['notes://private/a', 'notes://private:/b', 'notes://x\ty', 'notes://private:/{id}', ''] })
    assert.equal(record.input?.principal.subject, 'alice')
  })

  test('a record names at most 20 hidden items and counts them all', async () => {
    const events: DecisionEvent[] = []
    const authz = await createAuthz({ bundle: await buildTestBundle(testData), onDecision: (e) => events.push(e) })
    const items = Array.from({ length: 50 }, (_, i) => ({ name: `unlisted_${i}` }))
    assert.deepEqual(authz.visible(testPrincipal, 'tool', [{ name: 'notes_read' }, ...items]), [{ name: 'notes_read' }])
    const record = events.at(-1)
    assert.equal(record?.list?.total, 51)
    assert.equal(record?.list?.visible, 1)
    assert.equal(record?.list?.hidden.length, 20)
    assert.equal(record?.list?.hidden[0], 'unlisted_0')
  })
})

describe('metrics count decisions, not list filtering', () => {
  test('a filtering record is not counted in mcp_authz_decisions_total', async () => {
    const { createServerMetrics } = await import('../../src/observability/prometheus.ts')
    const metrics = createServerMetrics({ processMetrics: false })
    const authz = await createAuthz({ bundle: await buildTestBundle(testData), onDecision: metrics.observeDecision })
    authz.decide(testPrincipal, { jsonrpc: '2.0', id: 1, method: 'tools/list' })
    authz.visible(testPrincipal, 'tool', [{ name: 'notes_read' }, { name: 'other' }])
    const values = (await metrics.registry.getSingleMetric('mcp_authz_decisions_total')?.get())?.values ?? []
    assert.equal(values.reduce((n, v) => n + v.value, 0), 1)
  })
})

describe('protect() relates a list call and its filtering', () => {
  test('the filtering record names the list call’s decision id (stdio)', async () => {
    const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js')
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js')
    const { InMemoryTransport } = await import('@modelcontextprotocol/sdk/inMemory.js')
    const { protect } = await import('../../src/mcp/protect.ts')
    const events: DecisionEvent[] = []
    const authz = await createAuthz({ bundle: await buildTestBundle(testData), onDecision: (e) => events.push(e) })
    const server = new McpServer({ name: 't', version: '1' })
    server.registerTool('notes_read', {}, async () => ({ content: [] }))
    server.registerTool('notes_delete', {}, async () => ({ content: [] }))
    protect(server, authz, { principal: testPrincipal })
    const [a, b] = InMemoryTransport.createLinkedPair()
    const client = new Client({ name: 'c', version: '1' })
    await Promise.all([server.connect(b), client.connect(a)])
    try {
      const { tools } = await client.listTools()
      assert.deepEqual(tools.map((t) => t.name), ['notes_read'])
      const list = events.find((e) => e.input?.action.method === 'tools/list' && e.path === 'mcp/authz/decision')
      const filtering = events.find((e) => e.path === 'mcp/authz/visible')
      assert.ok(list && filtering)
      assert.equal(filtering.relatedDecisionId, list.decisionId)
      assert.equal(filtering.transport, 'stdio')
      assert.deepEqual(filtering.list?.hidden, ['notes_delete'])
    } finally {
      await client.close()
    }
  })
})
