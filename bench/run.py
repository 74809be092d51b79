"""Benchmarks of the standard layers (PERFORMANCE.md) on the CPU, side by side with the GEMM
bound and, with --peers, PyTorch eager, torch.compile and JAX, in one run.

moe-compile and moe-run are copied from BUILD/bin into WORK/tools first, so that one build
serves the whole run.  For each layer of examples/ (L1-L7 by default): deterministic weights
and inputs (seed 1) and the NumPy reference's outputs (test/reference/make_example_data.py);
moe-compile --target=cpu (timed); one checked run (moe-run --check, every result against the
reference); then, for each thread count of --threads (default 1,2), one after the other:

- moe-mlir: ``moe-run --bench N`` (median and minimum of N runs after a warm-up), with
  ``--threads T`` when moe-run has that option (else only 1 thread is measured), and its peak
  RSS (bench/rusage.py);
- the routing share: the layer truncated after the routing (bench/route_ir.py: gate, route,
  plan_slots, route_stats), compiled and timed the same way, over the layer's time;
- the GEMM bound: the experts' two GEMMs alone on the rows the reference plan keeps (every slot
  for Soft MoE), NumPy/OpenBLAS and, with --peers, torch.matmul/MKL; the faster counts;
- with --peers: bench/peers/torch_moe.py (eager, then --compile) and bench/peers/jax_moe.py on
  the same weights and inputs, each checked against the reference outputs.

Every timed program runs in a process of its own, pinned to its cores (1 thread:
MOE_BENCH_CPU, default the first allowed CPU; T threads: the first T allowed CPUs) with its
libraries' thread counts set to T (bench/peers/common.thread_env).  The peak FP32 rate of one
core comes from bench/peak_flops.c (compiled on demand with cc -O2 -march=native).  FLOP
counts are the experts' GEMMs on the kept rows.

--peers installs the bench's own virtual environment (bench/environment.py: bench/.venv with
torch, jax, matplotlib; several GB, once) and draws bench/results/latest.png (bench/plot.py).
Without --peers only the system Python and NumPy are used.

Writes markdown tables and a JSON file (medians, ratios, GFLOP/s, compile times, RSS, the
load other processes put on the machine meanwhile, the machine, the commit) to --out
(default bench/results/latest.{md,json}; latest.png with --peers) and prints the tables.
Exits 1 when moe-mlir or a peer does not match the reference, or a peer fails to run.

usage: bench/run.py [--build build] [--layers L1,L4] [--runs 10] [--threads 1,2] [--peers]
                    [--out DIR] [--work DIR] [--venv DIR]

--target cuda (or opencl) runs the GPU harness instead (bench/gpu.py): the layers on the GPU
beside PyTorch eager, torch.compile and cuBLAS on the same GPU.
"""
import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

# The harness itself times nothing; its NumPy (data, reference plans) stays on one thread so
# that it leaves the cores to the measured processes.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))
sys.path.insert(0, os.path.join(BENCH, "peers"))
sys.path.insert(0, BENCH)

import common as peer_common  # noqa: E402
import make_example_data  # noqa: E402
import moe_ir  # noqa: E402
import moe_reference as ref  # noqa: E402
import route_ir  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402
import environment as bench_venv  # noqa: E402

LAYERS = ["L1", "L2", "L3", "L4", "L5", "L6", "L7"]
PEERS = ("eager", "compile", "jax")
PEER_TITLES = {"eager": "eager", "compile": "compile", "jax": "JAX"}
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
             "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16")
PEER_TIMEOUT_S = 3600


# ------------------------------------------------------------------------------------------
# The machine
# ------------------------------------------------------------------------------------------


def machine():
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
            mem = f"{kib / 2**20:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return {"cpu": model, "cores": os.cpu_count(), "allowed_cpus": sorted(os.sched_getaffinity(0)),
            "isa": [f for f in ISA_FLAGS if f in flags], "memory": mem,
            "os": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__}


