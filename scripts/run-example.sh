#!/usr/bin/env bash
# Compiles an example layer for the CPU, gives it deterministic random weights
# and inputs, runs it, and checks every result against the NumPy reference.
#   scripts/run-example.sh examples/L2.mlir [SEED]
# Needs a build (scripts/build.sh). Work files go to build/examples/<name>/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${MOE_BUILD_DIR:-$root/build}
example=$1
seed=${2:-1}
name=$(basename "$example" .mlir)
work=$build/examples/$name
rm -rf "$work" && mkdir -p "$work"

echo "== compile: moe-compile $example --target=cpu"
TIMEFORMAT="   compile time: %R s"
time "$build/bin/moe-compile" "$example" --target=cpu -o "$work/$name.so"

echo "== weights, inputs and the NumPy reference (seed $seed)"
python3 "$root/test/reference/make_example_data.py" "$example" \
  --out-dir "$work/data" --seed "$seed"

checks=()
for f in "$work"/data/expected/*.npy; do
  checks+=("$(basename "$f" .npy)=$f")
done
echo "== run on the CPU and check against the reference"
TIMEFORMAT="== layer time (one run on the CPU, including loading): %R s"
time "$build/bin/moe-run" "$work/$name.so" \
  --weights "$work/data/weights.safetensors" \
  --inputs "$work/data/inputs/x.npy" \
  --check "$(IFS=,; echo "${checks[*]}")" --stats
