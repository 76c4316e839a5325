import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DecisionLogError } from '../../src/decision-log/errors.ts'
import { createDecisionLogger } from '../../src/decision-log/logger.ts'
import { buildDecisionRecord, type DecisionRecord } from '../../src/decision-log/record.ts'
import { createHttpSink } from '../../src/decision-log/sinks/http.ts'
import { deadUrl, sampleEvent, seeded, startCollector, waitFor } from './helpers.ts'

function record(i: number): DecisionRecord {
  return buildDecisionRecord(sampleEvent({ decisionId: `d-${i}` }))
}
const ids = (batch: unknown[]): string[] => batch.map((r) => (r as DecisionRecord).decision_id)
const FAST_RETRY = { minDelayMs: 5, maxDelayMs: 20 }

describe('http sink (OPA decision log service API)', () => {
  it('POSTs gzip-compressed JSON arrays with the OPA headers and the bearer credential', async () => {
    const collector = await startCollector()
    try {
      const token = 'collector-token-0123456789'
      const sink = createHttpSink({ url: collector.url, bearerToken: token, headers: { 'X-Tenant': 'acme' }, flushIntervalMs: 60_000 }, { random: seeded(1) })
      sink.write(record(1))
      sink.write(record(2))
      await sink.flush()
      assert.equal(collector.requests.length, 1)
      const { headers, records } = collector.requests[0] as { headers: Record<string, string>; records: unknown[] }
      assert.equal(headers['content-encoding'], 'gzip')
      assert.equal(headers['content-type'], 'application/json')
      assert.equal(headers.authorization, `Bearer ${token}`)
      assert.equal(headers['x-tenant'], 'acme')
      assert.deepEqual(records, [record(1), record(2)].map((r) => JSON.parse(JSON.stringify(r))))
      assert.deepEqual(sink.stats(), { written: 2, dropped: 0, failed: 0, buffered: 0, requests: 1, retries: 0 })
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('batches by record count, then by interval', async () => {
    const collector = await startCollector()
    try {
      const sink = createHttpSink({ url: collector.url, batchMaxRecords: 3, flushIntervalMs: 40 })
      for (let i = 0; i < 7; i++) sink.write(record(i))
      // The collector keeps a batch before it answers, and the sink counts it when the answer
      // arrives: wait for both, or the third batch can be seen before it is counted (11.10).
      await waitFor(() => collector.batches.length === 3 && sink.stats().written === 7, 15_000, 'three batches, delivered and counted')
      assert.deepEqual(collector.batches.map(ids), [['d-0', 'd-1', 'd-2'], ['d-3', 'd-4', 'd-5'], ['d-6']])
      assert.equal(sink.stats().written, 7)
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('batches by bytes (a record larger than a batch goes alone)', async () => {
    const collector = await startCollector()
    try {
      const size = JSON.stringify(record(0)).length
      const sink = createHttpSink({ url: collector.url, batchMaxBytes: size * 2 + 10, flushIntervalMs: 60_000 })
      for (let i = 0; i < 5; i++) sink.write(record(i))
      const big = { ...record(9), input: { blob: 'x'.repeat(size * 3) } }
      sink.write(big)
      await sink.flush()
      assert.deepEqual(collector.batches.map((b) => b.length), [2, 2, 1, 1])
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('retries after a 500 with backoff, then delivers once', async () => {
    const collector = await startCollector((n) => (n === 0 ? 500 : 204))
    try {
      const sink = createHttpSink({ url: collector.url, flushIntervalMs: 60_000, retry: FAST_RETRY }, { random: seeded(2) })
      sink.write(record(1))
      sink.write(record(2))
      await sink.flush()
      assert.equal(collector.requests.length, 2)
      assert.deepEqual(collector.batches.map(ids), [['d-1', 'd-2']])
      assert.deepEqual(sink.stats(), { written: 2, dropped: 0, failed: 0, buffered: 0, requests: 2, retries: 1 })
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('honours Retry-After on 429 (bounded by maxDelayMs)', async () => {
    const collector = await startCollector((n) => (n === 0 ? { status: 429, headers: { 'retry-after': '3600' } } : 204))
    try {
      const sink = createHttpSink({ url: collector.url, flushIntervalMs: 60_000, retry: { minDelayMs: 5, maxDelayMs: 60 } })
      sink.write(record(1))
      const start = Date.now()
      await sink.flush()
      const waited = Date.now() - start
      // At least maxDelayMs (Retry-After honoured), and not the hour it asked for: without the cap
      // this test would hang until its timeout. The upper bound is a hang guard, not a latency check.
      assert.ok(waited >= 55 && waited < 30_000, `waited ${waited} ms`)
      assert.equal(sink.stats().written, 1)
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('does not retry a 4xx: the batch fails, is reported, and the token is never in the report', async () => {
    const collector = await startCollector(() => 400)
    try {
      const errors: DecisionLogError[] = []
      const sink = createHttpSink({ url: collector.url, bearerToken: 'sekret-token-42', flushIntervalMs: 60_000, retry: FAST_RETRY }, { onError: (e) => errors.push(e) })
      sink.write(record(1))
      await sink.flush()
      assert.equal(collector.requests.length, 1)
      assert.deepEqual(sink.stats(), { written: 0, dropped: 0, failed: 1, buffered: 0, requests: 1, retries: 0 })
      assert.equal(errors.length, 1)
      assert.equal(errors[0]?.code, 'ERR_DECISION_LOG_UPLOAD_FAILED')
      assert.match(errors[0]?.message ?? '', /HTTP 400/)
      assert.equal(JSON.stringify({ m: errors[0]?.message, s: sink.stats() }).includes('sekret'), false)
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('gives up after retry.maxAttempts and moves on to the next batch', async () => {
    const collector = await startCollector((n) => (n < 3 ? 503 : 204))
    try {
      const sink = createHttpSink({ url: collector.url, batchMaxRecords: 1, flushIntervalMs: 60_000, retry: { ...FAST_RETRY, maxAttempts: 3 } })
      sink.write(record(1))
      sink.write(record(2))
      await sink.flush()
      assert.deepEqual(collector.batches.map(ids), [['d-2']])
      assert.deepEqual(sink.stats(), { written: 1, dropped: 0, failed: 1, buffered: 0, requests: 4, retries: 2 })
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('bounds each upload with a timeout', async () => {
    const collector = await startCollector(() => 'hold')
    try {
      const sink = createHttpSink({ url: collector.url, timeoutMs: 100, flushIntervalMs: 60_000, retry: { ...FAST_RETRY, maxAttempts: 2 } })
      sink.write(record(1))
      const start = Date.now()
      await sink.flush()
      assert.ok(Date.now() - start < 20_000, 'without the timeout the held upload would never end (hang guard)')
      assert.deepEqual(sink.stats(), { written: 0, dropped: 0, failed: 1, buffered: 0, requests: 2, retries: 1 })
      await sink.close()
    } finally {
      await collector.close()
    }
  })

  it('collector down: the bounded buffer drops (and counts) what does not fit; close() gives up in time', async () => {
    const url = await deadUrl()
    const errors: DecisionLogError[] = []
    const sink = createHttpSink({ url, bufferMaxRecords: 5, flushIntervalMs: 10, closeTimeoutMs: 200, retry: { ...FAST_RETRY, maxAttempts: 1000 } }, { onError: (e) => errors.push(e) })
    for (let i = 0; i < 8; i++) sink.write(record(i))
    assert.equal(sink.stats().dropped, 3)
    assert.equal(sink.stats().buffered, 5)
    await waitFor(() => sink.stats().retries >= 2, 15_000, 'retries against the dead collector')
    const start = Date.now()
    await sink.close()
    // Without closeTimeoutMs, close() would keep retrying for 1000 attempts (over 10 s).
    assert.ok(Date.now() - start < 8000, 'close bounded by closeTimeoutMs')
    const s = sink.stats()
    assert.deepEqual({ written: s.written, dropped: s.dropped, failed: s.failed, buffered: s.buffered }, { written: 0, dropped: 3, failed: 5, buffered: 0 })
    assert.deepEqual(
      errors.map((e) => e.code),
      ['ERR_DECISION_LOG_BUFFER_FULL', 'ERR_DECISION_LOG_UPLOAD_FAILED'],
    )
    sink.write(record(99))
    assert.equal(sink.stats().dropped, 4, 'writes after close are dropped')
  })

  it('also bounds the buffer by bytes', async () => {
    const url = await deadUrl()
    const size = JSON.stringify(record(0)).length
    const sink = createHttpSink({ url, bufferMaxBytes: size * 2 + 1, flushIntervalMs: 60_000, closeTimeoutMs: 50, retry: FAST_RETRY })
    for (let i = 0; i < 4; i++) sink.write(record(i))
    assert.equal(sink.stats().buffered, 2)
    assert.equal(sink.stats().dropped, 2)
    await sink.close()
  })

  it('close() uploads what is left without waiting for the interval', async () => {
    const collector = await startCollector()
    try {
      const sink = createHttpSink({ url: collector.url, flushIntervalMs: 600_000 })
      for (let i = 0; i < 3; i++) sink.write(record(i))
      assert.equal(collector.requests.length, 0)
      await sink.close()
      assert.deepEqual(collector.batches.map(ids), [['d-0', 'd-1', 'd-2']])
      assert.equal(sink.stats().written, 3)
    } finally {
      await collector.close()
    }
  })

  it('a slow collector never delays log(): records are accepted while an upload hangs', async () => {
    const collector = await startCollector((n) => (n === 0 ? 'hold' : 204))
    try {
      const sink = createHttpSink({ url: collector.url, batchMaxRecords: 1, flushIntervalMs: 60_000, timeoutMs: 30_000 })
      const logger = createDecisionLogger({ sinks: [] }, { sinks: [sink] })
      const first = logger.log(sampleEvent({ decisionId: 'first' }))
      assert.equal(first?.decision_id, 'first', 'log() returns the record synchronously, not a promise')
      assert.equal(collector.requests.length, 0, 'nothing was sent during log()')
      await waitFor(() => collector.held.length === 1, 15_000, 'the first upload to hang')
      // The upload is in flight and hanging: log() still returns at once, and nothing more is sent.
      for (let i = 0; i < 100; i++) assert.ok(logger.log(sampleEvent({ decisionId: `d-${i}` })))
      assert.equal(sink.stats().buffered, 101)
      assert.equal(sink.stats().written, 0)
      assert.equal(collector.requests.length, 1)
      collector.release()
      await logger.flush()
      assert.equal(sink.stats().written, 101)
      assert.deepEqual(collector.batches.flat().length, 101)
      await logger.close()
    } finally {
      await collector.close()
    }
  })

  it('an idle sink does not keep the process alive (timers are unref-ed)', () => {
    const sink = createHttpSink({ url: 'http://127.0.0.1:9/logs', flushIntervalMs: 600_000 })
    sink.write(record(1))
    // If the interval timer were ref-ed, the test runner would wait 10 minutes for this file to end.
    assert.equal(sink.stats().buffered, 1)
  })

  it('rejects bad options with a TypeError naming the option', () => {
    assert.throws(() => createHttpSink({ url: 'not a url' }), { name: 'TypeError', message: /sinks\.http\.url/ })
    assert.throws(() => createHttpSink({ url: 'ftp://x/logs' }), { name: 'TypeError', message: /sinks\.http\.url/ })
    assert.throws(() => createHttpSink({ url: 'https://u:p@x/logs' }), { name: 'TypeError', message: /sinks\.http\.url must not contain credentials/ })
    assert.throws(() => createHttpSink({ url: 'https://x/logs', bearerToken: 'has space' }), { name: 'TypeError', message: /sinks\.http\.bearerToken/ })
    assert.throws(() => createHttpSink({ url: 'https://x/logs', batchMaxRecords: 0 }), { name: 'TypeError', message: /sinks\.http\.batchMaxRecords/ })
    assert.throws(() => createHttpSink({ url: 'https://x/logs', retry: { minDelayMs: 100, maxDelayMs: 10 } }), { name: 'TypeError', message: /sinks\.http\.retry\.maxDelayMs/ })
    assert.throws(() => createHttpSink({ url: 'https://x/logs', headers: { 'bad header': 'x' } }), { name: 'TypeError', message: /sinks\.http\.headers/ })
  })
})
