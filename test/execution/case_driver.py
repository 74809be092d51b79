"""What the execution-test scripts share: compile a layer, run it with moe-run --check, and
the command line that runs a list of cases on a fresh (printed) seed.

A script defines its cases (a tuple each, the name first) and
``run_case(case, build, work, seed) -> (ok, label, log)``, and calls ``main``.
"""
import argparse
import os
import random
import subprocess


def compile_and_run(build, mlir, so, run_args, jit=False, layout="auto"):
    """moe-compile ``mlir`` to ``so`` with the plan ``layout``, then moe-run the .so (and, with
    ``jit``, the .mlir through the JIT) with ``run_args`` (weights, inputs, --check, ...).
    Returns (ok, log)."""
    compile_ = subprocess.run([os.path.join(build, "bin", "moe-compile"), mlir, "--target=cpu",
                               f"--plan-layout={layout}", "-o", so],
                              capture_output=True, text=True)
    if compile_.returncode != 0:
        return False, f"moe-compile failed ({compile_.returncode}):\n{compile_.stdout}{compile_.stderr}"
    log = ""
    for model in [so, mlir] if jit else [so]:
        run = subprocess.run([os.path.join(build, "bin", "moe-run"), model, *run_args,
                              "--rtol", "1e-4", "--atol", "1e-5"],
                             capture_output=True, text=True)
        log += f"$ moe-run {model}\n" + run.stdout + run.stderr
        if run.returncode != 0:
            return False, log
    return True, log


def main(cases, run_case, script):
    """Runs the cases whose name contains --filter on --seed (default: a fresh one), printing
    PASS/FAIL per case, the seed and how to replay it; returns the exit status."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--filter", default="")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    failures = []
    for case in cases:
        if args.filter not in case[0]:
            continue
        ok, label, log = run_case(case, args.build, args.work, seed)
        print(f"{'PASS' if ok else 'FAIL'}: {case[0]}  ({label})")
        if not ok:
            failures.append(case[0])
            print(log)
    print(f"seed {seed}: {len(failures)} failed" + (f": {', '.join(failures)}" if failures else ""))
    print(f"replay with: {script} --seed {seed}")
    return 1 if failures else 0
