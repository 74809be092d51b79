#!/usr/bin/env bash
# Installs what moe-mlir needs to build and test, and nothing that is
# already there. Safe to run any number of times.
#   scripts/bootstrap.sh             the normal build (build/)
#   scripts/bootstrap.sh --sanitize  also Clang 22 and its sanitizer and
#                                    libFuzzer runtimes (build-sanitize/)
set -euo pipefail

# pocl-opencl-icd, ocl-icd-libopencl1, llvm-spirv-15: GPU kernels run on the
# CPU through SPIR-V and OpenCL (test/gpu).
packages=(libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
          ninja-build ccache cmake g++ libgtest-dev python3 python3-pip
          pocl-opencl-icd ocl-icd-libopencl1 llvm-spirv-15)
if [[ ${1:-} == --sanitize ]]; then
  packages+=(clang-22 libclang-rt-22-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
    missing+=("$p")
done

if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# matplotlib: the routing pictures of python/moe_mlir (and their tests).
if ! python3 -c 'import numpy, pytest, matplotlib' 2>/dev/null; then
  echo "bootstrap: installing numpy, pytest and matplotlib"
  python3 -m pip install -q numpy pytest matplotlib ||
    python3 -m pip install -q --break-system-packages numpy pytest matplotlib
fi
