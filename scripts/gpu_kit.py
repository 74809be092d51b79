"""The GPU checks and benchmark for a GPU machine without the compiler.

A lent GPU machine may have the CUDA driver, PyTorch and NumPy but not LLVM/MLIR 22, so
neither moe-compile nor moe-run (both link libMLIR) runs there. The kit splits the work:

    python3 scripts/gpu_kit.py prepare --build build --kit KIT --arch sm_90a
        here: every case of the router matrix (test/execution/router_matrix.py) compiled as a
        GPU artifact (f32, tf32, and other block sizes for BLOCK_SIZE_CASES) with its inputs,
        weights and NumPy-reference results; the standard layers (examples/L1-L7) compiled
        (f32, tf32); libmoe_runtime.so (no LLVM needed). A few MB to a few tens of MB.

    python3 scripts/gpu_kit.py check --kit KIT --out OUT [--runs 20] [--peers]
                                     [--precisions f32,tf32] [--layers L1,L3] [--skip-cases]
        there (the repository and KIT copied over): every case run through the Python
        binding (python/moe_mlir) on the device and compared with the reference as moe-run
        --check does (f32: rtol 1e-4, atol 1e-5; tf32: 1e-2), the block-size variants
        bitwise against the default; then each layer's data made from seed 1
        (make_example_data.py), its results checked, its calls timed (the host's wall time
        and the kernels' CUDA-event time, Model.last_device_ms) and, with --peers, PyTorch
        eager, torch.compile and cuBLAS on the same data (bench/peers, as bench/run.py
        --target cuda runs them). Writes OUT/gpu-kit.md and OUT/gpu-kit.json (the tables of
        bench/gpu.py), again after each layer (a stopped run leaves what it measured);
        exits 1 if anything does not match.

--target opencl prepares the same kit for the OpenCL device (PoCL on the CPU), which checks
the kit itself where there is no GPU (test/execution/gpu-kit.test).
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for folder in ("python", "bench", os.path.join("test", "reference"),
               os.path.join("test", "execution"), os.path.join("test", "gpu")):
    sys.path.insert(0, os.path.join(ROOT, folder))

import case_driver  # noqa: E402
import make_example_data  # noqa: E402
import router_matrix  # noqa: E402

PRECISIONS = ("f32", "tf32")
# moe-run --check's tolerances (test/execution/case_driver.py): f32 arithmetic; tf32 reads
# inputs with 10 bits of mantissa on a GPU's tensor cores (OpenCL emulates them in f32).
TOLERANCE = {"f32": (1e-4, 1e-5), "tf32": (1e-2, 1e-2)}


def compile_artifact(build, mlir, so, target, arch, options):
    command = [os.path.join(build, "bin", "moe-compile"), mlir, f"--target={target}",
               *([f"--arch={arch}"] if target == "cuda" else []), *options, "-o", so]
    proc = subprocess.run(command, capture_output=True, text=True,
                          env=case_driver.cuda_env())
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}:\n{proc.stdout}{proc.stderr}")


def prepare(args):
    kit = os.path.abspath(args.kit)
    # Only a new folder or an earlier kit is written into: nothing of the user's is replaced.
    if os.path.isdir(kit) and os.listdir(kit) and \
            not os.path.exists(os.path.join(kit, "manifest.json")):
        print(f"gpu_kit.py: error: {args.kit!r} is a folder with files and no kit's "
              "manifest.json; name a new folder", file=sys.stderr)
        return 2
    os.makedirs(os.path.join(kit, "lib"), exist_ok=True)
    shutil.copy2(os.path.join(args.build, "lib", "libmoe_runtime.so"),
                 os.path.join(kit, "lib", "libmoe_runtime.so"))
    cases = [c for c in router_matrix.CASES
             if not args.cases or c[0] in args.cases.split(",")]
    import run as bench  # bench/run.py: the commit the kit is built from
    manifest = {"target": args.target, "arch": args.arch if args.target == "cuda" else None,
                "seed": args.seed, "commit": bench.commit(), "cases": [], "layers": []}
    for case in cases:
        name = case[0]
        layout = case[10] if len(case) > 10 else "auto"
        folder = os.path.join(kit, "cases", name)
        os.makedirs(folder, exist_ok=True)
        mlir = os.path.join(folder, f"{name}.mlir")
        with open(mlir, "w") as f:
            f.write(router_matrix.layer_text(*case)[0])
        make_example_data.write_example(mlir, folder, seed=args.seed)
        entry = {"name": name, "label": case[1], "artifacts": {}, "blocks": []}
        for precision in PRECISIONS:
            so = f"{precision}.so"
            compile_artifact(args.build, mlir, os.path.join(folder, so), args.target,
                             args.arch, [f"--plan-layout={layout}", f"--precision={precision}"])
            entry["artifacts"][precision] = so
        if name in router_matrix.BLOCK_SIZE_CASES:
            for threads, single in case_driver.GPU_BLOCK_SIZES:
                so = f"f32.blocks{threads}-{single}.so"
                compile_artifact(args.build, mlir, os.path.join(folder, so), args.target,
                                 args.arch, [f"--plan-layout={layout}",
                                             f"--gpu-threads={threads}",
                                             f"--gpu-single-block-threads={single}"])
                entry["blocks"].append(so)
        manifest["cases"].append(entry)
        print(f"prepared {name}", flush=True)
    for layer in [l for l in args.layers.split(",") if l]:
        folder = os.path.join(kit, "layers", layer)
        os.makedirs(folder, exist_ok=True)
        mlir = os.path.join(ROOT, "examples", f"{layer}.mlir")
        entry = {"name": layer, "artifacts": {}, "compile_s": {}}
        for precision in PRECISIONS:
            start = time.perf_counter()
            compile_artifact(args.build, mlir, os.path.join(folder, f"{precision}.so"),
                             args.target, args.arch, [f"--precision={precision}"])
            entry["compile_s"][precision] = round(time.perf_counter() - start, 2)
            entry["artifacts"][precision] = f"{precision}.so"
        manifest["layers"].append(entry)
        print(f"prepared {layer}", flush=True)
    with open(os.path.join(kit, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return 0


def matches(got, ref, rtol, atol):
    """moe-run --check's rule (tools/moe-run/Compare.cpp): equal values (infinities too) and
    NaN against NaN pass, else a finite |got - ref| <= atol + rtol * |ref|."""
    a, b = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if a.shape != b.shape:
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(a - b)
        ok = (np.isnan(a) & np.isnan(b)) | (a == b) | (
            np.isfinite(error) & (error <= atol + rtol * np.abs(b)))
    return bool(ok.all())


def load_data(folder):
    inputs = {f[:-4]: np.load(os.path.join(folder, "inputs", f))
              for f in sorted(os.listdir(os.path.join(folder, "inputs")))}
    expected = {f[:-4]: np.load(os.path.join(folder, "expected", f))
                for f in sorted(os.listdir(os.path.join(folder, "expected")))}
    return inputs, expected


def run_model(Model, artifact, folder, inputs):
    model = Model(artifact)
    model.bind_weights(os.path.join(folder, "weights.safetensors"))
    return model, model.run(inputs)


def check_results(results, expected, precision):
    rtol, atol = TOLERANCE[precision]
    return [name for name, ref in expected.items()
            if name not in results or not matches(results[name], ref, rtol, atol)]


def check_cases(manifest, kit, Model):
    failures = []
    for case in manifest["cases"]:
        folder = os.path.join(kit, "cases", case["name"])
        inputs, expected = load_data(folder)
        outputs = {}
        for precision, so in case["artifacts"].items():
            try:
                _, outputs[so] = run_model(Model, os.path.join(folder, so), folder, inputs)
                bad = check_results(outputs[so], expected, precision)
            except Exception as error:  # the runtime's MoEError, a missing file
                bad = [f"error: {error}"]
            if bad:
                failures.append(f"{case['name']} {precision}: {', '.join(bad)}")
        for so in case["blocks"]:
            try:
                _, results = run_model(Model, os.path.join(folder, so), folder, inputs)
                base = outputs.get(case["artifacts"]["f32"], {})
                differ = [n for n in base if results.get(n) is None
                          or results[n].tobytes() != base[n].tobytes()]
            except Exception as error:
                differ = [f"error: {error}"]
            if differ:
                failures.append(f"{case['name']} {so}: not bitwise the default's: "
                                f"{', '.join(differ)}")
        status = "FAIL" if any(f.startswith(case["name"] + " ") for f in failures) else "PASS"
        print(f"{status}: {case['name']}  ({case['label']})", flush=True)
    return failures


def signature_of(artifact):
    from fatbin import artifact_binary  # test/gpu/fatbin.py: the artifact's symbols
    return artifact_binary(artifact)[1]


def time_layer(model, inputs, runs):
    model.run(inputs)  # warm-up
    host, device = [], []
    for _ in range(runs):
        start = time.perf_counter()
        model.run(inputs)
        host.append((time.perf_counter() - start) * 1e3)
        if model.last_device_ms is not None:
            device.append(model.last_device_ms)
    return (statistics.median(host), statistics.median(device) if device else None)


def check_layers(manifest, kit, Model, args, precision, progress):
    """Runs the kit's layers in ``precision``; calls ``progress(results)`` after each (the
    report so far is written even if the device call is stopped later)."""
    import run as bench  # bench/run.py: the reference plan and the FLOPs of the experts
    import gpu as bench_gpu  # bench/gpu.py: the peers' commands and the table
    results = []
    for layer in manifest["layers"]:
        name, mlir = layer["name"], os.path.join(ROOT, "examples", f"{layer['name']}.mlir")
        data = os.path.join(args.work, name)
        result = {"layer": name, "compile_s": layer["compile_s"][precision]}
        try:
            if not os.path.exists(os.path.join(data, "weights.safetensors")):
                make_example_data.write_example(mlir, data, seed=1)
            inputs, expected = load_data(data)
            artifact = os.path.join(kit, "layers", name, layer["artifacts"][precision])
            signature = signature_of(artifact)
            result["launches"] = len(signature.get("launches", []))
            result["workspace_bytes"] = signature.get("workspace_bytes")
            model, outputs = run_model(Model, artifact, data, inputs)
            bad = check_results(outputs, expected, precision)
            result["check"] = "FAIL" if bad else "PASS"
            if bad:
                print(f"{name} {precision}: {', '.join(bad)} differ from the reference",
                      file=sys.stderr)
            host, device = time_layer(model, inputs, args.runs)
            result["moe_mlir"] = {"median_ms": host}
            result["kernels_ms"] = device
            model.close()
            fn = bench.moe_ir.parse_moe_file(mlir)
            rows = [int(r) for r in bench.kept_rows(fn, bench.layer_plan(fn, data))]
            result["flops"] = bench.expert_flops(fn, rows)
            result["peers"] = {}
            if args.peers:
                ctx = argparse.Namespace(runs=args.runs, precision=precision,
                                         python=args.python or sys.executable)
                result["peers"] = bench_gpu.run_peers(ctx, mlir, data, rows)
        except Exception as error:  # a failed run or peer: reported in the table
            print(f"{name}: {error}", file=sys.stderr)
            result.update({"check": "ERROR", "error": str(error)[:2000]})
        results.append(result)
        print(f"{result['check']}: {name} {precision}", flush=True)
        progress(results)
    return results


def gpu_name():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return None
    proc = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"],
                          capture_output=True, text=True)
    return proc.stdout.strip().splitlines()[0] if proc.returncode == 0 and proc.stdout.strip() \
        else None


def check(args):
    unknown = [p for p in args.precisions.split(",") if p not in PRECISIONS]
    if unknown:
        print(f"gpu_kit.py: error: unknown precision {unknown[0]!r} (expected "
              f"{' or '.join(PRECISIONS)})", file=sys.stderr)
        return 2
    kit = os.path.abspath(args.kit)
    os.environ["MOE_RUNTIME_LIB"] = os.path.join(kit, "lib", "libmoe_runtime.so")
    from moe_mlir import Model
    import gpu as bench_gpu
    with open(os.path.join(kit, "manifest.json")) as f:
        manifest = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    args.work = os.path.abspath(args.work or os.path.join(args.out, "work"))
    if args.layers:
        wanted = args.layers.split(",")
        unknown = [l for l in wanted if l != "none"
                   and l not in [layer["name"] for layer in manifest["layers"]]]
        if unknown:
            print(f"gpu_kit.py: error: the kit has no layer {unknown[0]!r}", file=sys.stderr)
            return 2
        manifest["layers"] = [l for l in manifest["layers"] if l["name"] in wanted]
    if args.skip_cases:
        manifest["cases"] = []
    failures = check_cases(manifest, kit, Model)
    failed = {f.split(" ", 1)[0] for f in failures}
    print(f"cases: {len(manifest['cases'])}, {len(failed)} failed", flush=True)
    for failure in failures:
        print(f"  {failure}")
    report = {"target": manifest["target"], "arch": manifest["arch"],
              "gpu": gpu_name() or ("the OpenCL device" if manifest["target"] == "opencl"
                                    else "none"),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime(
                  "%Y-%m-%d %H:%M UTC"),
              "case_failures": failures, "layers": {}}
    heading = f"Router matrix on the device: {len(manifest['cases'])} cases, " \
              f"{len(failed)} failed.\n\n"

    def write_report():
        text = heading + "".join(bench_gpu.table(info) + "\n"
                                 for info in report["layers"].values())
        with open(os.path.join(args.out, "gpu-kit.json"), "w") as f:
            json.dump(report, f, indent=1, default=str)
        with open(os.path.join(args.out, "gpu-kit.md"), "w") as f:
            f.write(text)
        return text

    write_report()
    ok = not failures
    for precision in args.precisions.split(",") if manifest["layers"] else ():
        info = {"target": manifest["target"], "gpu": report["gpu"], "arch": manifest["arch"],
                "precision": precision, "commit": manifest["commit"], "runs": args.runs,
                "date": report["date"], "peers": bool(args.peers), "results": []}
        report["layers"][precision] = info

        def progress(results, info=info):
            info["results"] = list(results)
            write_report()
        results = check_layers(manifest, kit, Model, args, precision, progress)
        ok = ok and all(r["check"] == "PASS" for r in results) and all(
            p.get("check", "FAIL") == "PASS" for r in results
            for p in r.get("peers", {}).values() if "check" in p or "error" in p)
    print(write_report())
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("prepare", help="compile the kit (needs the build)")
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--kit", required=True)
    p.add_argument("--target", choices=("cuda", "opencl"), default="cuda")
    p.add_argument("--arch", default="sm_90a")
    p.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    p.add_argument("--layers", default="L1,L2,L3,L4,L5,L6,L7")
    p.add_argument("--seed", type=int, default=1)
    c = commands.add_parser("check", help="run the kit on the device (no compiler needed)")
    c.add_argument("--kit", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--work", default=None)
    c.add_argument("--runs", type=int, default=20)
    c.add_argument("--peers", action="store_true")
    c.add_argument("--precisions", default="f32,tf32",
                   help="the layers' artifacts to run (the cases run both)")
    c.add_argument("--layers", default="",
                   help="comma-separated layers of the kit to run (default: all; 'none')")
    c.add_argument("--skip-cases", action="store_true",
                   help="run the layers only (a second device call, say)")
    c.add_argument("--python", default=None)
    args = parser.parse_args()
    return prepare(args) if args.command == "prepare" else check(args)


if __name__ == "__main__":
    sys.exit(main())
