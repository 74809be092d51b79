"""Benchmarks of whole ViT-MoE models on the CPU: moe-mlir beside PyTorch eager and
torch.compile running the same model on the same weights and images, with the MoE share.

For each model of --models (moe_mlir.configs.PUBLISHED names; default vmoe-s32):
deterministic random weights (vit_moe_reference.random_params, seed 1), --images synthetic
images (seed 1) and the NumPy reference's logits; moe_mlir.builder writes the model for any
number of images, moe-compile compiles it (timed; ``--groups-per-call``, by default the whole
batch in one call) and moe-run checks the logits (within 1e-4 of
the largest, as the tests) and times it (``--bench``); then, for each thread count, pinned as
bench/run.py pins (one process per measurement): moe-mlir, PyTorch eager and torch.compile
(bench/peers/torch_vit_moe.py, checked against the same logits).

The MoE share of a model is 1 - T(without MoE) / T(model), where the model without MoE leaves
out the MoE sublayers (LayerNorm_1 and the MoE layer of each MoE block) and is timed the same
way: moe_mlir.builder's ``without_moe`` and the peer's ``--without-moe`` (eager).

Writes bench/results/models.{md,json} (or --out) and prints the table. Needs the bench's
virtual environment (bench/environment.py, installed on first use).

usage: bench/models.py [--build build] [--models vmoe-s32] [--images 8] [--runs 5]
                       [--threads 1,2] [--out DIR] [--work DIR] [--venv DIR]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, BENCH)

import run as layers  # noqa: E402  (bench/run.py: pinning, the machine, tools)
import vit_moe_reference as vit  # noqa: E402  (test/reference, on run's path)
from moe_mlir.builder import build_model  # noqa: E402
from moe_mlir.configs import PUBLISHED  # noqa: E402
from moe_mlir.safetensors import write_safetensors  # noqa: E402


def prepare(config, images_count, work, tools, per_call):
    """Writes the data and both artifacts; returns their paths and compile times."""
    folder = os.path.join(work, config.name)
    os.makedirs(folder, exist_ok=True)
    params = vit.random_params(config, seed=1)
    images = np.random.default_rng(1).standard_normal(
        (images_count, config.image_size, config.image_size, 3)).astype(np.float32)
    logits, _ = vit.forward(config, params, images)
    write_safetensors(os.path.join(folder, "weights.safetensors"), params)
    np.save(os.path.join(folder, "images.npy"), images)
    np.save(os.path.join(folder, "logits.npy"), logits)
    built = {"data": folder, "atol": 1e-4 * float(np.abs(logits).max())}
    for variant, without in (("model", False), ("without_moe", True)):
        mlir = os.path.join(folder, f"{variant}.mlir")
        with open(mlir, "w") as f:
            f.write(build_model(config, without_moe=without))
        so = os.path.join(folder, f"{variant}.so")
        start = time.perf_counter()
        layers.run([os.path.join(tools, "moe-compile"), mlir, "--target=cpu",
                    f"--groups-per-call={per_call}", "-o", so])
        built[variant] = {"so": so, "compile_s": round(time.perf_counter() - start, 2)}
    return built


def moe_mlir(built, variant, tools, cpus, threads, runs):
    data = built["data"]
    cmd = [os.path.join(tools, "moe-run"), built[variant]["so"],
           "--weights", os.path.join(data, "weights.safetensors"),
           "--inputs", os.path.join(data, "images.npy"), "--threads", str(threads),
           "--bench", str(runs)]
    if variant == "model":
        cmd += ["--check", "logits=" + os.path.join(data, "logits.npy"),
                "--atol", str(built["atol"]), "--rtol", "0"]
    rc, out, err, rss = layers.run_pinned(cmd, cpus, threads)
    timing = layers.parse_bench(out)
    if rc != 0 or timing is None:
        return {"error": f"moe-run: exit status {rc}: {(err or out).strip()[-300:]}"}
    timing["rss_mib"] = rss
    if variant == "model":
        timing["check"] = "PASS" if ": PASS" in out else "FAIL"
    return timing


def torch_peer(python, config, built, cpus, threads, runs, *options):
    cmd = [python, os.path.join(BENCH, "peers", "torch_vit_moe.py"), "--model", config.name,
           "--data", built["data"], "--threads", str(threads), "--runs", str(runs),
           "--cpus", ",".join(map(str, cpus)), *options]
    rc, out, err, _ = layers.run_pinned(cmd, cpus, threads, timeout=layers.PEER_TIMEOUT_S)
    return layers.last_json(rc, out, err, "torch_vit_moe.py")


def share(full, without):
    if "median_ms" not in full or "median_ms" not in without:
        return None
    return round(1.0 - without["median_ms"] / full["median_ms"], 3)


def table(info, results):
    lines = [f"Whole models on {info['machine']['cpu']} ({info['machine']['cores']} cores), "
             f"commit {info['commit']}, {info['date']}; ms per batch, medians of "
             f"{info['runs']} runs; MoE share = 1 - T(without the MoE sublayers) / T(model).",
             "",
             "| model | images (groups per call) | threads | moe-mlir | MoE share | torch eager | "
             "MoE share | "
             "torch.compile | best peer / moe-mlir | compile s (moe-mlir) |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def ms(entry):
        if "median_ms" not in entry:
            return "error"
        mark = "" if entry.get("check", "PASS") == "PASS" else " (FAIL)"
        return f"{entry['median_ms']:.1f}{mark}"

    def pct(value):
        return "-" if value is None else f"{100 * value:.0f}%"

    for r in results:
        for t, m in r["threads"].items():
            peers = [m[k]["median_ms"] for k in ("eager", "compile") if "median_ms" in m[k]]
            ratio = (f"{min(peers) / m['moe_mlir']['median_ms']:.2f}"
                     if peers and "median_ms" in m["moe_mlir"] else "-")
            lines.append(f"| {r['model']} | {r['images']} ({r['groups_per_call']}) | {t} | "
                         f"{ms(m['moe_mlir'])} | "
                         f"{pct(m['moe_mlir_share'])} | {ms(m['eager'])} | "
                         f"{pct(m['eager_share'])} | {ms(m['compile'])} | {ratio} | "
                         f"{r['compile_s']} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--models", default="vmoe-s32")
    p.add_argument("--images", type=int, default=8)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--groups-per-call", type=int, default=None,
                   help="moe-compile --groups-per-call (default: the whole batch, "
                        "images / group size)")
    p.add_argument("--out", default=os.path.join(BENCH, "results"))
    p.add_argument("--work", default=os.path.join(ROOT, "build", "bench-models"))
    p.add_argument("--venv", default=layers.bench_venv.DEFAULT_VENV)
    args = p.parse_args()
    python = layers.bench_venv.ensure(args.venv)
    tools = layers.snapshot_tools(args.build, args.work)
    cores = layers.Cores()
    info = {"machine": layers.machine(), "commit": layers.commit(), "runs": args.runs,
            "date": time.strftime("%Y-%m-%d")}
    results, failed = [], False
    for name in args.models.split(","):
        config = PUBLISHED[name]
        print(f"== {name}: data, reference and compile", flush=True)
        per_call = args.groups_per_call or max(1, args.images // config.group_size)
        built = prepare(config, args.images, args.work, tools, per_call)
        result = {"model": name, "images": args.images, "groups_per_call": per_call,
                  "compile_s": built["model"]["compile_s"], "threads": {}}
        for threads in (int(t) for t in args.threads.split(",")):
            cpus = cores.cpus(threads)
            if cpus is None:
                continue
            print(f"== {name}: {threads} thread(s)", flush=True)
            m = {"moe_mlir": moe_mlir(built, "model", tools, cpus, threads, args.runs),
                 "moe_mlir_without_moe": moe_mlir(built, "without_moe", tools, cpus, threads,
                                                  args.runs),
                 "eager": torch_peer(python, config, built, cpus, threads, args.runs),
                 "eager_without_moe": torch_peer(python, config, built, cpus, threads,
                                                 args.runs, "--without-moe"),
                 "compile": torch_peer(python, config, built, cpus, threads, args.runs,
                                       "--compile")}
            m["moe_mlir_share"] = share(m["moe_mlir"], m["moe_mlir_without_moe"])
            m["eager_share"] = share(m["eager"], m["eager_without_moe"])
            for key in ("moe_mlir", "eager", "compile"):
                failed |= m[key].get("check") != "PASS"
            result["threads"][threads] = m
        results.append(result)
    text = table(info, results)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "models.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "models.json"), "w") as f:
        json.dump({"info": info, "results": results}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