def cpu_busy(seconds=1.0):
    """The fraction of all CPUs' time spent busy over `seconds` (this process sleeps)."""
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + (v[4] if len(v) > 4 else 0)  # total, idle + iowait
    try:
        t0, i0 = sample()
        time.sleep(seconds)
        t1, i1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (i1 - i0) / (t1 - t0) if t1 > t0 else None


class OtherWork:
    """How much CPU time other processes took while a measurement ran: the machine's busy
    time (/proc/stat) less this process's and its waited-for children's."""

    def __init__(self):
        self.start = self.sample()

    @staticmethod
    def sample():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:9]]
            busy = (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            busy = None
        me = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return (busy, me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                time.monotonic())

    def share(self):
        """Other processes' CPU time over the CPUs' time since the start (0..1), or None."""
        busy, mine, now = self.sample()
        busy0, mine0, then = self.start
        if busy is None or busy0 is None or now <= then:
            return None
        other = (busy - busy0) - (mine - mine0)
        return max(0.0, other / ((now - then) * (os.cpu_count() or 1)))


def commit():
    """The short commit, with "-dirty" when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--"],
                           capture_output=True).returncode != 0
    return head + ("-dirty" if dirty else "")


# ------------------------------------------------------------------------------------------
# Pinned child processes
# ------------------------------------------------------------------------------------------


class Cores:
    """The CPUs a measurement with T threads is pinned to."""

    def __init__(self):
        self.allowed = sorted(os.sched_getaffinity(0))
        self.first = int(os.environ.get("MOE_BENCH_CPU", self.allowed[0]))
        if self.first not in self.allowed:
            raise SystemExit(f"bench/run.py: error: MOE_BENCH_CPU={self.first} is not one of "
                             f"the allowed CPUs {self.allowed}")

    def cpus(self, threads):
        if threads == 1:
            return [self.first]
        return self.allowed[:threads] if threads <= len(self.allowed) else None


def run_pinned(cmd, cpus, threads, extra_env=None, timeout=None):
    """Runs cmd in its own process pinned to `cpus`, with the thread variables for `threads`.
    Returns (returncode, stdout, stderr, peak RSS in MiB or None).  The peak RSS comes from
    bench/rusage.py, which starts the command from a small process of its own."""
    env = dict(os.environ)
    env.update(peer_common.thread_env(threads))
    env.update(extra_env or {})
    saved = os.sched_getaffinity(0)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.TemporaryDirectory() as tmp:
        rss_file = os.path.join(tmp, "rss")
        full = [sys.executable, "-S", os.path.join(BENCH, "rusage.py"), rss_file, "--"] + cmd
        os.sched_setaffinity(0, set(cpus))  # inherited by the child at fork
        try:
            proc = subprocess.Popen(full, stdout=out, stderr=err, env=env,
                                    start_new_session=True)
        finally:
            os.sched_setaffinity(0, saved)
        timer = None
        if timeout:
            timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGKILL))
            timer.start()
        try:
            proc.wait()
        finally:
            if timer:
                timer.cancel()
        rss = None
        if os.path.exists(rss_file):
            with open(rss_file) as f:
                rss = float(f.read())
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), rss)


def run(cmd):
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        raise RuntimeError(f"{' '.join(cmd)}: {e}") from e
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                           f"{proc.stdout}{proc.stderr}")
    return proc.stdout


def last_json(rc, out, err, what):
    """The JSON line a peer printed last, or {"error": ...}."""
    for line in reversed(out.strip().splitlines()):
        if line.startswith("{"):
            try:
                result = json.loads(line)
            except ValueError:
                break
            if rc != 0 and "error" not in result:
                result["error"] = f"exit status {rc}"
            return result
    tail = (err.strip().splitlines() or ["no output"])[-1]
    return {"error": f"{what}: exit status {rc}: {tail[:300]}"}


def peak_flops(work, cpu):
    """GFLOP/s of one core's FMA units (bench/peak_flops.c), or None."""
    exe = os.path.join(work, "peak_flops")
    src = os.path.join(BENCH, "peak_flops.c")
    cc = os.environ.get("CC", "cc")
    try:
        if not os.path.exists(exe) or os.path.getmtime(exe) < os.path.getmtime(src):
            run([cc, "-O2", "-march=native", src, "-o", exe])
        rc, out, err, _ = run_pinned([exe, "0.5"], [cpu], 1)
    except (OSError, RuntimeError) as e:
        print(f"bench: peak FLOP rate not measured: {e}", file=sys.stderr)
        return None
    m = re.search(r"isa (\S+), .* ([0-9.]+) GFLOP/s per core", out)
    if rc != 0 or not m:
        print(f"bench: peak FLOP rate not measured: {out}{err}", file=sys.stderr)
        return None
    return {"gflops_per_core": float(m.group(2)), "isa": m.group(1).rstrip(",")}


def snapshot_tools(build, work, wait_s=300):
    """Copies moe-compile and moe-run from BUILD/bin into WORK/tools and returns that folder,
    so that the whole run uses one build even if BUILD is rebuilt meanwhile.  A binary that is
    being linked (not executable yet, or changing while copied) is waited for, up to wait_s."""
    tools = os.path.join(work, "tools")
    os.makedirs(tools, exist_ok=True)
    for name in ("moe-compile", "moe-run"):
        src, dst = os.path.join(build, "bin", name), os.path.join(tools, name)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                before = os.stat(src)
                if before.st_mode & 0o100:
                    shutil.copy2(src, dst + ".tmp")
                    after = os.stat(src)
                    if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns,
                                                                after.st_size):
                        os.replace(dst + ".tmp", dst)
                        if subprocess.run([dst, "--help"], capture_output=True).returncode == 0:
                            break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"bench/run.py: error: no usable {src}")
            time.sleep(2)
    return tools


