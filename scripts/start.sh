#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh, which also builds the default policy bundle
# build/bundle.tar.gz), mints two DEVELOPMENT tokens from the local dev issuer (keys in
# .mcp-authz/dev-issuer/, never committed), prints ready-to-paste curl commands (an allow and a 403
# step-up), then runs the decision endpoint on 127.0.0.1:8181 with examples/quickstart/config.yaml.
# Stop it with Ctrl-C (graceful shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=/dev/null
. scripts/env.sh
CONFIG=examples/quickstart/config.yaml
node src/cli/main.ts check --config "$CONFIG" >/dev/null
AUD=http://127.0.0.1:8181/mcp
WRITER=$(node src/cli/main.ts token --aud "$AUD" --scope "notes:read notes:write" --sub alice --ttl 3600)
READER=$(node src/cli/main.ts token --aud "$AUD" --scope "notes:read" --sub bob --ttl 3600)
PORT=${MCP_AUTHZ_SERVER_PORT:-8181}
call() { # $1 token, $2 tool, $3 arguments
  printf '{"token":"%s","message":{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s}}}' "$1" "$2" "$3"
}
cat <<MSG

mcp-authz decision endpoint — http://127.0.0.1:$PORT  (config: $CONFIG; dev issuer: DEVELOPMENT ONLY)
Tokens (valid 1 h) minted with: node src/cli/main.ts token --sub alice --scope "notes:read notes:write"  /  --sub bob --scope notes:read

# allow: alice (notes:write) writes a note
curl -s -w '\\n' -X POST http://127.0.0.1:$PORT/v1/decide -H 'content-type: application/json' -d '$(call "$WRITER" notes_write '{"title":"hello"}')'

# 403 step-up: bob (notes:read only) tries the same call -> status 403, required_scopes, www_authenticate
curl -s -w '\\n' -X POST http://127.0.0.1:$PORT/v1/decide -H 'content-type: application/json' -d '$(call "$READER" notes_write '{"title":"hello"}')'

# readiness / metrics
curl -s http://127.0.0.1:$PORT/ready ; curl -s http://127.0.0.1:$PORT/metrics | grep mcp_authz_decisions

MSG
exec node src/cli/main.ts serve --config "$CONFIG" "$@"
