/**
 * Temporary folders for tests, removed when the test process exits (each test file runs in its own
 * process), so a run leaves nothing in the system temp folder. `scripts/test.sh` checks that it
 * does not: every test folder is named `mcp-authz-*` for that check.
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const created = new Set<string>()
let hooked = false

function track(dir: string): string {
  created.add(dir)
  if (!hooked) {
    hooked = true
    process.once('exit', removeTempDirs)
  }
  return dir
}

function checked(prefix: string): string {
  if (!prefix.startsWith('mcp-authz-')) throw new TypeError(`temp folder prefix ${JSON.stringify(prefix)} must start with "mcp-authz-"`)
  return join(tmpdir(), prefix)
}

/** Creates `<tmpdir>/<prefix>XXXXXX`, removed at exit. The prefix starts with `mcp-authz-`. */
export async function tempDir(prefix: string): Promise<string> {
  return track(await mkdtemp(checked(prefix)))
}

/** Synchronous {@link tempDir}. */
export function tempDirSync(prefix: string): string {
  return track(mkdtempSync(checked(prefix)))
}

/** Removes every folder made so far (also done at exit). */
export function removeTempDirs(): void {
  for (const dir of created) {
    try {
      rmSync(dir, { recursive: true, force: true })
    } catch {
      // Best effort: the run's check (scripts/test.sh) reports what is left.
    }
  }
  created.clear()
}
