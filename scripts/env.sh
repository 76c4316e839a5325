# Sourced by the other scripts after setup.sh: puts Node >= 22, opa and node_modules/.bin on PATH.
# shellcheck source=/dev/null
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/env.sh"
