#!/usr/bin/env bash
# The main job: installs what is missing, builds, then builds V-MoE-S/32 as one
# function (python/moe_mlir/builder.py), compiles it for the CPU, gives it
# deterministic random weights, classifies a batch of 8 synthetic images,
# checks the logits and the routing statistics against the whole-model NumPy
# reference and prints them with the times (examples/python/vmoe_s32.py).
# With an example layer instead, does the same for that layer:
#   scripts/main.sh examples/L4.mlir [SEED]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
if [[ $# -gt 0 ]]; then
  exec "$root/scripts/run-example.sh" "$1" "${2:-1}"
fi
exec python3 "$root/examples/python/vmoe_s32.py"
