"""Benchmarks of the standard layers (PERFORMANCE.md) on the CPU, side by side with the GEMM
bound, in one run.

For each layer of examples/ (L1-L7 by default): deterministic weights and inputs (seed 1) and
the NumPy reference's outputs (test/reference/make_example_data.py); moe-compile --target=cpu
(timed); one checked run (moe-run --check, every result against the reference); then
moe-run --bench N, whose median and minimum are reported. The GEMM bound is the experts'
GEMMs alone on the rows the reference plan keeps (every slot for Soft MoE), timed with NumPy's
OpenBLAS in this process, N runs, median. Everything runs on one core (this process pins
itself to MOE_BENCH_CPU, default its first allowed CPU, and OpenBLAS to one thread), so the
ratios compare one thread with one thread. FLOP counts are those expert GEMMs.

Writes a markdown table and a JSON file (medians, ratios, GFLOP/s, compile times, the machine,
the commit) to --out (default bench/results/latest.{md,json}) and prints the table.

usage: bench/run.py [--build build] [--layers L1,L4] [--runs 10] [--out DIR] [--work DIR]
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

# One core for everything timed here: NumPy's OpenBLAS (the GEMM bound) and, inherited,
# every moe-run this process starts. Set before NumPy loads OpenBLAS.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ.setdefault("MOE_BENCH_CPU", str(min(os.sched_getaffinity(0))))
os.sched_setaffinity(0, {int(os.environ["MOE_BENCH_CPU"])})

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))

import make_example_data  # noqa: E402
import moe_ir  # noqa: E402
import moe_reference as ref  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

LAYERS = ["L1", "L2", "L3", "L4", "L5", "L6", "L7"]


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = f"{kib / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "memory": mem,
            "os": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__}


def commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def kept_rows(fn, arrays):
    """Rows each expert's GEMMs see in the reference plan: [E] counts."""
    gate = fn.gate
    x = arrays[gate.input.name]
    if gate.scale is not None:  # Soft MoE: every slot is a row
        return np.full(fn.plan.experts, fn.plan.groups * fn.plan.capacity)
    logits = ref.gate(x, arrays[gate.weight.name])
    plan = make_example_data.reference_plan(fn, logits)
    return (plan.token >= 0).sum(axis=(0, 2))


def gemm_bound(fn, arrays, rows, runs):
    """(median seconds, FLOPs) of the experts' two GEMMs on `rows[e]` rows each (OpenBLAS)."""
    e = fn.experts
    w1, w2 = arrays[e.up.name], arrays[e.down.name]
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((int(r), w1.shape[1])).astype(np.float32) for r in rows]
    hidden = w2.shape[1]
    flops = sum(2 * int(r) * (w1.shape[1] * w1.shape[2] + hidden * w2.shape[2]) for r in rows)

    def once():
        for i, a in enumerate(inputs):
            h = a @ w1[i]
            np.matmul(h[:, :hidden], w2[i])

    once()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), flops


def run(cmd):
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def bench_layer(name, build, work, runs):
    mlir = os.path.join(ROOT, "examples", f"{name}.mlir")
    fn = moe_ir.parse_moe_file(mlir)
    data = os.path.join(work, name)
    make_example_data.write_example(mlir, data, seed=1)
    so = os.path.join(work, f"{name}.so")
    start = time.perf_counter()
    run([os.path.join(build, "bin", "moe-compile"), mlir, "--target=cpu", "-o", so])
    compile_s = time.perf_counter() - start

    expected = sorted(f for f in os.listdir(os.path.join(data, "expected")) if f.endswith(".npy"))
    check = ",".join(f"{f[:-4]}={os.path.join(data, 'expected', f)}" for f in expected)
    common = [os.path.join(build, "bin", "moe-run"), so,
              "--weights", os.path.join(data, "weights.safetensors"),
              "--inputs", os.path.join(data, "inputs", "x.npy")]
    checked = run(common + ["--check", check])
    passed = checked.count(": PASS") == len(expected)
    out = run(common + ["--bench", str(runs)])
    m = re.search(r"median ([0-9.e+-]+) ms, min ([0-9.e+-]+) ms", out)
    median_ms, min_ms = float(m.group(1)), float(m.group(2))

    arrays, _ = read_safetensors(os.path.join(data, "weights.safetensors"))
    arrays[fn.gate.input.name] = np.load(os.path.join(data, "inputs", "x.npy"))
    rows = kept_rows(fn, arrays)
    gemm_s, flops = gemm_bound(fn, arrays, rows, runs)
    return {"layer": name, "check": "PASS" if passed else "FAIL",
            "compile_s": round(compile_s, 3), "median_ms": median_ms, "min_ms": min_ms,
            "gemm_bound_ms": round(gemm_s * 1e3, 3), "expert_gflop": round(flops / 1e9, 3),
            "gflops": round(flops / 1e9 / (median_ms / 1e3), 2),
            "ratio_to_gemm_bound": round(median_ms / (gemm_s * 1e3), 2),
            "rows": [int(r) for r in rows]}


def table(results, info):
    lines = [f"Machine: {info['machine']['cpu']}, {info['machine']['cores']} cores, "
             f"{info['machine']['memory']}; commit {info['commit']}; {info['date']}; "
             f"{info['runs']} runs per layer, medians; 1 thread, pinned to one core (GEMM bound: OpenBLAS, 1 thread).",
             "",
             "| layer | check | moe-mlir median (ms) | GEMM bound (ms) | moe-mlir / bound | "
             "moe-mlir GFLOP/s | compile (s) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['layer']} | {r['check']} | {r['median_ms']:.1f} | "
                     f"{r['gemm_bound_ms']:.1f} | {r['ratio_to_gemm_bound']:.2f} | "
                     f"{r['gflops']:.1f} | {r['compile_s']:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    parser.add_argument("--work", default=None, help="work files (default: BUILD/bench)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    layers = [l.strip() for l in args.layers.split(",") if l.strip()]
    unknown = [l for l in layers if not os.path.exists(os.path.join(ROOT, "examples", f"{l}.mlir"))]
    if unknown:
        parser.error(f"no examples/{unknown[0]}.mlir")
    work = args.work or os.path.join(args.build, "bench")
    os.makedirs(work, exist_ok=True)
    results = []
    for name in layers:
        print(f"== {name}", file=sys.stderr, flush=True)
        results.append(bench_layer(name, args.build, work, args.runs))
    info = {"machine": machine(), "commit": commit(), "runs": args.runs,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "baseline": "GEMM bound: the expert GEMMs on the kept rows, NumPy/OpenBLAS "
                        f"({os.cpu_count()} threads); moe-mlir runs on one thread",
            "results": results}
    text = table(results, info)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "latest.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "latest.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")
    print(text)
    return 0 if all(r["check"] == "PASS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
