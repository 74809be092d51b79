"""What every peer process of bench/run.py shares: its command line, pinning and thread count,
the layer's data, timing and the check against the reference.

A peer is started by bench/run.py as

    bench/.venv/bin/python bench/peers/<peer>.py --mlir examples/L2.mlir --data DIR
        --threads T --runs N [--cpus 0,1] [peer options]

in its own process, with the thread variables of the libraries (OMP_NUM_THREADS, ...) already
set for T threads and its affinity already set to T cores; ``start`` checks both again before
the peer imports its framework.  DIR is what make_example_data.write_example wrote:
``weights.safetensors``, ``inputs/x.npy``, ``expected/out.npy``.  The peer prints one JSON
object as the last line of its standard output: the median and minimum time of N runs after a
warm-up, the first call's time, and the check of its output against ``expected/out.npy``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))

RTOL, ATOL = 1e-4, 1e-5  # moe-run --check's defaults, numpy.allclose


def thread_env(threads: int) -> dict:
    """The environment variables that give the BLAS, OpenMP and XLA thread pools `threads`
    threads (set before the libraries load)."""
    env = {name: str(threads) for name in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    # XLA's CPU thread pool takes the CPUs the process may run on; one thread also turns
    # off Eigen's multi-threaded kernels.
    multi = "false" if threads == 1 else "true"
    env["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={multi} "
                        f"intra_op_parallelism_threads={threads}")
    return env


def parser(description: str, layer: bool = True) -> argparse.ArgumentParser:
    """The peers' common options; ``layer``: the peer runs a layer's IR (--mlir)."""
    p = argparse.ArgumentParser(description=description)
    if layer:
        p.add_argument("--mlir", required=True, help="the layer (examples/Ln.mlir)")
    p.add_argument("--data", required=True, help="make_example_data's output folder")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--cpus", default=None,
                   help="comma-separated CPUs to pin to (default: the first THREADS allowed)")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="where torch runs (cuda: the first GPU; times wait for its work)")
    return p


def synchronized(call, device: str):
    """call, followed by waiting for the GPU's work when ``device`` is cuda."""
    if device != "cuda":
        return call
    import torch

    def wait():
        result = call()
        torch.cuda.synchronize()
        return result
    return wait


def start(args) -> None:
    """Pins this process and sets the thread variables (if the parent did not); call before
    importing torch, jax or numpy."""
    if args.cpus:
        cpus = [int(c) for c in args.cpus.split(",")]
    else:
        cpus = sorted(os.sched_getaffinity(0))[:args.threads]
    os.sched_setaffinity(0, set(cpus))
    for name, value in thread_env(args.threads).items():
        os.environ.setdefault(name, value)


def load(args):
    """(MoEFunction, {tensor name: array}, x, expected out) of the layer."""
    import numpy as np
    import moe_ir
    from safetensors_io import read_safetensors

    fn = moe_ir.parse_moe_file(args.mlir)
    arrays, _ = read_safetensors(os.path.join(args.data, "weights.safetensors"))
    x = np.load(os.path.join(args.data, "inputs", f"{fn.gate.input.name}.npy"))
    out = next(r for r in fn.results if r.quantity == "output")
    expected = np.load(os.path.join(args.data, "expected", f"{out.name}.npy"))
    return fn, arrays, x, expected


def timed(call, runs: int) -> dict:
    """Times call() (which must wait for its result): one warm-up call, then `runs` timed
    calls; the median and minimum in ms, the warm-up in s."""
    import numpy as np

    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {"warmup_s": round(first, 4), "median_ms": round(float(np.median(times)) * 1e3, 3),
            "min_ms": round(min(times) * 1e3, 3)}


def check(got, expected) -> dict:
    """PASS when every element is within atol + rtol * |expected| (moe-run --check's rule)."""
    import numpy as np

    got = np.asarray(got, dtype=np.float32)
    if got.shape != expected.shape:
        return {"check": "FAIL", "why": f"shape {list(got.shape)}, expected "
                                        f"{list(expected.shape)}"}
    err = np.abs(got.astype(np.float64) - expected)
    bad = err > ATOL + RTOL * np.abs(expected)
    rel = err / np.maximum(np.abs(expected), ATOL / RTOL)
    result = {"check": "FAIL" if bad.any() or not np.isfinite(got).all() else "PASS",
              "max_abs_err": float(err.max()), "max_rel_err": float(rel.max()),
              "bad_elements": int(bad.sum())}
    if bad.any():
        # Rows (tokens) with an element out of tolerance: a routing difference shows as whole
        # tokens far off, an arithmetic one as scattered small excesses.
        flat = bad.reshape(-1, bad.shape[-1]).any(axis=1)
        result["bad_tokens"] = int(flat.sum())
    return result


def report(result: dict) -> None:
    print(json.dumps(result), flush=True)
