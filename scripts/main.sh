#!/usr/bin/env bash
# The main job: installs what is missing, builds, compiles the V-MoE-B/16
# layer (examples/L1.mlir) for the CPU with deterministic random weights,
# runs it, and prints its check against the NumPy reference, the routing
# statistics and the time. Another example: scripts/main.sh examples/L4.mlir
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
exec "$root/scripts/run-example.sh" "${1:-$root/examples/L1.mlir}" "${2:-1}"