def moe_run_has_threads(tools):
    try:
        proc = subprocess.run([os.path.join(tools, "moe-run"), "--help"],
                              capture_output=True, text=True)
    except OSError:
        return False
    return "--threads" in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------
# One layer
# ------------------------------------------------------------------------------------------


def reference_plan(fn, arrays):
    """The reference's plan of the layer (SlotPlan, or SoftPlan for Soft MoE)."""
    gate = fn.gate
    x = arrays[gate.input.name]
    if gate.scale is not None:
        logits = ref.soft_gate(x, arrays[gate.weight.name], arrays[gate.scale.name])
    else:
        logits = ref.gate(x, arrays[gate.weight.name])
    return make_example_data.reference_plan(fn, logits)


def layer_plan(fn, data):
    """reference_plan of the layer ``fn`` on the weights and the input in ``data`` (the folder
    make_example_data.py writes)."""
    arrays, _ = read_safetensors(os.path.join(data, "weights.safetensors"))
    arrays[fn.gate.input.name] = np.load(os.path.join(data, "inputs", "x.npy"))
    return reference_plan(fn, arrays)


def kept_rows(fn, plan):
    """Rows each expert's GEMMs see in the reference plan: [E] counts."""
    if fn.gate.scale is not None:  # Soft MoE: every slot is a row
        return np.full(fn.plan.experts, fn.plan.groups * fn.plan.capacity)
    return (plan.token >= 0).sum(axis=(0, 2))


def expert_flops(fn, rows):
    w1, w2 = fn.experts.up.type.shape, fn.experts.down.type.shape
    return sum(2 * int(r) * (w1[1] * w1[2] + w2[1] * w2[2]) for r in rows)


def parse_bench(out):
    m = re.search(r"median ([0-9.e+-]+) ms, min ([0-9.e+-]+) ms", out)
    return {"median_ms": float(m.group(1)), "min_ms": float(m.group(2))} if m else None


