"""What the execution-test scripts share: compile a layer, run it with moe-run --check (and
with 1, 2, 3 and 7 threads, whose results must be bitwise identical; a GPU artifact a second
time and, for the cases that ask, compiled again with other block sizes, whose results must be
bitwise identical too), and the command line that runs a list of cases on a fresh (printed)
seed.

A script defines its cases (a tuple each, the name first) and
``run_case(case, build, work, seed) -> (ok, label, log)``, and calls ``main``.
"""
import argparse
import os
import random
import subprocess
import sys

import numpy as np


# moe-compile --target-cpu for every case (main's --target-cpu; None: the host).
TARGET_CPU = None
# main's --dynamic-groups: cases that can write the number of groups as ? do.
DYNAMIC_GROUPS = False
# main's --groups-per-call: moe-compile --groups-per-call for every case.
GROUPS_PER_CALL = 1
# main's --target: cpu (moe-compile, moe-run), opencl (GPU artifacts, moe-compile
# --target=opencl, run by moe-run on the CPU's OpenCL device, PoCL), ptx (GPU kernels for
# NVIDIA chips, assembled by ptxas) or cuda (GPU artifacts run on the CUDA device).
TARGET = "cpu"
# main's --arch: the chip of --target cuda.
CUDA_ARCH = "sm_80"
# main's --precision: the expert GEMMs' products of the GPU targets (f32, or tf32: tensor
# cores on NVIDIA chips, emulated in f32 by the portable variant).
PRECISION = "f32"
# The weights the last compiled artifact takes packed in strips (its signature).
LAST_PACKED = []


def packed_weights(build, so):
    """The names of the weights ``so`` takes packed in strips (moe-run --entry-info)."""
    info = subprocess.run([os.path.join(build, "bin", "moe-run"), so, "--entry-info"],
                          capture_output=True, text=True)
    return [line.split()[0] for line in info.stdout.splitlines() if "packed in strips" in line]


def compile_and_run(build, mlir, so, run_args, jit=False, layout="auto", vary_blocks=False):
    """moe-compile ``mlir`` to ``so`` with the plan ``layout`` (and TARGET_CPU; for TARGET
    opencl or cuda a GPU artifact), then moe-run the .so (and, with ``jit``, the .mlir through
    the JIT) with ``run_args`` (weights, inputs, --check, ...). A CPU artifact must give
    bitwise the same results on every one of THREAD_COUNTS; a GPU artifact on a second run
    and, with ``vary_blocks``, compiled with each of GPU_BLOCK_SIZES too (each a new kernel
    build for the OpenCL device: seconds). Returns (ok, log)."""
    target = [f"--target-cpu={TARGET_CPU}"] if TARGET_CPU else []
    target += [f"--groups-per-call={GROUPS_PER_CALL}"] if GROUPS_PER_CALL != 1 else []
    device = TARGET if TARGET in ("opencl", "cuda") else "cpu"
    target += [f"--precision={PRECISION}"] if PRECISION != "f32" else []
    target += [f"--arch={CUDA_ARCH}"] if device == "cuda" else []
    compile_command = [os.path.join(build, "bin", "moe-compile"), mlir, f"--target={device}",
                       f"--plan-layout={layout}", *target]
    compile_ = subprocess.run([*compile_command, "-o", so],
                              capture_output=True, text=True, env=cuda_env())
    if compile_.returncode != 0:
        return False, f"moe-compile failed ({compile_.returncode}):\n{compile_.stdout}{compile_.stderr}"
    LAST_PACKED[:] = packed_weights(build, so)
    log = ""
    # A GPU artifact's checked run also writes its results: the baseline of the bitwise
    # comparisons below.
    written = f"{so}.results" if device != "cpu" else None
    for model in [so, mlir] if jit else [so]:
        keep = ["--output-dir", written] if written and model == so else []
        run = subprocess.run([os.path.join(build, "bin", "moe-run"), model, *run_args,
                              *tolerance(), *keep], capture_output=True, text=True)
        log += f"$ moe-run {model}\n" + run.stdout + run.stderr
        if run.returncode != 0:
            return False, log
    if device == "cpu":
        same, detail = same_bits_for_every_thread_count(build, so, run_args)
    else:
        same, detail = same_bits_on_the_device(build, compile_command, so, run_args, written,
                                               vary_blocks)
    return same, log + detail


