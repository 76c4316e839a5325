#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs every test: the Rego checks and unit tests with
# coverage, the TypeScript typecheck, and the Node test suites (unit, integration, end-to-end).
# Extra arguments are passed to `node --test` (e.g. a file glob).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=/dev/null
. scripts/env.sh
# The proxy's end-to-end tests run real MCP servers written with the official Python SDK (venv in .tools/python).
bash scripts/python-env.sh >/dev/null

echo "== Rego: opa fmt, opa check --strict, opa test --coverage (threshold 90%)"
unformatted=$(opa fmt -l policies)
if [ -n "$unformatted" ]; then echo "not formatted (run: opa fmt -w policies):"; echo "$unformatted"; exit 1; fi
opa check --strict policies
opa test policies
opa test policies --coverage --format json --threshold 90 > build/rego-coverage.json || {
  echo "Rego coverage below 90%"; node -e 'const c=require("./build/rego-coverage.json");console.log(c.coverage)'; exit 1; }
node -e 'const c=require("./build/rego-coverage.json");console.log(`rego coverage: ${c.coverage.toFixed(1)}%`)'

echo "== TypeScript: tsc --noEmit (src, test, bench, examples)"
tsc -p tsconfig.json

echo "== node --test"
if [ "$#" -gt 0 ]; then files=("$@"); else files=("test/**/*.test.ts"); fi
node --test --test-timeout=180000 --test-concurrency=2 "${files[@]}"