class Layer:
    def __init__(self, name, ctx):
        self.name, self.ctx = name, ctx
        self.mlir = os.path.join(ROOT, "examples", f"{name}.mlir")
        self.fn = moe_ir.parse_moe_file(self.mlir)
        self.data = os.path.join(ctx.work, name)

    def moe_run(self, so, extra):
        return [os.path.join(self.ctx.tools, "moe-run"), so,
                "--weights", os.path.join(self.data, "weights.safetensors"),
                "--inputs", os.path.join(self.data, "inputs", "x.npy")] + extra

    def threads_opt(self, threads):
        return ["--threads", str(threads)] if self.ctx.moe_threads else []

    def prepare(self):
        ctx = self.ctx
        make_example_data.write_example(self.mlir, self.data, seed=1)
        self.so = os.path.join(ctx.work, f"{self.name}.so")
        start = time.perf_counter()
        run([os.path.join(ctx.tools, "moe-compile"), self.mlir, "--target=cpu",
             "-o", self.so])
        self.compile_s = time.perf_counter() - start
        expected = sorted(f for f in os.listdir(os.path.join(self.data, "expected"))
                          if f.endswith(".npy"))
        self.expected = {f[:-4]: os.path.join(self.data, "expected", f) for f in expected}
        self.check_arg = check = ",".join(f"{k}={v}" for k, v in self.expected.items())
        rc, out, err, _ = run_pinned(self.moe_run(self.so, ["--check", check] +
                                                  self.threads_opt(1)),
                                     ctx.cores.cpus(1), 1)
        if rc not in (0, 1):
            raise RuntimeError(f"moe-run --check failed ({rc}):\n{out}{err}")
        self.check = "PASS" if rc == 0 and out.count(": PASS") == len(expected) else "FAIL"
        if self.check == "FAIL":
            print(out, file=sys.stderr)

        plan = layer_plan(self.fn, self.data)
        self.rows = [int(r) for r in kept_rows(self.fn, plan)]
        self.flops = expert_flops(self.fn, self.rows)

        # The routing alone (bench/route_ir.py), checked against the reference's slot table
        # and the statistics.
        self.route_so, self.route_note = None, None
        text = route_ir.route_only(self.mlir)
        if text is None:
            self.route_note = "no slot table (Soft MoE)"
            return
        path = os.path.join(ctx.work, f"{self.name}_route.mlir")
        with open(path, "w") as f:
            f.write(text)
        so = os.path.join(ctx.work, f"{self.name}_route.so")
        refs = os.path.join(self.data, "route_expected")
        os.makedirs(refs, exist_ok=True)
        np.save(os.path.join(refs, "slot_token.npy"), plan.token)
        np.save(os.path.join(refs, "slot_weight.npy"), plan.weight)
        check = {"slot_token": os.path.join(refs, "slot_token.npy"),
                 "slot_weight": os.path.join(refs, "slot_weight.npy")}
        check.update({r.name: self.expected[r.name] for r in self.fn.results
                      if r.quantity in moe_ir.STATS and r.name in self.expected})
        try:
            run([os.path.join(ctx.tools, "moe-compile"), path, "--target=cpu", "-o", so])
        except RuntimeError as e:
            self.route_note = "routing-only IR does not compile"
            print(f"bench: {self.name}: {self.route_note}: {e}", file=sys.stderr)
            return
        rc, out, err, _ = run_pinned(
            self.moe_run(so, ["--check", ",".join(f"{k}={v}" for k, v in check.items())] +
                         self.threads_opt(1)), ctx.cores.cpus(1), 1)
        if rc == 0:
            self.route_so = so
        else:
            self.route_note = "the routing-only run does not match the reference plan"
            print(f"bench: {self.name}: {self.route_note}:\n{out}{err}", file=sys.stderr)

    def measure(self, threads):
        """Everything timed at one thread count, each in its own pinned process."""
        ctx = self.ctx
        cpus = ctx.cores.cpus(threads)
        res = {"cpus": cpus}
        if cpus is None:
            res["note"] = f"only {len(ctx.cores.allowed)} CPUs allowed"
            return res
        runs = str(ctx.runs)

        # moe-mlir (checked once more at this thread count when it is not 1)
        if threads > 1 and ctx.moe_threads:
            rc, out, err, _ = run_pinned(
                self.moe_run(self.so, ["--check", self.check_arg] + self.threads_opt(threads)),
                cpus, threads)
            res["check"] = "PASS" if rc == 0 and out.count(": PASS") == len(self.expected) \
                else "FAIL"
            if res["check"] == "FAIL":
                self.check = "FAIL"
                print(f"bench: {self.name} {threads}T:\n{out}{err}", file=sys.stderr)
        if threads == 1 or ctx.moe_threads:
            rc, out, err, rss = run_pinned(
                self.moe_run(self.so, ["--bench", runs] + self.threads_opt(threads)),
                cpus, threads)
            timing = parse_bench(out) if rc == 0 else None
            res["moe_mlir"] = (dict(timing, peak_rss_mib=rss) if timing else
                               {"error": f"moe-run exit status {rc}: {err.strip()[-300:]}"})
            if self.route_so:
                rc, out, err, _ = run_pinned(
                    self.moe_run(self.route_so, ["--bench", runs] + self.threads_opt(threads)),
                    cpus, threads)
                res["route"] = parse_bench(out) if rc == 0 else {"error": err.strip()[-300:]}
        else:
            res["moe_mlir"] = {"note": "moe-run has no --threads option"}

        # GEMM bound
        bound_cmd = [os.path.join(BENCH, "peers", "gemm_bound.py"), "--mlir", self.mlir,
                     "--data", self.data, "--rows", ",".join(map(str, self.rows)),
                     "--threads", str(threads), "--runs", runs,
                     "--cpus", ",".join(map(str, cpus))]
        bound = {"numpy": last_json(*run_pinned([sys.executable] + bound_cmd +
                                                ["--backend", "numpy"], cpus, threads)[:3],
                                    "gemm_bound numpy")}
        if ctx.venv_python:
            bound["torch"] = last_json(*run_pinned([ctx.venv_python] + bound_cmd +
                                                   ["--backend", "torch"], cpus, threads)[:3],
                                       "gemm_bound torch")
        res["bound"] = bound

        # Peers
        if ctx.venv_python:
            peer_cmd = ["--mlir", self.mlir, "--data", self.data, "--threads", str(threads),
                        "--runs", runs, "--cpus", ",".join(map(str, cpus))]
            peers = {}
            for peer in PEERS:
                script = "jax_moe.py" if peer == "jax" else "torch_moe.py"
                cmd = [ctx.venv_python, os.path.join(BENCH, "peers", script)] + peer_cmd
                extra = {}
                cache = None
                if peer == "compile":
                    cmd.append("--compile")
                    # A cold compile each time: inductor's caches in a fresh folder.
                    cache = tempfile.mkdtemp(prefix="inductor-", dir=ctx.work)
                    extra = {"TORCHINDUCTOR_CACHE_DIR": cache}
                print(f"   {self.name} {threads}T {peer}", file=sys.stderr, flush=True)
                rc, out, err, rss = run_pinned(cmd, cpus, threads, extra, PEER_TIMEOUT_S)
                if cache:
                    shutil.rmtree(cache, ignore_errors=True)
                peers[peer] = last_json(rc, out, err, peer)
                peers[peer]["peak_rss_mib"] = rss
                if peers[peer].get("check") == "FAIL" or "error" in peers[peer]:
                    print(f"bench: {self.name} {threads}T {peer}: "
                          f"{peers[peer].get('error') or peers[peer]}", file=sys.stderr)
            res["peers"] = peers
        self.derive(res, threads)
        return res

    def measure_noting_others(self, threads):
        others = OtherWork()
        res = self.measure(threads)
        share = others.share()
        res["other_work"] = None if share is None else round(share, 3)
        return res

    def derive(self, res, threads):
        """Ratios, GFLOP/s, share of peak and routing share from the measurements."""
        ctx = self.ctx
        bounds = {k: v["median_ms"] for k, v in res.get("bound", {}).items()
                  if "median_ms" in v}
        if bounds:
            by = min(bounds, key=bounds.get)
            res["bound_ms"], res["bound_by"] = bounds[by], by
        peers_ok = {k: v["median_ms"] for k, v in res.get("peers", {}).items()
                    if v.get("check") == "PASS" and "median_ms" in v}
        if peers_ok:
            best = min(peers_ok, key=peers_ok.get)
            res["best_peer"], res["best_peer_ms"] = best, peers_ok[best]
        ms = res.get("moe_mlir", {}).get("median_ms")
        if ms is None:
            return
        if "bound_ms" in res:
            res["vs_bound"] = round(ms / res["bound_ms"], 3)
        if "best_peer_ms" in res:
            res["vs_best_peer"] = round(ms / res["best_peer_ms"], 3)
        res["gflops"] = round(self.flops / 1e9 / (ms / 1e3), 2)
        if ctx.peak:
            res["peak_fraction"] = round(res["gflops"] / (threads * ctx.peak["gflops_per_core"]),
                                         4)
        route = res.get("route", {}).get("median_ms")
        if route is not None:
            res["routing_share"] = round(route / ms, 4)

    def result(self, per_thread):
        return {"layer": self.name, "check": self.check, "compile_s": round(self.compile_s, 3),
                "expert_gflop": round(self.flops / 1e9, 3), "rows": self.rows,
                "routing_variant": self.route_note or "gate, route, plan_slots, route_stats",
                "threads": {str(t): r for t, r in per_thread.items()}}