def tolerance():
    """moe-run --check's tolerance: f32 arithmetic; tf32 on a GPU's tensor cores reads inputs
    with 10 bits of mantissa (the OpenCL emulation multiplies in f32)."""
    if TARGET == "cuda" and PRECISION == "tf32":
        return ["--rtol", "1e-2", "--atol", "1e-2"]
    return ["--rtol", "1e-4", "--atol", "1e-5"]


def cuda_env():
    """The environment with CUDA_ROOT set from ptxas (moe-compile --target=cuda links libdevice
    and runs ptxas from there), where CUDA_ROOT is not set and ptxas is found."""
    import shutil
    env = dict(os.environ)
    ptxas = shutil.which("ptxas") or shutil.which("ptxas", path="/usr/local/cuda/bin")
    if ptxas and "CUDA_ROOT" not in env:
        env["CUDA_ROOT"] = os.path.dirname(os.path.dirname(os.path.realpath(ptxas)))
    return env


# Thread counts whose results must be bitwise identical: one, the machine's two, an odd
# count, and more threads than workgroups in small grids.
THREAD_COUNTS = (1, 2, 3, 7)


# The NVIDIA chips every case is compiled for with --target ptx.
PTX_ARCHS = ("sm_80", "sm_90a")


def compile_for_cuda(build, mlir, layout):
    """Compiles ``mlir`` to GPU kernels for each of PTX_ARCHS (moe-to-gpu target=cuda) and
    assembles the PTX with ptxas. Kernels of more than one block (the grouped GEMMs, the
    combine, element-wise work) must not spill; single-block routing kernels may (listed in
    the log). Returns (ok, log)."""
    import shutil
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
    from gpu_binary import first_object
    from ptxas_spills import spills
    ptxas = shutil.which("ptxas") or shutil.which("ptxas", path="/usr/local/cuda/bin")
    if not ptxas:
        return False, "no ptxas (the CUDA toolkit) on PATH or in /usr/local/cuda/bin\n"
    env = dict(os.environ, CUDA_ROOT=os.path.dirname(os.path.dirname(os.path.realpath(ptxas))))
    log = ""
    for arch in PTX_ARCHS:
        lowered = subprocess.run(
            [os.path.join(build, "bin", "moe-opt"), mlir, "--pass-pipeline=builtin.module("
             f"moe-to-gpu{{target=cuda arch={arch} plan-layout={layout} "
             f"precision={PRECISION}}})"],
            capture_output=True, text=True, env=env)
        if lowered.returncode != 0:
            return False, log + f"moe-to-gpu for {arch} failed:\n{lowered.stderr}"
        ptx = mlir + f".{arch}.ptx"
        with open(ptx, "wb") as f:
            f.write(first_object(lowered.stdout))
        mmas = 0
        if PRECISION == "tf32":
            with open(ptx, "rb") as f:
                mmas = f.read().count(b"mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32")
            if not mmas:
                return False, log + f"{arch}: precision=tf32 but no tf32 mma.sync in the PTX\n"
        assembled = subprocess.run([ptxas, f"-arch={arch}", "-v", ptx, "-o", ptx + ".cubin"],
                                   capture_output=True, text=True)
        report = assembled.stdout + assembled.stderr
        if assembled.returncode != 0:
            return False, log + f"ptxas -arch={arch}:\n{report}"
        kernels, bad, routing = spills(lowered.stdout, report)
        if bad:
            return False, log + f"ptxas -arch={arch}: spills in {', '.join(bad)}\n{report}"
        log += (f"{arch}: {kernels} kernels, no spills"
                + (f", {mmas} tf32 mma.sync" if mmas else "")
                + (f" (but in single-block kernels {', '.join(routing)})" if routing else "")
                + "\n")
    return True, log


