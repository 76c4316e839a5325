import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildDecisionRecord, createRecordBuilder, DEFAULT_LABELS, fallbackRecord } from '../../src/decision-log/record.ts'
import { createRedactor } from '../../src/decision-log/redact.ts'
import type { PolicyInput } from '../../src/policy/decision.ts'
import { makeJwt, sampleEvent } from './helpers.ts'

describe('decision record', () => {
  it('has the OPA decision-log shape plus the mcp summary (every field)', () => {
    const event = sampleEvent()
    const record = buildDecisionRecord(event, { labels: { service: 'notes-mcp', instance: 'pod-7', version: '1.2.3', region: 'eu' }, masks: ['/input/action/arguments/body'] })
    const input = structuredClone(event.input) as PolicyInput
    delete (input.action.arguments as Record<string, unknown>).body
    ;(input.action.arguments as Record<string, unknown>).password = '[REDACTED:secret_field]'
    assert.deepEqual(record, {
      decision_id: '4ca636c1-55e4-417a-b1d8-4aceb67960d1',
      timestamp: '2025-11-25T10:00:00.123Z',
      path: 'mcp/authz/decision',
      input,
      result: { allow: false, reasons: [{ code: 'insufficient_scope', message: 'tool create_note needs notes:admin' }], required_scopes: ['notes:admin'] },
      bundles: { authz: { revision: '2025-11-25T09:00:00Z' } },
      metrics: { timer_verify_ns: 12_000, timer_rego_query_eval_ns: 41_000, timer_server_handler_ns: 90_500 },
      labels: { service: 'notes-mcp', instance: 'pod-7', id: 'pod-7', version: '1.2.3', region: 'eu' },
      erased: ['/input/action/arguments/body'],
      masked: ['/input/action/arguments/password'],
      mcp: {
        method: 'tools/call',
        kind: 'tool',
        tool: 'create_note',
        jsonrpc_id: 7,
        request_id: 'req-1',
        subject: 'alice',
        client_id: 'notes-desktop',
        issuer: 'https://as.example',
        tenant: 'acme',
        auth_method: 'jwt',
        token_id: 'jti-5f0c2a',
        allow: false,
        reasons: ['insufficient_scope'],
        enforcement: 'enforced',
        would_allow: false,
        http_status: 403,
        transport: 'http',
        latency_ms: 0.091,
        redactions: 1,
      },
    })
    assert.match(record.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)
  })

  it('never carries headers, authorization values or tokens, wherever they were put', () => {
    const jwt = makeJwt()
    const event = sampleEvent()
    const input = event.input as PolicyInput & { headers?: unknown }
    input.headers = { authorization: `Bearer ${jwt}`, cookie: 'sid=abc' }
    ;(input.action as { meta?: unknown }).meta = { progressToken: 1, forwarded: { Authorization: `Bearer ${jwt}` }, note: `use ${jwt}` }
    input.action.arguments = { query: 'x', auth_header: `Bearer ${jwt}`, nested: [{ headers: { 'x-api-key': 'k' } }] }
    event.result.reasons.push({ code: 'argument_denied', message: `argument contains ${jwt}` })
    event.error = { code: 'ERR_JWT_EXPIRED', message: `token ${jwt} expired` }
    const record = buildDecisionRecord(event)
    const text = JSON.stringify(record)
    assert.equal(text.includes(jwt), false)
    assert.equal(text.includes(jwt.split('.')[2] as string), false)
    assert.equal(/"headers"|"authorization"|"cookie"/i.test(text), false)
    assert.deepEqual(record.error, { code: 'ERR_JWT_EXPIRED', message: 'token [REDACTED:jwt] expired' })
    assert.ok(record.erased?.includes('/input/headers'))
    assert.ok(record.erased?.includes('/input/action/meta/forwarded/Authorization'))
    assert.ok(record.masked?.includes('/error/message'))
    assert.ok(record.masked?.includes('/result/reasons/1/message'))
    // the event itself is untouched
    assert.equal((event.input as unknown as { headers: { authorization: string } }).headers.authorization, `Bearer ${jwt}`)
  })

  it('records a failed verification (no input) with the error code and a redacted message', () => {
    const jwt = makeJwt()
    const record = buildDecisionRecord(
      sampleEvent({ input: undefined, result: { allow: false, reasons: [], required_scopes: [] }, error: { code: 'ERR_JWT_INVALID', message: `signature check failed for ${jwt}` }, httpStatus: 401, metrics: { verify_ns: 5000, total_ns: 6000 }, wouldAllow: undefined }),
    )
    assert.equal('input' in record, false)
    assert.deepEqual(record.error, { code: 'ERR_JWT_INVALID', message: 'signature check failed for [REDACTED:jwt]' })
    assert.deepEqual(record.metrics, { timer_verify_ns: 5000, timer_server_handler_ns: 6000 })
    assert.deepEqual(record.mcp, { allow: false, reasons: [], enforcement: 'enforced', http_status: 401, error_code: 'ERR_JWT_INVALID', transport: 'http', latency_ms: 0.006, redactions: 1 })
  })

  it('carries shadow-mode fields', () => {
    const record = buildDecisionRecord(sampleEvent({ enforcement: 'shadow', wouldAllow: false, httpStatus: 200 }))
    assert.equal(record.mcp.enforcement, 'shadow')
    assert.equal(record.mcp.would_allow, false)
    assert.equal(record.mcp.allow, false)
    assert.equal(record.mcp.http_status, 200)
  })

  it('names resources and prompts', () => {
    const base = sampleEvent()
    const resource = buildDecisionRecord({ ...base, input: { ...(base.input as PolicyInput), action: { method: 'resources/read', kind: 'resource', uri: 'https://bob:pw@files.example/a.txt' } } })
    assert.equal(resource.mcp.resource_uri, 'https://[REDACTED:url_credentials]@files.example/a.txt')
    assert.equal(resource.mcp.tool, undefined)
    const prompt = buildDecisionRecord({ ...base, input: { ...(base.input as PolicyInput), action: { method: 'prompts/get', kind: 'prompt', name: 'summarise' } } })
    assert.equal(prompt.mcp.prompt, 'summarise')
    assert.equal(prompt.mcp.tool, undefined)
  })

  it('uses defaults: labels, bundle name, no revision, missing metrics', () => {
    const record = buildDecisionRecord(sampleEvent({ revision: undefined, metrics: { total_ns: 1_000_000 } }))
    assert.deepEqual(record.labels, { ...DEFAULT_LABELS, id: DEFAULT_LABELS.instance })
    assert.equal(record.labels.service, 'mcp-authz')
    assert.match(record.labels.version as string, /^\d+\.\d+\.\d+/)
    assert.deepEqual(record.bundles, { authz: {} })
    assert.deepEqual(record.metrics, { timer_server_handler_ns: 1_000_000 })
    assert.equal(record.mcp.latency_ms, 1)
    assert.deepEqual(buildDecisionRecord(sampleEvent(), { bundleName: 'mcp' }).bundles, { mcp: { revision: '2025-11-25T09:00:00Z' } })
  })

  it('survives malformed events (bad date, empty id, negative timers)', () => {
    const record = buildDecisionRecord(sampleEvent({ timestamp: new Date(Number.NaN), decisionId: '', metrics: { eval_ns: -1, total_ns: Number.NaN } }))
    assert.match(record.timestamp, /Z$/)
    assert.match(record.decision_id, /^[0-9a-f-]{36}$/)
    assert.deepEqual(record.metrics, { timer_server_handler_ns: 0 })
  })

  it('erasing /input by mask leaves the record without input', () => {
    const record = buildDecisionRecord(sampleEvent(), { masks: ['/input'] })
    assert.equal('input' in record, false)
    assert.deepEqual(record.erased, ['/input'])
    assert.equal(record.mcp.subject, undefined)
  })

  it('flags truncation', () => {
    const build = createRecordBuilder({ redactor: createRedactor({ maxStringLength: 4 }) })
    const record = build(sampleEvent())
    assert.equal(record.mcp.truncated, true)
  })

  it('rejects bad options with a TypeError', () => {
    assert.throws(() => createRecordBuilder({ labels: { service: 1 as never } }), { name: 'TypeError', message: /labels\.service/ })
    assert.throws(() => createRecordBuilder({ bundleName: '' }), { name: 'TypeError', message: /bundleName/ })
    assert.throws(() => createRecordBuilder({ masks: ['nope'] }), { name: 'TypeError', message: /masks\[0\]/ })
  })

  it('fallback record keeps only ids and outcome', () => {
    const event = sampleEvent()
    Object.defineProperty(event, 'metrics', {
      get() {
        throw new Error('boom')
      },
    })
    const record = fallbackRecord(event, { service: 's' })
    assert.equal(record.decision_id, event.decisionId)
    assert.equal('input' in record, false)
    assert.deepEqual(record.erased, ['/input', '/result/reasons'])
    assert.equal(record.metrics.timer_server_handler_ns, 0)
  })
})
