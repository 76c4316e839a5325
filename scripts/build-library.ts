/**
 * Compiles the shipped policy library alone into dist/policy-library.tar.gz: the prebuilt module
 * `createAuthz({ data })` loads policy data into, so data-only users need no `opa`. Run by
 * scripts/setup.sh and before `npm pack`.
 */
import { fileURLToPath } from 'node:url'
import { buildLibraryBundle } from '../src/policy/build.ts'

const out = fileURLToPath(new URL('../dist/policy-library.tar.gz', import.meta.url))
const { revision } = await buildLibraryBundle({ out })
if (!process.argv.includes('--quiet')) process.stdout.write(`${JSON.stringify({ library: out, revision })}\n`)
