import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import type { DecisionLogError } from '../../src/decision-log/errors.ts'
import { createDecisionLogger } from '../../src/decision-log/logger.ts'
import type { DecisionRecord } from '../../src/decision-log/record.ts'
import type { DecisionLogSink, SinkStats } from '../../src/decision-log/sinks/sink.ts'
import { allowEvent, makeJwt, sampleEvent, seeded } from './helpers.ts'

/** A sink that keeps records in memory. */
function memorySink(name = 'memory'): DecisionLogSink & { records: DecisionRecord[] } {
  const records: DecisionRecord[] = []
  return {
    name,
    records,
    write: (r) => void records.push(r),
    flush: async () => {},
    close: async () => {},
    stats: (): SinkStats => ({ written: records.length, dropped: 0, failed: 0 }),
  }
}

describe('decision logger', () => {
  it('logs every decision by default: builds the redacted record and fans it out to every sink', () => {
    const a = memorySink('a')
    const b = memorySink('b')
    const logger = createDecisionLogger({ labels: { service: 'notes-mcp' } }, { sinks: [a, b] })
    const record = logger.log(sampleEvent())
    assert.ok(record)
    assert.equal(a.records[0], record)
    assert.equal(b.records[0], record)
    assert.equal(record.labels.service, 'notes-mcp')
    assert.equal((record.input as { action: { arguments: { password: string } } }).action.arguments.password, '[REDACTED:secret_field]')
    const stats = logger.stats()
    assert.deepEqual({ events: stats.events, logged: stats.logged, written: stats.written }, { events: 1, logged: 1, written: 2 })
    assert.deepEqual(Object.keys(stats.sinks), ['a', 'b'])
  })

  it('samples allowed decisions; denies are always kept', () => {
    const sink = memorySink()
    const random = seeded(42)
    const expected = seeded(42)
    const logger = createDecisionLogger({ sinks: [], sample: { allow: 0.1 } }, { sinks: [sink], random })
    let expectedAllows = 0
    for (let i = 0; i < 1000; i++) {
      if (expected() < 0.1) expectedAllows++
      logger.log(allowEvent('tools/call', { decisionId: `a-${i}` }))
    }
    for (let i = 0; i < 200; i++) logger.log(sampleEvent({ decisionId: `d-${i}` }))
    const stats = logger.stats()
    assert.equal(stats.events, 1200)
    assert.equal(stats.logged, expectedAllows + 200)
    assert.equal(stats.sampledOut, 1000 - expectedAllows)
    assert.ok(expectedAllows > 60 && expectedAllows < 140, `~10% of allows kept (${expectedAllows})`)
    assert.equal(sink.records.filter((r) => !r.mcp.allow).length, 200, 'every deny kept')
  })

  it('never samples away would-be denies (shadow), errors or error statuses', () => {
    const sink = memorySink()
    const logger = createDecisionLogger({ sinks: [], sample: { allow: 0 } }, { sinks: [sink] })
    assert.ok(logger.log(allowEvent('tools/call', { enforcement: 'shadow', wouldAllow: false })))
    assert.ok(logger.log(allowEvent('tools/call', { error: { code: 'ERR_X', message: 'x' } })))
    assert.ok(logger.log(allowEvent('tools/call', { httpStatus: 401 })))
    assert.ok(logger.log(sampleEvent({ enforcement: 'shadow', httpStatus: 200 })))
    assert.equal(logger.log(allowEvent()), undefined)
    assert.deepEqual(logger.stats().logged, 4)
    assert.deepEqual(logger.stats().sampledOut, 1)
  })

  it('per-method rates override the allow rate', () => {
    const sink = memorySink()
    const logger = createDecisionLogger({ sinks: [], sample: { allow: 0, methods: { 'tools/call': 1, 'tools/list': 0 } } }, { sinks: [sink] })
    assert.ok(logger.log(allowEvent('tools/call')))
    assert.equal(logger.log(allowEvent('tools/list')), undefined)
    assert.equal(logger.log(allowEvent('resources/list')), undefined)
  })

  it('drop rules skip noisy allows (by method or kind) but keep denies', () => {
    const sink = memorySink()
    const logger = createDecisionLogger({ sinks: [], drop: { methods: ['ping'], kinds: ['list'] } }, { sinks: [sink] })
    assert.equal(logger.log(allowEvent('ping')), undefined)
    assert.equal(logger.log(allowEvent('tools/list')), undefined)
    assert.ok(logger.log(allowEvent('tools/call')))
    const deniedPing = allowEvent('ping', { result: { allow: false, reasons: [{ code: 'method_not_allowed', message: 'no' }], required_scopes: [] }, wouldAllow: false })
    assert.ok(logger.log(deniedPing))
    assert.equal(logger.stats().droppedByRule, 2)
  })

  it('applies masks and redaction options from the configuration', () => {
    const sink = memorySink()
    const logger = createDecisionLogger(
      { sinks: [], masks: ['/input/action/arguments/body', { op: 'upsert', path: '/input/principal/subject', value: 'anon' }], redaction: { extraSecretKeys: ['title'] } },
      { sinks: [sink] },
    )
    const record = logger.log(sampleEvent()) as DecisionRecord
    const args = (record.input as { action: { arguments: Record<string, unknown> } }).action.arguments
    assert.deepEqual(args, { title: '[REDACTED:secret_field]', password: '[REDACTED:secret_field]' })
    assert.equal(record.mcp.subject, 'anon')
    assert.deepEqual(record.erased, ['/input/action/arguments/body'])
    assert.deepEqual(record.masked, ['/input/principal/subject', '/input/action/arguments/title', '/input/action/arguments/password'])
  })

  it('errors inside sinks never reach the caller; other sinks still get the record', async () => {
    const errors: DecisionLogError[] = []
    const good = memorySink('good')
    const bad: DecisionLogSink = {
      name: 'bad',
      write() {
        throw new Error('disk on fire')
      },
      flush: () => Promise.reject(new Error('no')),
      close: () => Promise.reject(new Error('no')),
      stats() {
        throw new Error('no')
      },
    }
    const logger = createDecisionLogger(
      { sinks: [] },
      {
        sinks: [bad, good],
        onError: (e) => {
          errors.push(e)
          throw new Error('hook bug')
        },
      },
    )
    assert.doesNotThrow(() => logger.log(sampleEvent()))
    assert.equal(good.records.length, 1)
    assert.equal(errors[0]?.code, 'ERR_DECISION_LOG_WRITE_FAILED')
    assert.equal(errors[0]?.sink, 'bad')
    await logger.flush()
    assert.deepEqual(Object.keys(logger.stats().sinks), ['good'])
    await logger.close()
  })

  it('a record that cannot be built becomes a minimal record, never an exception', () => {
    const sink = memorySink()
    const errors: DecisionLogError[] = []
    const logger = createDecisionLogger({ sinks: [] }, { sinks: [sink], onError: (e) => errors.push(e) })
    const event = sampleEvent({ error: { code: 'ERR_JWT_EXPIRED', message: makeJwt() } })
    Object.defineProperty(event, 'metrics', {
      get() {
        throw new Error('boom')
      },
    })
    const record = logger.log(event)
    assert.ok(record)
    assert.equal(record.decision_id, event.decisionId)
    assert.equal('input' in record, false)
    assert.equal(record.mcp.error_code, 'ERR_JWT_EXPIRED')
    assert.equal(JSON.stringify(record).includes('eyJ'), false)
    assert.equal(errors[0]?.code, 'ERR_DECISION_LOG_RECORD_FAILED')
    assert.equal(logger.stats().recordErrors, 1)
  })

  it('writes to stdout sinks through pino (hooks.stdout in tests)', async () => {
    const chunks: string[] = []
    const out = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString())
        cb()
      },
    })
    const logger = createDecisionLogger({}, { stdout: out })
    logger.log(sampleEvent())
    logger.log(allowEvent())
    await logger.flush()
    const lines = chunks.join('').trim().split('\n')
    assert.equal(lines.length, 2)
    assert.equal((JSON.parse(lines[0] as string) as { decision_id: string }).decision_id, sampleEvent().decisionId)
    assert.deepEqual(logger.stats().sinks, { stdout: { written: 2, dropped: 0, failed: 0 } })
    await logger.close()
  })

  it('after close, log() returns undefined and counts', async () => {
    const sink = memorySink()
    const logger = createDecisionLogger({ sinks: [] }, { sinks: [sink] })
    await logger.close()
    assert.equal(logger.log(sampleEvent()), undefined)
    assert.equal(logger.stats().afterClose, 1)
    assert.equal(sink.records.length, 0)
  })

  it('enabled: false turns logging off', () => {
    const sink = memorySink()
    const logger = createDecisionLogger({ enabled: false }, { sinks: [sink] })
    assert.equal(logger.log(sampleEvent()), undefined)
    assert.equal(sink.records.length, 0)
  })

  it('names duplicate sinks apart in stats', () => {
    const logger = createDecisionLogger({ sinks: [] }, { sinks: [memorySink('x'), memorySink('x')] })
    assert.deepEqual(Object.keys(logger.stats().sinks), ['x', 'x#2'])
  })

  it('its options survive a JSON round trip (they come from a configuration file)', () => {
    const options = {
      sinks: [{ type: 'http' as const, url: 'https://collector.example/logs', batchMaxRecords: 100, retry: { maxAttempts: 3 } }],
      masks: ['/input/action/arguments/body', { op: 'upsert' as const, path: '/input/principal/claims/email', value: '***' }],
      redaction: { maxDepth: 16, entropy: { minLength: 24 }, customPatterns: [{ name: 'acme', pattern: 'acme_[0-9a-f]{32}' }] },
      sample: { allow: 0.5, methods: { ping: 0 } },
      drop: { methods: ['notifications/initialized'] },
      labels: { service: 'svc', region: 'eu' },
    }
    const logger = createDecisionLogger(JSON.parse(JSON.stringify(options)) as typeof options)
    assert.ok(logger)
    void logger.close()
  })

  it('rejects bad options with a TypeError naming the option', () => {
    assert.throws(() => createDecisionLogger({ sample: { allow: 2 } }), { name: 'TypeError', message: /sample\.allow/ })
    assert.throws(() => createDecisionLogger({ sample: { methods: { ping: -1 } } }), { name: 'TypeError', message: /sample\.methods\["ping"\]/ })
    assert.throws(() => createDecisionLogger({ sinks: [{ type: 'kafka' } as never] }), { name: 'TypeError', message: /sinks\[0\]\.type/ })
    assert.throws(() => createDecisionLogger({ sinks: [{ type: 'http', url: 'nope' }] }), { name: 'TypeError', message: /sinks\.http\.url/ })
    assert.throws(() => createDecisionLogger({ masks: ['/headers'] }), { name: 'TypeError', message: /masks\[0\]/ })
    assert.throws(() => createDecisionLogger({ redaction: { maxDepth: -1 } }), { name: 'TypeError', message: /redaction\.maxDepth/ })
    assert.throws(() => createDecisionLogger({ labels: { service: 3 as never } }), { name: 'TypeError', message: /labels\.service/ })
    assert.throws(() => createDecisionLogger({ enabled: 'yes' as never }), { name: 'TypeError', message: /enabled/ })
  })
})