# GPU artifacts: the threads per block (moe-compile --gpu-threads, --gpu-single-block-threads)
# whose results must be bitwise identical to the defaults' (64, 256): fewer threads than the
# routing loops have iterations, counts that are not powers of two, and a block of 1024.
GPU_BLOCK_SIZES = ((32, 32), (96, 1024))


def read_results(out_dir):
    """{file name: bytes} of the result files moe-run --output-dir wrote to ``out_dir``."""
    return {name: open(os.path.join(out_dir, name), "rb").read()
            for name in sorted(os.listdir(out_dir))}


def run_writing_results(build, so, run_args, out_dir, extra=()):
    """Runs ``so`` with ``run_args`` less any --check, writing every result under ``out_dir``.
    Returns ({name: bytes}, None) or (None, log)."""
    bind = [arg for i, arg in enumerate(run_args)
            if not (arg == "--check" or (i > 0 and run_args[i - 1] == "--check"))]
    run = subprocess.run([os.path.join(build, "bin", "moe-run"), so, *bind, *extra,
                          "--output-dir", out_dir], capture_output=True, text=True)
    if run.returncode != 0:
        return None, f"$ moe-run {so} {' '.join(extra)}\n{run.stdout}{run.stderr}"
    return read_results(out_dir), None


def same_bits(outputs):
    """``outputs``: {label: {name: bytes}}, the first the baseline. Returns (ok, log)."""
    labels = list(outputs)
    first = outputs[labels[0]]
    for label in labels[1:]:
        if outputs[label].keys() != first.keys():
            return False, f"{label} wrote {sorted(outputs[label])}, not {sorted(first)}\n"
        for name, data in first.items():
            if outputs[label][name] != data:
                return False, (f"{name}: {label} differs from {labels[0]} (results must be "
                               "bitwise identical)\n")
    return True, f"bitwise identical results with {', '.join(labels)}\n"


def same_bits_for_every_thread_count(build, so, run_args):
    """Runs ``so`` with each of THREAD_COUNTS threads, writing every result, and compares
    the result files byte for byte. Returns (ok, log)."""
    outputs = {}
    for threads in THREAD_COUNTS:
        extra = ("--threads", str(threads))
        outputs[" ".join(extra)], error = run_writing_results(
            build, so, run_args, f"{so}.threads{threads}", extra)
        if error:
            return False, error
    return same_bits(outputs)


def same_bits_on_the_device(build, compile_command, so, run_args, written, vary_blocks):
    """A GPU artifact ``so`` whose checked run wrote its results to ``written``: runs it
    again, and with ``vary_blocks`` compiles it again (``compile_command``) with each of
    GPU_BLOCK_SIZES and runs those; every run's result files must be byte for byte the
    first's. Returns (ok, log)."""
    outputs = {"the checked run": read_results(written)}
    outputs["a second run"], error = run_writing_results(build, so, run_args, f"{so}.rerun")
    if error:
        return False, error
    for threads, single in GPU_BLOCK_SIZES if vary_blocks else ():
        sizes = [f"--gpu-threads={threads}", f"--gpu-single-block-threads={single}"]
        variant = f"{so}.blocks{threads}-{single}.so"
        compile_ = subprocess.run([*compile_command, *sizes, "-o", variant],
                                  capture_output=True, text=True, env=cuda_env())
        if compile_.returncode != 0:
            return False, (f"moe-compile {' '.join(sizes)} failed:\n"
                           f"{compile_.stdout}{compile_.stderr}")
        outputs[" ".join(sizes)], error = run_writing_results(
            build, variant, run_args, f"{variant}.results")
        if error:
            return False, error
    return same_bits(outputs)


