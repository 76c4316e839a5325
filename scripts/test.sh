#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs every test: the Rego checks and unit tests with
# coverage, the TypeScript typecheck, and the Node test suites (unit, integration, end-to-end).
# Extra arguments are passed to `node --test` (e.g. a file glob).
# Keycloak (test/keycloak/) is started once, in the background, before everything else (it takes
# minutes on a busy machine); the tests wait for it (bounded) and it is stopped on exit. Without a
# JDK >= 21 those tests are skipped, loudly, with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=/dev/null
. scripts/env.sh
# The proxy's end-to-end tests run real MCP servers written with the official Python SDK (venv in .tools/python).
bash scripts/python-env.sh >/dev/null

# One EXIT trap for everything to clean up (a second `trap … EXIT` would replace the first: the
# Keycloak server would outlive the run).
kc_pid=''
run_tmp=''
cleanup() {
  if [ -n "$kc_pid" ]; then kill -TERM -- "-$kc_pid" 2>/dev/null || true; wait "$kc_pid" 2>/dev/null || true; fi
  if [ -n "$run_tmp" ]; then rm -rf "$run_tmp"; fi
}
trap cleanup EXIT

wants_keycloak() { [ "$#" -eq 0 ] && return 0; case "$*" in *keycloak*) return 0 ;; esac; return 1; }
if wants_keycloak "$@" && [ -z "${MCP_AUTHZ_KEYCLOAK_URL:-}" ] && [ -z "${MCP_AUTHZ_KEYCLOAK_SKIP:-}" ]; then
  mkdir -p build
  if bash scripts/keycloak.sh java >/dev/null 2>build/keycloak-java.txt; then
    bash scripts/keycloak.sh install >/dev/null
    kc_port=$(node -e 'const s=require("node:net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    kc_password=$(node -e 'console.log(require("node:crypto").randomBytes(18).toString("base64url"))')
    KC_BOOTSTRAP_ADMIN_USERNAME=admin KC_BOOTSTRAP_ADMIN_PASSWORD=$kc_password setsid bash scripts/keycloak.sh run "$kc_port" >build/keycloak.log 2>&1 &
    kc_pid=$!
    export MCP_AUTHZ_KEYCLOAK_URL="http://127.0.0.1:$kc_port" MCP_AUTHZ_KEYCLOAK_ADMIN=admin MCP_AUTHZ_KEYCLOAK_ADMIN_PASSWORD="$kc_password"
    echo "== Keycloak starting in the background on 127.0.0.1:$kc_port (log: build/keycloak.log)"
  else
    MCP_AUTHZ_KEYCLOAK_SKIP=$(sed 's/^\[keycloak\] //' build/keycloak-java.txt)
    export MCP_AUTHZ_KEYCLOAK_SKIP
    echo "== Keycloak: SKIPPED — $MCP_AUTHZ_KEYCLOAK_SKIP"
  fi
fi

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
# The tests get a temp folder of their own (TMPDIR), so what they leave behind is theirs alone and
# is seen: every test folder is made by test/helpers/temp.ts (named mcp-authz-*, removed when the
# test process exits); an mcp-authz-* entry left after the run fails it.
run_tmp=$(mktemp -d "${TMPDIR:-/tmp}/mcp-authz-testrun.XXXXXX")
status=0
TMPDIR="$run_tmp" node --test --test-timeout=180000 --test-concurrency=2 "${files[@]}" || status=$?
leaked=$(find "$run_tmp" -mindepth 1 -maxdepth 1 -name 'mcp-authz-*' -printf '%f\n' | sort)
others=$(find "$run_tmp" -mindepth 1 -maxdepth 1 ! -name 'mcp-authz-*' -printf '%f\n' | sort)
if [ -n "$others" ]; then echo "note: the run left these in the temp folder (not made by the tests' helper):"; echo "$others"; fi
if [ -n "$leaked" ]; then
  echo "temp folders left behind by the tests (use tempDir() from test/helpers/temp.ts, or remove what you create):"
  echo "$leaked"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
