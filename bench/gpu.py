"""GPU benchmarks of the standard layers: bench/run.py --target cuda (or opencl).

For each layer of examples/ (L1-L7 by default): deterministic weights and inputs (seed 1) and
the NumPy reference's outputs (test/reference/make_example_data.py); moe-compile --target=cuda
--arch=ARCH [--precision=tf32] (timed); one checked run on the device (moe-run --device cuda
--check, every result against the reference); then moe-run --bench N: the median time of a
call seen from the host (inputs uploaded, the kernels launched, results copied back) and the
kernels' own time from CUDA events around their launches.

With --peers, on the same GPU and the same data, each in a process of its own and checked
against the reference: PyTorch eager and torch.compile of the layer
(bench/peers/torch_moe.py --device cuda), and the experts' two GEMMs alone on the rows the
reference plan keeps through cuBLAS (torch.matmul, bench/peers/gemm_bound.py --device cuda; in
tf32 when --precision=tf32): the same FLOPs as moe-mlir's expert GEMMs. The peers run under
--python (default: this Python), which must hold a CUDA build of PyTorch (the bench's own
virtual environment holds a CPU build).

--target opencl runs the same flow, without peers, on the OpenCL device (PoCL on the CPU where
there is no GPU): it checks the harness and the GPU artifacts end to end; its times say
nothing about a GPU.

Writes gpu-latest.md and gpu-latest.json (the GPU, the commit, medians, ratios, GFLOP/s) to
--out and prints the tables. Exits 1 when moe-mlir or a peer does not match the reference.

usage: bench/run.py --target cuda [--arch sm_90a] [--precision f32|tf32] [--layers L1,L4]
                    [--runs 20] [--peers] [--python python3] [--out DIR] [--work DIR]
"""
import datetime
import os
import re
import shutil
import subprocess
import sys
import time

import run as bench  # bench/run.py: the CPU harness, whose helpers this one shares

GPU_PEERS = ("eager", "compile", "cublas")
PEER_TITLES = {"eager": "eager", "compile": "torch.compile", "cublas": "cuBLAS GEMMs"}


