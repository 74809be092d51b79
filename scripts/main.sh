#!/usr/bin/env bash
# The main job: installs what is missing, builds, and compiles an example MoE
# layer (V-MoE-B/16, examples/L1.mlir by default) through moe-opt, printing
# the verified level-1 IR and the routing plan the router produces.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh" >/dev/null
build=${MOE_BUILD_DIR:-$root/build}
example=${1:-$root/examples/L1.mlir}
echo "== $example: verified and canonicalized by moe-opt"
"$build/bin/moe-opt" "$example" --verify-roundtrip --moe-canonicalize
echo "== routing plans"
"$build/bin/moe-opt" "$example" | grep -o 'moe.route .*' | sed 's/^/  /'
