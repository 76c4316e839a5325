#!/usr/bin/env bash
# Sets up everything mcp-authz needs on a fresh clone, idempotently:
#   - Node >= 22 (provisions Node 24 LTS into .tools/ from the npm registry when the system Node is older)
#   - the pinned `opa` CLI (v1.22.2), from PATH when it is that version, else `go install` into .tools/bin
#   - npm dependencies (npm ci, skipped when package-lock.json has not changed)
#   - dist/ and the prebuilt policy library (scripts/build-package.mjs, also npm pack's prepack) and
#     the default policy bundle build/bundle.tar.gz (opa build -t wasm)
# Prints nothing but progress on stderr; source scripts/env.sh afterwards for PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
NODE_VERSION=24.21.0
OPA_VERSION=1.22.2
mkdir -p "$TOOLS/bin"
log() { printf '[setup] %s\n' "$*" >&2; }

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# --- Node ---------------------------------------------------------------------------------
NODE_BIN=$(command -v node || true)
if [ -z "$NODE_BIN" ] || [ "$(node_major "$NODE_BIN")" -lt 22 ]; then
  NODE_BIN="$TOOLS/node_modules/node/bin/node"
  if [ ! -x "$NODE_BIN" ] || [ "$("$NODE_BIN" -p process.versions.node 2>/dev/null)" != "$NODE_VERSION" ]; then
    log "system Node is older than 22: installing Node $NODE_VERSION into .tools/"
    cat > "$TOOLS/package.json" <<JSON
{ "name": "mcp-authz-tools", "private": true,
  "dependencies": { "node": "$NODE_VERSION" },
  "allowScripts": { "node": true } }
JSON
    (cd "$TOOLS" && npm install --no-audit --no-fund --loglevel=error >&2)
  fi
  ln -sf "$NODE_BIN" "$TOOLS/bin/node"
fi

# --- opa ----------------------------------------------------------------------------------
opa_version() { "$1" version 2>/dev/null | sed -n 's/^Version: //p'; }
OPA_BIN=$(command -v opa || true)
if [ -z "$OPA_BIN" ] || [ "$(opa_version "$OPA_BIN")" != "$OPA_VERSION" ]; then
  OPA_BIN="$TOOLS/bin/opa"
  if [ ! -x "$OPA_BIN" ] || [ "$(opa_version "$OPA_BIN")" != "$OPA_VERSION" ]; then
    command -v go >/dev/null || { log "opa $OPA_VERSION is not on PATH and Go is not installed to build it"; exit 1; }
    log "building opa v$OPA_VERSION with go install (first run only, a few minutes)"
    GOBIN="$TOOLS/bin" go install "github.com/open-policy-agent/opa@v$OPA_VERSION" >&2
  fi
fi

# --- environment for the other scripts ----------------------------------------------------
cat > "$TOOLS/env.sh" <<ENV
export PATH="$TOOLS/bin:$(dirname "$OPA_BIN"):$ROOT/node_modules/.bin:\$PATH"
export MCP_AUTHZ_OPA="$OPA_BIN"
ENV
# shellcheck source=/dev/null
. "$TOOLS/env.sh"

# --- npm dependencies ---------------------------------------------------------------------
LOCK_SUM=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -L node_modules ]; then
  # A node_modules shared through a symlink (e.g. several git worktrees): npm ci would empty it for
  # every user of it. Install there, from its own checkout, instead.
  [ -f node_modules/.lock-sum ] && [ "$(cat node_modules/.lock-sum)" = "$LOCK_SUM" ] ||
    log "node_modules is a symlink and does not match package-lock.json: run npm ci where it points"
elif [ ! -f node_modules/.lock-sum ] || [ "$(cat node_modules/.lock-sum)" != "$LOCK_SUM" ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$LOCK_SUM" > node_modules/.lock-sum
fi

# --- build --------------------------------------------------------------------------------
log "compiling dist/ and the prebuilt policy library (as npm pack does), and the default policy bundle (build/bundle.tar.gz)"
node scripts/build-package.mjs --quiet
node src/cli/main.ts build --quiet --data examples/quickstart/data.json
