#!/usr/bin/env bash
# A long fuzzing campaign of one target (README.md here):
#   test/fuzz/campaign.sh ir|npy|safetensors|signature [SECONDS] [libFuzzer flags...]
# Needs build-sanitize/ (scripts/build.sh --sanitize). Runs moe-fuzz-TARGET for
# SECONDS (default 600) in fork mode, which saves a crash, a timeout or a leak and
# goes on fuzzing, over build-sanitize/fuzz/TARGET/corpus: kept between campaigns,
# fed from the seed corpus. Findings go to build-sanitize/fuzz/TARGET/ as crash-*,
# timeout-*, leak-*, oom-*; the log to build-sanitize/fuzz/TARGET/log.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${MOE_SANITIZE_BUILD_DIR:-$root/build-sanitize}
target=${1:?usage: campaign.sh ir|npy|safetensors|signature [SECONDS] [flags...]}
seconds=${2:-600}
shift $(($# < 2 ? $# : 2))
case $target in
  ir) dict=ir.dict ;;
  npy) dict=npy.dict ;;
  safetensors | signature) dict=json.dict ;;
  *) echo "campaign.sh: unknown target '$target'" >&2; exit 2 ;;
esac
work=$build/fuzz/$target
mkdir -p "$work/corpus"
. "$build/sanitizer-env.sh"
cd "$work"
"$build/bin/moe-fuzz-$target" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 \
  -ignore_ooms=1 -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/test/fuzz/$dict" -artifact_prefix="$work/" -print_final_stats=1 \
  "$@" corpus "$build/test/fuzz/corpus/$target" 2>&1 | tee log
