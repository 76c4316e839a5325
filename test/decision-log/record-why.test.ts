/**
 * Issue 12.7: decision records say why — the rule behind each reason, what list filtering hid, the
 * related decision, the classification timer, and the real cause of a policy error (redacted,
 * never `[object Object]`).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createDecisionLogger } from '../../src/decision-log/logger.ts'
import { buildDecisionRecord, MAX_HIDDEN_LOGGED, type DecisionRecord } from '../../src/decision-log/record.ts'
import type { PolicyInput } from '../../src/policy/decision.ts'
import { allowEvent, makeJwt, sampleEvent } from './helpers.ts'

describe('decision records say why', () => {
  it('mcp.rules lists where the reasons came from, each once, in order; result.reasons keep their own rule', () => {
    const record = buildDecisionRecord(
      sampleEvent({
        result: {
          allow: false,
          reasons: [
            { code: 'insufficient_scope', message: 'needs notes:admin', rule: 'policies/mcp/authz/scopes.rego:14 tool needs scopes' },
            { code: 'argument_denied', message: 'path outside /notes', rule: 'custom/fs.rego:7' },
            { code: 'argument_denied', message: 'path has ..', rule: 'custom/fs.rego:7' },
            { code: 'default_deny', message: 'no rule allows' },
          ],
          required_scopes: ['notes:admin'],
        },
      }),
    )
    assert.deepEqual(record.mcp.rules, ['policies/mcp/authz/scopes.rego:14 tool needs scopes', 'custom/fs.rego:7'])
    assert.deepEqual(record.mcp.reasons, ['insufficient_scope', 'argument_denied', 'argument_denied', 'default_deny'])
    assert.equal((record.result as { reasons: Array<{ rule?: string }> }).reasons[1]?.rule, 'custom/fs.rego:7')
  })

  it('mcp.rules is absent when no reason names its rule (the record stays as small as before)', () => {
    assert.equal('rules' in buildDecisionRecord(sampleEvent()).mcp, false)
    assert.equal('rules' in buildDecisionRecord(sampleEvent({ result: { allow: false, reasons: [{ code: 'x', message: 'y', rule: '' }], required_scopes: [] } })).mcp, false)
  })

  it('the list-filtering record: mcp.list with kind, counts and at most 20 hidden names or URIs, redacted, tied to the list call', () => {
    const hidden = Array.from({ length: 30 }, (_, i) => `notes://private/${i}`)
    hidden[0] = 'https://alice:s3cr3t-pass@files.example/report.pdf'
    const base = allowEvent('resources/list')
    const record = buildDecisionRecord({
      ...base,
      input: { ...(base.input as PolicyInput), action: { method: 'resources/list', kind: 'list' } },
      list: { kind: 'resource', total: 42, visible: 12, hidden },
      relatedDecisionId: '0b8e7f4a-list-call',
    })
    assert.equal(MAX_HIDDEN_LOGGED, 20)
    assert.deepEqual(record.mcp.list, {
      kind: 'resource',
      total: 42,
      visible: 12,
      hidden: ['https://[REDACTED:url_credentials]@files.example/report.pdf', ...hidden.slice(1, 20)],
    })
    assert.equal(record.mcp.related_decision_id, '0b8e7f4a-list-call')
    assert.equal(JSON.stringify(record).includes('s3cr3t'), false)
    assert.ok(record.masked?.includes('/mcp/list/hidden/0'))
    assert.equal(record.mcp.redactions, 1)
  })

  it('tools and prompts: hidden names kept as given; no list, no mcp.list', () => {
    const record = buildDecisionRecord({ ...allowEvent('tools/list'), list: { kind: 'tool', total: 3, visible: 1, hidden: ['admin_reset', 'notes_delete'] } })
    assert.deepEqual(record.mcp.list, { kind: 'tool', total: 3, visible: 1, hidden: ['admin_reset', 'notes_delete'] })
    const plain = buildDecisionRecord(allowEvent('tools/list'))
    assert.equal('list' in plain.mcp, false)
    assert.equal('related_decision_id' in plain.mcp, false)
  })

  it('a malformed list (hostile or buggy caller) is normalised, never thrown on', () => {
    const record = buildDecisionRecord({ ...allowEvent('tools/list'), list: { kind: 'tool', total: -3, visible: Number.NaN, hidden: [7 as unknown as string] } })
    assert.deepEqual(record.mcp.list, { kind: 'tool', total: 0, visible: 0, hidden: ['7'] })
    const noKind = buildDecisionRecord({ ...allowEvent('tools/list'), list: { hidden: [] } as never })
    assert.equal('list' in noKind.mcp, false)
  })

  it('metrics.classify_ns becomes timer_classify_ns', () => {
    const record = buildDecisionRecord(sampleEvent({ metrics: { verify_ns: 12_000, classify_ns: 3_000, eval_ns: 41_000, total_ns: 90_500 } }))
    assert.deepEqual(record.metrics, { timer_verify_ns: 12_000, timer_classify_ns: 3_000, timer_rego_query_eval_ns: 41_000, timer_server_handler_ns: 90_500 })
    assert.deepEqual(Object.keys(record.metrics), ['timer_verify_ns', 'timer_classify_ns', 'timer_rego_query_eval_ns', 'timer_server_handler_ns'])
  })

  it('a policy_error logs its real cause, redacted, in the reason and in error — never [object Object]', () => {
    const jwt = makeJwt()
    const cause = Object.assign(new RangeError(`wasm trap while reading ${jwt}`), { code: 'ERR_WASM_TRAP' })
    const record = buildDecisionRecord(
      sampleEvent({
        result: { allow: false, reasons: [{ code: 'policy_error', message: new Error('evaluation failed', { cause }) as unknown as string }], required_scopes: [] },
        error: { code: 'ERR_POLICY_EVAL', message: 'evaluation failed', cause },
      }),
    )
    const text = JSON.stringify(record)
    assert.equal(text.includes('[object Object]'), false)
    assert.equal(text.includes(jwt), false)
    assert.deepEqual(record.error, { code: 'ERR_POLICY_EVAL', message: 'evaluation failed; cause: RangeError [ERR_WASM_TRAP]: wasm trap while reading [REDACTED:jwt]' })
    assert.equal((record.result as { reasons: Array<{ message: string }> }).reasons[0]?.message, 'Error: evaluation failed; cause: RangeError [ERR_WASM_TRAP]: wasm trap while reading [REDACTED:jwt]')
    assert.equal(record.mcp.error_code, 'ERR_POLICY_EVAL')
  })

  it('an error whose message or code is not a string is still logged as text', () => {
    const secret = `ghp_${'a1B2'.repeat(9)}`
    const objectMessage = buildDecisionRecord(sampleEvent({ error: { code: 42 as unknown as string, message: { detail: 'bundle broken', password: 'pw', token: secret } as unknown as string } }))
    assert.deepEqual(objectMessage.error, { code: '42', message: '{"detail":"bundle broken","password":"[REDACTED:secret_field]","token":"[REDACTED:github_token]"}' })
    assert.equal(objectMessage.mcp.redactions, 3, 'the input password, the error password and the token')
    const errorMessage = buildDecisionRecord(sampleEvent({ error: { code: { not: 'a code' } as unknown as string, message: new TypeError('bad input') as unknown as string, cause: 'plain text cause' } }))
    assert.deepEqual(errorMessage.error, { code: 'unknown', message: 'TypeError: bad input; cause: plain text cause' })
    assert.equal(errorMessage.mcp.error_code, 'unknown')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.equal(buildDecisionRecord(sampleEvent({ error: { code: 'E', message: cyclic as unknown as string } })).error?.message, '{"self":"[CIRCULAR]"}')
    assert.equal(buildDecisionRecord(sampleEvent({ error: { code: 'E', message: undefined as unknown as string } })).error?.message, '')
    assert.equal(buildDecisionRecord(sampleEvent({ error: { code: 'E', message: 'm', cause: null } })).error?.message, 'm')
  })

  it('the object-message error is redacted structurally: the secret-named key is hidden before it becomes text', () => {
    const record = buildDecisionRecord(sampleEvent({ error: { code: 'E', message: { password: 'hunter2-hunter2' } as unknown as string } }))
    assert.equal(JSON.stringify(record).includes('hunter2'), false)
  })

  it('the logger passes all of it through to the sinks', () => {
    const records: DecisionRecord[] = []
    const logger = createDecisionLogger({ sinks: [] }, { sinks: [{ name: 'm', write: (r) => void records.push(r), flush: async () => {}, close: async () => {}, stats: () => ({ written: records.length, dropped: 0, failed: 0 }) }] })
    logger.log({ ...allowEvent('prompts/list'), list: { kind: 'prompt', total: 2, visible: 1, hidden: ['internal_prompt'] }, relatedDecisionId: 'list-1' })
    assert.deepEqual(records[0]?.mcp.list, { kind: 'prompt', total: 2, visible: 1, hidden: ['internal_prompt'] })
    assert.equal(records[0]?.mcp.related_decision_id, 'list-1')
  })
})
