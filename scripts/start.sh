#!/usr/bin/env bash
# Sets everything up (scripts/setup.sh) and runs the main job: the default policy bundle is built,
# and two example decisions are evaluated through the compiled WASM (an allow and a 403 step-up).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# shellcheck source=/dev/null
. scripts/env.sh
exec node src/cli/main.ts demo "$@"