# ------------------------------------------------------------------------------------------
# The table
# ------------------------------------------------------------------------------------------


def fmt_ms(entry):
    if not entry:
        return "n/a"
    if "error" in entry:
        return "error"
    if "median_ms" not in entry:
        return "n/a"
    v = entry["median_ms"]
    text = f"{v:.1f}" if v >= 1 else f"{v:.2f}"
    return text + (" FAIL" if entry.get("check") == "FAIL" else "")


def fmt(v, spec, suffix=""):
    return "n/a" if v is None else format(v, spec) + suffix


def check_cell(layer_result, peer):
    """PASS/FAIL of a peer over every thread count (the worst relative error)."""
    entries = [t.get("peers", {}).get(peer) for t in layer_result["threads"].values()]
    entries = [e for e in entries if e]
    if not entries:
        return "n/a"
    if any("error" in e for e in entries):
        return "error"
    worst = max(e.get("max_rel_err", 0.0) for e in entries)
    bad = [e for e in entries if e.get("check") != "PASS"]
    if bad:
        tokens = max(e.get("bad_tokens", 0) for e in bad)
        return f"FAIL ({tokens} tokens off, max rel err {worst:.1e})"
    return f"PASS ({worst:.1e})"


def table(info, peers):
    m = info["machine"]
    peak = info.get("peak")
    thr = ", ".join(f"{t} thread{'s' if int(t) > 1 else ''}: CPU{'s' if int(t) > 1 else ''} "
                    f"{','.join(map(str, c))}" for t, c in info["pinning"].items() if c)
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores ({', '.join(m['isa']) or 'no AVX'}), "
        f"{m['memory']}; peak "
        + (f"{peak['gflops_per_core']:.0f} GFLOP/s per core ({peak['isa']} FMA)" if peak
           else "n/a")
        + f"; commit {info['commit']}; {info['date']}; load average "
        f"{info['load_average']['start']:.2f} before, {info['load_average']['end']:.2f} after"
        + ("" if info.get("busy_before") is None else
           f" (CPUs {100 * info['busy_before']:.0f}% busy in the second before)") + ".",
        "",
        f"{info['runs']} timed runs after a warm-up, medians in ms; every timed program in its "
        f"own process pinned to its cores ({thr}). moe-mlir threads: "
        + ("moe-run --threads." if info["moe_run_threads"] else
           "1 (moe-run has no --threads option: 2-thread moe-mlir is n/a).")
        + " Bound: the expert GEMMs alone on the kept rows, the faster of "
        + ("NumPy/OpenBLAS (O) and torch.matmul/MKL (M)" if peers else "NumPy/OpenBLAS")
        + " at the same thread count."
        + (f" Peers: PyTorch {info['versions'].get('torch', '?')} eager and torch.compile, "
           f"JAX {info['versions'].get('jax', '?')} jit (capacity-padded)." if peers else "")
        + " Others' load: the CPU time other processes took while the row was measured, over "
          "the CPUs' time (above a few % the row's timings are disturbed).",
        "",
    ]
    cols = ["layer", "threads", "moe-mlir"]
    if peers:
        cols += [PEER_TITLES[p] for p in PEERS]
    cols += ["bound"] + (["vs best peer"] if peers else []) + ["vs bound", "others' load"]
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in info["results"]:
        for t, x in r["threads"].items():
            row = [r["layer"], t, fmt_ms(x.get("moe_mlir"))]
            if peers:
                row += [fmt_ms(x.get("peers", {}).get(p)) for p in PEERS]
            b = x.get("bound_ms")
            row.append("n/a" if b is None else
                       f"{b:.1f}" + (f" ({'M' if x['bound_by'] == 'torch' else 'O'})"
                                     if peers else ""))
            if peers:
                bp = x.get("vs_best_peer")
                row.append("n/a" if bp is None else
                           f"{bp:.2f} ({PEER_TITLES[x['best_peer']]})")
            row.append(fmt(x.get("vs_bound"), ".2f"))
            other = x.get("other_work")
            row.append("n/a" if other is None else f"{100 * other:.0f}%")
            lines.append("| " + " | ".join(row) + " |")

    lines += ["", "moe-mlir: GFLOP/s of the expert GEMMs (kept rows) over the layer's time, "
              "share of the cores' peak, routing (gate to plan and statistics) over the layer, "
              "peak RSS of the moe-run process, compile time"
              + ("; torch.compile's first call (its compilation)" if peers else "") + ".", ""]
    cols = ["layer", "threads", "GFLOP/s", "% of peak", "routing share", "RSS (MiB)",
            "moe-compile (s)"] + (["torch.compile 1st call (s)"] if peers else [])
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in info["results"]:
        for t, x in r["threads"].items():
            mm = x.get("moe_mlir", {})
            share = x.get("routing_share")
            row = [r["layer"], t, fmt(x.get("gflops"), ".1f"),
                   fmt(None if x.get("peak_fraction") is None else 100 * x["peak_fraction"],
                       ".0f", "%"),
                   "n/a" if share is None else f"{100 * share:.1f}%",
                   fmt(mm.get("peak_rss_mib"), ".0f"), f"{r['compile_s']:.2f}"]
            if peers:
                c = x.get("peers", {}).get("compile", {})
                row.append(fmt(c.get("first_call_s") if "error" not in c else None, ".1f"))
            lines.append("| " + " | ".join(row) + " |")

    lines += ["", "Checks against the reference outputs (every element within 1e-4 relative, "
              "1e-5 absolute; worst relative error over the thread counts):", ""]
    cols = ["layer", "moe-mlir"] + ([PEER_TITLES[p] for p in PEERS] if peers else [])
    lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in info["results"]:
        row = [r["layer"], r["check"]] + ([check_cell(r, p) for p in PEERS] if peers else [])
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------


