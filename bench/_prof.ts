import { measure } from 'mitata'
import { DecisionCache } from '../src/policy/decision-cache.ts'
import { alice } from './fixtures.ts'
const cache = new DecisionCache()
const action = { method: 'tools/call', kind: 'tool' as const, name: 'notes_read' }
const key = cache.key('bench', alice, action, 'http')
cache.set(key, { allow: true, reasons: [], required_scopes: [] }, alice)
const o = { batch_threshold: 0, min_cpu_time: 5e8 }
const r = async (n: string, f: () => unknown) => { for (let i = 0; i < 5000; i++) f(); const s = await measure(f, o); console.log(n.padEnd(20), s.p50.toFixed(0), s.p99.toFixed(0)) }
await r('cache.key', () => cache.key('bench', alice, action, 'http'))
await r('cache.hit', () => cache.get(cache.key('bench', alice, action, 'http')))
console.log(cache.get(cache.key('bench', alice, action, 'http')))
import { LRUCache } from 'lru-cache'
const m = new Map<string, number>(); m.set(key, 1)
const lru = new LRUCache<string, number>({ max: 10000 }); lru.set(key, 1)
await r('map.get fresh key', () => m.get(cache.key('bench', alice, action, 'http')))
await r('lru.get fresh key', () => lru.get(cache.key('bench', alice, action, 'http')))
await r('lru.get same key', () => lru.get(key))
