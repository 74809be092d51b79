#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs every test
# (lit + FileCheck, GoogleTest, the NumPy reference's pytest) through CTest.
# Exits non-zero when any test fails. Arguments go to ctest.
#   scripts/test.sh              in build/
#   scripts/test.sh --sanitize   in build-sanitize/ (ASan + UBSan), with the
#                                fuzz targets' smoke tests (test/fuzz/README.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${1:-} == --sanitize ]]; then
  shift
  "$root/scripts/build.sh" --sanitize
  build=${MOE_SANITIZE_BUILD_DIR:-$root/build-sanitize}
else
  "$root/scripts/build.sh"
  build=${MOE_BUILD_DIR:-$root/build}
fi
cd "$build"
ctest --output-on-failure -j "$(nproc)" "$@"
