#!/usr/bin/env bash
# Runs the benchmark suite (bench/run.ts): `npm run bench` for the full run (regenerates
# bench/results/latest.{json,md,svg} and the results in bench/README.md), `npm run bench -- --smoke`
# for a short correctness run. The memory soak is separate: `node bench/soak-memory.ts`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
. scripts/env.sh
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), node $(node -v), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec node bench/run.ts "$@"