def run_made_case(case, build, work, seed):
    """``run_case`` for cases ``(name, make, label)`` whose ``make(seed)`` returns the layer's
    IR text and {name: array} dicts of its inputs, weights and expected results: writes them
    under ``work/name``, compiles the layer and runs it with every result checked."""
    from safetensors_io import write_safetensors  # test/reference, on the scripts' path

    name, make, label = case
    text, inputs, weights, expected = make(seed)
    case_dir = os.path.join(work, name)
    os.makedirs(case_dir, exist_ok=True)
    mlir = os.path.join(case_dir, f"{name}.mlir")
    with open(mlir, "w") as f:
        f.write(text)
    run_args = []
    if weights:
        write_safetensors(os.path.join(case_dir, "weights.safetensors"), weights)
        run_args += ["--weights", os.path.join(case_dir, "weights.safetensors")]
    for kind, flag, arrays in (("in", "--inputs", inputs), ("ref", "--check", expected)):
        for key, array in arrays.items():
            path = os.path.join(case_dir, f"{kind}_{key}.npy")
            np.save(path, array)
            run_args += [flag, f"{key}={path}"]
    ok, log = compile_and_run(build, mlir, os.path.join(case_dir, f"{name}.so"), run_args)
    return ok, label, log


def main(cases, run_case, script):
    """Runs the cases whose name contains --filter on --seed (default: a fresh one), printing
    PASS/FAIL per case, the seed and how to replay it; returns the exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--filter", default="")
    parser.add_argument("--target-cpu", default=None,
                        help="moe-compile --target-cpu for every case (default: the host)")
    parser.add_argument("--dynamic-groups", action="store_true",
                        help="write the number of groups as ? (compiled for one group, "
                             "run on the case's groups) where the script supports it")
    parser.add_argument("--groups-per-call", type=int, default=1,
                        help="moe-compile --groups-per-call for every case")
    parser.add_argument("--target", choices=("cpu", "opencl", "ptx", "cuda"), default="cpu",
                        help="cpu: moe-compile and moe-run; opencl: GPU kernels (portable "
                             "SPIR-V) run by the CPU's OpenCL device (PoCL); ptx: GPU kernels "
                             "for sm_80 and sm_90a assembled by ptxas (nothing run); cuda: GPU "
                             "artifacts for --arch run on the CUDA device")
    parser.add_argument("--arch", default="sm_80", help="--target cuda: the chip")
    parser.add_argument("--precision", choices=("f32", "tf32"), default="f32",
                        help="opencl and ptx: the expert GEMMs' products (tf32: tensor cores, "
                             "emulated in f32 on OpenCL)")
    args = parser.parse_args()
    global TARGET_CPU, DYNAMIC_GROUPS, GROUPS_PER_CALL, TARGET, PRECISION, CUDA_ARCH
    if args.precision != "f32" and args.target == "cpu":
        parser.error("--precision needs --target opencl or ptx")
    TARGET = args.target
    PRECISION = args.precision
    CUDA_ARCH = args.arch
    TARGET_CPU = args.target_cpu
    DYNAMIC_GROUPS = args.dynamic_groups
    GROUPS_PER_CALL = args.groups_per_call
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    failures = []
    for case in cases:
        if args.filter not in case[0]:
            continue
        LAST_PACKED.clear()
        ok, label, log = run_case(case, args.build, args.work, seed)
        packed = f"  [packed: {', '.join(LAST_PACKED)}]" if LAST_PACKED else ""
        print(f"{'PASS' if ok else 'FAIL'}: {case[0]}  ({label}){packed}")
        if not ok:
            failures.append(case[0])
            print(log)
    print(f"seed {seed}: {len(failures)} failed" + (f": {', '.join(failures)}" if failures else ""))
    print(f"replay with: {script} --seed {seed}")
    return 1 if failures else 0
