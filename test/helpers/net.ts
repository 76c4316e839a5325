/** Loopback helpers shared by tests and benchmarks. */
import { createServer } from 'node:net'

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that must be told their port up front). */
export async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', resolve)
  })
  const { port } = probe.address() as { port: number }
  await new Promise<void>((resolve) => probe.close(() => resolve()))
  return port
}
