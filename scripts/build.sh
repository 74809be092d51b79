#!/usr/bin/env bash
# Installs what is missing, configures (once) and builds moe-mlir.
#   scripts/build.sh             build/ (Release)
#   scripts/build.sh --sanitize  build-sanitize/: Clang 22, ASan + UBSan and
#                                the libFuzzer targets (test/fuzz/README.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == --sanitize ]]; then
  "$root/scripts/bootstrap.sh" --sanitize
  build=${MOE_SANITIZE_BUILD_DIR:-$root/build-sanitize}
  config=(-DCMAKE_C_COMPILER=/usr/lib/llvm-22/bin/clang
          -DCMAKE_CXX_COMPILER=/usr/lib/llvm-22/bin/clang++
          -DMOE_SANITIZE=ON -DMOE_ENABLE_FUZZERS=ON)
else
  "$root/scripts/bootstrap.sh"
  build=${MOE_BUILD_DIR:-$root/build}
  config=()
fi
if [[ ! -f $build/build.ninja ]]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "${config[@]}"
fi
ninja -C "$build"
