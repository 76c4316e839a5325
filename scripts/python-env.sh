#!/usr/bin/env bash
# Creates, idempotently, the Python virtual environment the proxy's end-to-end tests run real MCP
# servers in: .tools/python with the packages pinned in test/proxy/python/requirements.txt (the
# official MCP Python SDK from PyPI, PyJWT). Needs Python >= 3.10 (`python3`, or $PYTHON) and PyPI.
# Re-creates the environment only when the requirements or the interpreter change. Safe to run from
# several test processes at once (flock). Prints the environment's python path on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/python
REQ=test/proxy/python/requirements.txt
PY=${PYTHON:-python3}
log() { printf '[python-env] %s\n' "$*" >&2; }

command -v "$PY" >/dev/null || { log "$PY is not on PATH (Python >= 3.10 is needed for the proxy's end-to-end tests)"; exit 1; }
"$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || { log "$PY is older than 3.10"; exit 1; }
SUM=$( { cat "$REQ"; "$PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)

mkdir -p .tools
exec 9>.tools/python.lock
flock 9
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.req-sum" 2>/dev/null)" != "$SUM" ]; then
  log "creating $VENV ($("$PY" --version)) with $(grep -v '^#' "$REQ" | tr '\n' ' ')"
  rm -rf "$VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$REQ" >&2
  echo "$SUM" > "$VENV/.req-sum"
fi
echo "$PWD/$VENV/bin/python"