class Context:
    pass


def write_results(out, stem, text, info):
    """Writes the tables as OUT/STEM.md and ``info`` as OUT/STEM.json."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{stem}.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, f"{stem}.json"), "w") as f:
        json.dump(info, f, indent=1)
        f.write("\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--threads", default="1,2",
                        help="thread counts, comma-separated (default 1,2)")
    parser.add_argument("--peers", action="store_true",
                        help="also PyTorch eager, torch.compile and JAX (installs bench/.venv)")
    parser.add_argument("--venv", default=bench_venv.DEFAULT_VENV,
                        help="the bench's virtual environment (default bench/.venv)")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    parser.add_argument("--work", default=None, help="work files (default: BUILD/bench)")
    parser.add_argument("--target", choices=("cpu", "cuda", "opencl"), default="cpu",
                        help="cpu (this harness), or the GPU harness (bench/gpu.py): cuda, "
                             "or opencl (its flow on the OpenCL device, no peers)")
    parser.add_argument("--arch", default=None,
                        help="--target cuda: the chip (default: the GPU's, sm_90a on Hopper)")
    parser.add_argument("--precision", choices=("f32", "tf32"), default="f32",
                        help="GPU targets: the expert GEMMs' products (moe-compile --precision)")
    parser.add_argument("--python", default=None,
                        help="--target cuda --peers: the Python with a CUDA build of PyTorch "
                             "(default: this one)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    try:
        threads = sorted({int(t) for t in args.threads.split(",") if t.strip()})
    except ValueError:
        parser.error(f"--threads takes comma-separated counts, got '{args.threads}'")
    if not threads or threads[0] < 1:
        parser.error("--threads counts must be >= 1")
    layers = [l.strip() for l in args.layers.split(",") if l.strip()]
    unknown = [l for l in layers if not os.path.exists(os.path.join(ROOT, "examples", f"{l}.mlir"))]
    if unknown:
        parser.error(f"no examples/{unknown[0]}.mlir")
    if args.target != "cpu":
        import gpu
        return gpu.main(args)

    ctx = Context()
    ctx.build, ctx.runs = args.build, args.runs
    ctx.work = os.path.abspath(args.work or os.path.join(args.build, "bench"))
    os.makedirs(ctx.work, exist_ok=True)
    ctx.cores = Cores()
    ctx.tools = snapshot_tools(args.build, ctx.work)
    ctx.moe_threads = moe_run_has_threads(ctx.tools)
    ctx.venv_python = None
    versions = {}
    if args.peers:
        try:
            ctx.venv_python = bench_venv.ensure(args.venv)
        except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
            print(f"bench/run.py: error: the bench's environment: {e}", file=sys.stderr)
            return 2
        versions = json.loads(run([ctx.venv_python, "-c",
                                   "import json, torch, jax, numpy; print(json.dumps("
                                   "{'torch': torch.__version__, 'jax': jax.__version__, "
                                   "'numpy': numpy.__version__}))"]))
    load_start, busy = os.getloadavg()[0], cpu_busy()
    if busy is not None and busy > 0.1:
        print(f"bench: warning: the CPUs were {100 * busy:.0f}% busy in the second before the "
              "run: other work competes for the cores and the timings will show it",
              file=sys.stderr)
    ctx.peak = peak_flops(ctx.work, ctx.cores.first)

    results = []
    for name in layers:
        print(f"== {name}", file=sys.stderr, flush=True)
        layer = Layer(name, ctx)
        try:
            layer.prepare()
        except (RuntimeError, OSError) as e:  # e.g. it does not compile: the others still run
            print(f"bench: {name}: {e}", file=sys.stderr)
            results.append({"layer": name, "check": "ERROR", "error": str(e)[:2000],
                            "threads": {}})
            continue
        load = os.getloadavg()[0]
        results.append(layer.result({t: layer.measure_noting_others(t) for t in threads}))
        results[-1]["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]

    info = {"machine": machine(), "commit": commit(), "runs": args.runs,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": {"start": round(load_start, 2),
                             "end": round(os.getloadavg()[0], 2)},
            "busy_before": None if busy is None else round(busy, 3),
            "peak": ctx.peak, "moe_run_threads": ctx.moe_threads,
            "pinning": {str(t): ctx.cores.cpus(t) for t in threads},
            "versions": versions, "peers": bool(args.peers),
            "baseline": "GEMM bound: the expert GEMMs on the kept rows, the faster of "
                        "NumPy/OpenBLAS" + (" and torch.matmul/MKL" if args.peers else "")
                        + ", at the same thread count, in its own pinned process",
            "results": results}
    text = table(info, args.peers)
    write_results(args.out, "latest", text, info)
    if args.peers:
        rc, out, err, _ = run_pinned([ctx.venv_python, os.path.join(BENCH, "plot.py"),
                                      os.path.join(args.out, "latest.json"),
                                      os.path.join(args.out, "latest.png")],
                                     ctx.cores.allowed, len(ctx.cores.allowed))
        if rc != 0:
            print(f"bench: the plot failed: {err.strip()[-500:]}", file=sys.stderr)
    print(text)

    ok = all(r["check"] == "PASS" for r in results)
    for r in results:
        for x in r["threads"].values():
            for p in x.get("peers", {}).values():
                ok = ok and p.get("check") == "PASS" and "error" not in p
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