def nvidia_gpu():
    """(name, compute capability "9.0") of the first NVIDIA GPU, or (None, None).  The
    nvidia-smi asked is MOE_BENCH_NVIDIA_SMI's, else the one on PATH."""
    smi = os.environ.get("MOE_BENCH_NVIDIA_SMI") or shutil.which("nvidia-smi")
    if not smi or not os.access(smi, os.X_OK):
        return None, None
    proc = subprocess.run([smi, "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                          capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        return None, None
    name, cap = [f.strip() for f in proc.stdout.strip().splitlines()[0].split(",")]
    return name, cap


def arch_for(capability):
    """The --arch for a compute capability: sm_90a on Hopper, sm_80 for other chips from
    Ampere on (the kernels use mma.sync, sm_80+)."""
    major = int(capability.split(".")[0]) if capability else 0
    return "sm_90a" if major == 9 else "sm_80"


def parse_entry_info(out):
    """(kernel launches, workspace bytes) from moe-run --entry-info of a GPU artifact."""
    m = re.search(r"kernel launches: ([0-9]+), workspace ([0-9]+) bytes", out)
    return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def parse_device_ms(out):
    """The kernels' median from moe-run --bench's CUDA-events line, or None."""
    m = re.search(r"kernels on the device \(CUDA events\): median ([0-9.e+-]+) ms", out)
    return float(m.group(1)) if m else None


class GpuLayer:
    def __init__(self, name, ctx):
        self.name, self.ctx = name, ctx
        self.mlir = os.path.join(bench.ROOT, "examples", f"{name}.mlir")
        self.fn = bench.moe_ir.parse_moe_file(self.mlir)
        self.data = os.path.join(ctx.work, name)
        self.so = os.path.join(ctx.work, f"{name}-{ctx.target}.so")

    def moe_run(self, extra):
        return [os.path.join(self.ctx.tools, "moe-run"), self.so, "--device", self.ctx.target,
                "--weights", os.path.join(self.data, "weights.safetensors"),
                "--inputs", os.path.join(self.data, "inputs", "x.npy")] + extra

    def measure(self):
        ctx = self.ctx
        bench.make_example_data.write_example(self.mlir, self.data, seed=1)
        compile_cmd = [os.path.join(ctx.tools, "moe-compile"), self.mlir,
                       f"--target={ctx.target}", f"--precision={ctx.precision}", "-o", self.so]
        if ctx.target == "cuda":
            compile_cmd.insert(3, f"--arch={ctx.arch}")
        start = time.perf_counter()
        bench.run(compile_cmd)
        result = {"layer": self.name, "compile_s": round(time.perf_counter() - start, 2)}
        info = bench.run([os.path.join(ctx.tools, "moe-run"), self.so, "--entry-info"])
        result["launches"], result["workspace_bytes"] = parse_entry_info(info)
        expected = sorted(f for f in os.listdir(os.path.join(self.data, "expected"))
                          if f.endswith(".npy"))
        check = ",".join(f"{f[:-4]}={os.path.join(self.data, 'expected', f)}"
                         for f in expected)
        proc = subprocess.run(self.moe_run(["--check", check] + ctx.tolerance),
                              capture_output=True, text=True)
        passed = proc.returncode == 0 and proc.stdout.count(": PASS") == len(expected)
        result["check"] = "PASS" if passed else "FAIL"
        if not passed:
            print(proc.stdout + proc.stderr, file=sys.stderr)
        out = bench.run(self.moe_run(["--bench", str(ctx.runs)]))
        result["moe_mlir"] = bench.parse_bench(out)
        result["kernels_ms"] = parse_device_ms(out)

        rows = [int(r) for r in bench.kept_rows(self.fn, bench.layer_plan(self.fn, self.data))]
        result["flops"] = bench.expert_flops(self.fn, rows)
        result["peers"] = run_peers(ctx, self.mlir, self.data, rows) if ctx.peers else {}
        return result


def run_peers(ctx, mlir, data, rows):
    """PyTorch eager, torch.compile and cuBLAS (the experts' GEMMs on ``rows``) on the layer
    ``mlir`` and the data in ``data``, each in a process of ``ctx.python`` on the CUDA device
    (``ctx``: runs, precision, python); {peer: its JSON result}."""
    common = ["--mlir", mlir, "--data", data, "--runs", str(ctx.runs), "--device", "cuda"]
    commands = {
        "eager": [os.path.join(bench.BENCH, "peers", "torch_moe.py")] + common,
        "compile": [os.path.join(bench.BENCH, "peers", "torch_moe.py")] + common +
                   ["--compile"],
        "cublas": [os.path.join(bench.BENCH, "peers", "gemm_bound.py")] + common +
                  ["--backend", "torch", "--rows", ",".join(map(str, rows))] +
                  (["--tf32"] if ctx.precision == "tf32" else []),
    }
    results = {}
    for peer, cmd in commands.items():
        proc = subprocess.run([ctx.python] + cmd, capture_output=True, text=True,
                              timeout=bench.PEER_TIMEOUT_S)
        results[peer] = bench.last_json(proc.returncode, proc.stdout, proc.stderr, peer)
    return results


def fmt(value, spec="{:.3f}"):
    return "n/a" if value is None else spec.format(value)


def table(info):
    """The markdown tables of a GPU run."""
    target = info["target"]
    lines = [f"GPU: {info['gpu']} ({target}"
             + (f", {info['arch']}" if target == "cuda" else "")
             + f", precision {info['precision']}); commit {info['commit']}; {info['date']}; "
             f"medians of {info['runs']} runs after a warm-up, ms.", ""]
    peers = info["peers"]
    head = ["layer", "check", "moe-mlir (host)", "kernels (events)"]
    if peers:
        head += [PEER_TITLES[p] for p in GPU_PEERS] + ["vs eager", "vs torch.compile",
                                                        "GEMMs vs cuBLAS"]
    head += ["expert GFLOP/s", "launches", "workspace (MiB)", "moe-compile (s)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in info["results"]:
        if "error" in r:
            lines.append(f"| {r['layer']} | ERROR | " + " | ".join(["n/a"] * (len(head) - 2))
                         + " |")
            continue
        host = (r.get("moe_mlir") or {}).get("median_ms")
        kernels = r.get("kernels_ms")
        ours = kernels if kernels is not None else host
        row = [r["layer"], r["check"], fmt(host), fmt(kernels)]
        if peers:
            medians = {p: r["peers"].get(p, {}).get("median_ms") for p in GPU_PEERS}
            row += [fmt(medians[p]) for p in GPU_PEERS]

            def ratio(peer):
                theirs = medians[peer]
                return None if theirs is None or not ours else theirs / ours
            row += [fmt(ratio("eager"), "{:.2f}x"), fmt(ratio("compile"), "{:.2f}x"),
                    fmt(ratio("cublas"), "{:.2f}")]
        workspace = r.get("workspace_bytes")
        row += [fmt(r["flops"] / (ours * 1e6) if ours else None, "{:.0f}"),
                fmt(r.get("launches"), "{:d}"),
                fmt(workspace / 2**20 if workspace is not None else None, "{:.1f}"),
                fmt(r.get("compile_s"), "{:.1f}")]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    lines.append("vs eager / vs torch.compile: the peer's time over moe-mlir's (kernels by CUDA "
                 "events where there are, else host); > 1 means moe-mlir is faster. GEMMs vs "
                 "cuBLAS: cuBLAS's time for the experts' two GEMMs alone on the kept rows over "
                 "moe-mlir's whole layer (1.0: the layer at cuBLAS's GEMM speed). launches: "
                 "the kernels one call launches; workspace: its device buffer besides the "
                 "arguments.")
    if peers:
        for r in info["results"]:
            for peer, p in r.get("peers", {}).items():
                if "error" in p or p.get("check", "PASS") != "PASS":
                    lines.append(f"- {r['layer']} {PEER_TITLES[peer]}: "
                                 f"{p.get('error') or p.get('check')}")
    return "\n".join(lines) + "\n"


def main(args):
    """bench/run.py's main for --target cuda|opencl (``args``: its parsed options)."""
    ctx = bench.Context()
    ctx.target, ctx.runs, ctx.peers = args.target, args.runs, args.peers
    ctx.precision, ctx.python = args.precision, args.python or sys.executable
    ctx.work = os.path.abspath(args.work or os.path.join(args.build, "bench-gpu"))
    os.makedirs(ctx.work, exist_ok=True)
    ctx.tools = bench.snapshot_tools(args.build, ctx.work)
    # tf32 reads inputs with 10 bits of mantissa: results within 1e-2 of the reference's.
    ctx.tolerance = ["--rtol", "1e-2", "--atol", "1e-2"] if args.precision == "tf32" else []
    gpu, capability = nvidia_gpu()
    if args.target == "cuda":
        if gpu is None and not args.arch:
            print("bench/run.py: error: --target cuda: no NVIDIA GPU found (nvidia-smi); "
                  "name --arch to compile anyway", file=sys.stderr)
            return 2
        ctx.arch = args.arch or arch_for(capability)
    else:
        if args.peers:
            print("bench/run.py: error: --peers needs --target cuda", file=sys.stderr)
            return 2
        ctx.arch, gpu = None, "the OpenCL device (PoCL on the CPU where there is no GPU)"
    layers = [l.strip() for l in args.layers.split(",") if l.strip()]
    results = []
    for name in layers:
        print(f"== {name}", file=sys.stderr, flush=True)
        try:
            results.append(GpuLayer(name, ctx).measure())
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            print(f"bench: {name}: {e}", file=sys.stderr)
            results.append({"layer": name, "check": "ERROR", "error": str(e)[:2000]})
    info = {"target": args.target, "gpu": gpu or "none", "arch": ctx.arch,
            "precision": args.precision, "commit": bench.commit(), "runs": args.runs,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": bench.machine(), "peers": bool(args.peers), "results": results}
    text = table(info)
    bench.write_results(args.out, "gpu-latest", text, info)
    print(text)
    ok = all(r["check"] == "PASS" for r in results) and all(
        p.get("check", "FAIL") == "PASS" for r in results for p in r.get("peers", {}).values()
        if "check" in p or "error" in p)
    return 0 if ok else 1
