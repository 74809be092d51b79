# -*- Python -*-
# lit configuration of the moe-mlir test suite.

import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MOE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moe_obj_root, "test")
# gpu/ and python/ are pytest suites (CTest "pocl", "python"); their .mlir are inputs.
config.excludes = ["CMakeLists.txt", "Inputs", "lit.cfg.py", "lit.site.cfg.py", "reference", "unit",
                   "gpu", "python"]

config.substitutions.append(("%moe_src_root", config.moe_src_root))
config.substitutions.append(("%moe_obj_root", config.moe_obj_root))
config.substitutions.append(("%docs", os.path.join(config.moe_src_root, "docs")))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%examples", os.path.join(config.moe_src_root, "examples")))
# Hand-written shared objects that follow docs/artifact-abi.md (test/unit/artifacts).
config.substitutions.append(
    ("%test_artifacts", os.path.join(config.moe_obj_root, "test", "unit", "artifacts"))
)
# The GPU kernels of test/gpu and the script that reads a gpu.binary's object.
config.substitutions.append(("%gpu_kernels", os.path.join(config.moe_src_root, "test", "gpu", "kernels")))
config.substitutions.append(("%gpu_binary", os.path.join(config.moe_src_root, "test", "gpu", "gpu_binary.py")))
# A CUDA driver that records its calls (test/unit/fakecuda), for MOE_CUDA_DRIVER.
config.substitutions.append(
    ("%fake_cuda_driver",
     os.path.join(config.moe_obj_root, "test", "unit", "fakecuda", "libfakecuda.so"))
)

# A sanitizer build (MOE_SANITIZE): its instrumented libmoe_runtime.so cannot be loaded into an
# uninstrumented Python, so the tests that use the Python binding are `UNSUPPORTED: sanitize`
# (the C API under it is sanitizer-tested by the unit tests).
if config.moe_sanitize:
    config.available_features.add("sanitize")

# ptxas (the CUDA toolkit's, or on PATH): PTX is assembled and checked where it is there.
import shutil
ptxas = shutil.which("ptxas") or shutil.which("ptxas", path="/usr/local/cuda/bin")
if ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
    # The NVVM target links libdevice (math functions) from the toolkit it finds through
    # CUDA_ROOT (or ptxas on PATH).
    config.environment["CUDA_ROOT"] = os.path.dirname(os.path.dirname(os.path.realpath(ptxas)))

# An NVIDIA GPU with its driver (nvidia-smi lists one): the `cuda` feature, for the tests that
# run GPU artifacts on the device; %cuda_arch is its chip (sm_90a on Hopper, else sm_80).
import subprocess
smi = shutil.which("nvidia-smi")
if smi and ptxas:
    probe = subprocess.run([smi, "--query-gpu=compute_cap", "--format=csv,noheader"],
                           capture_output=True, text=True)
    if probe.returncode == 0 and probe.stdout.strip():
        major = probe.stdout.strip().splitlines()[0].split(".")[0]
        config.available_features.add("cuda")
        config.substitutions.append(("%cuda_arch", "sm_90a" if major == "9" else "sm_80"))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()
# The external shell runs `not` at the start of a RUN line from PATH (the
# default substitutions only rewrite `| not`).
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [config.moe_tools_dir, config.llvm_tools_dir]
tools = [ToolSubst("moe-opt", unresolved="fatal"), ToolSubst("moe-run", unresolved="fatal"),
         ToolSubst("moe-compile", unresolved="fatal")]
llvm_config.add_tool_substitutions(tools, tool_dirs)
