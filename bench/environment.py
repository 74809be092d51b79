"""The bench's own Python environment for the peers (PyTorch, JAX, matplotlib).

    python3 bench/environment.py [--venv bench/.venv]      # create or complete it, print its python

``ensure()`` creates ``bench/.venv`` (gitignored) on first use and installs ``torch``,
``jax[cpu]``, ``matplotlib`` and ``numpy`` into it with pip.  PyTorch comes from its CPU-only
index when that index answers (a few hundred MB), else from PyPI, whose default torch wheel is
a CUDA build that pulls the CUDA libraries (about 5-6 GB with JAX) and runs on the CPU all the
same.  Nothing outside bench/run.py --peers needs this environment: the tests and
bench/run.py without --peers use only the system Python and NumPy.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import urllib.request

BENCH = os.path.dirname(os.path.abspath(__file__))
DEFAULT_VENV = os.path.join(BENCH, ".venv")
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# import name -> pip requirement
PACKAGES = {"numpy": "numpy", "matplotlib": "matplotlib", "torch": "torch", "jax": "jax[cpu]"}


def python(venv: str = DEFAULT_VENV) -> str:
    return os.path.join(venv, "bin", "python")


def missing(venv: str = DEFAULT_VENV) -> list:
    """The import names of PACKAGES that the environment cannot import (all if it is absent)."""
    if not os.path.exists(python(venv)):
        return list(PACKAGES)
    code = ("import importlib.util, sys\n"
            f"print(' '.join(m for m in {list(PACKAGES)!r} "
            "if importlib.util.find_spec(m) is None))")
    proc = subprocess.run([python(venv), "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        return list(PACKAGES)
    return proc.stdout.split()


def _reachable(url: str, timeout: float = 10.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/torch/", timeout=timeout) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - any failure means: use PyPI
        return False


def _pip(venv: str, args: list, log) -> None:
    cmd = [python(venv), "-m", "pip", "install", "--disable-pip-version-check"] + args
    print("bench venv: " + " ".join(cmd[1:]), file=log, flush=True)
    subprocess.run(cmd, check=True, stdout=log, stderr=log)


def ensure(venv: str = DEFAULT_VENV, log=sys.stderr) -> str:
    """Creates or completes the environment; returns its python.  Raises on failure."""
    need = missing(venv)
    if not need:
        return python(venv)
    if not os.path.exists(python(venv)):
        print(f"bench venv: creating {venv} (torch, jax, matplotlib: several GB, once)",
              file=log, flush=True)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if "torch" in need:
        if _reachable(TORCH_CPU_INDEX):
            _pip(venv, ["--index-url", TORCH_CPU_INDEX, "torch"], log)
        else:
            print(f"bench venv: {TORCH_CPU_INDEX} does not answer; torch from PyPI (CUDA build, "
                  "runs on the CPU)", file=log, flush=True)
            _pip(venv, ["torch"], log)
    rest = [PACKAGES[m] for m in need if m != "torch"]
    if rest:
        _pip(venv, rest, log)
    still = missing(venv)
    if still:
        raise RuntimeError(f"bench venv {venv}: cannot import {', '.join(still)} after install")
    return python(venv)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=DEFAULT_VENV)
    args = parser.parse_args()
    try:
        print(ensure(args.venv))
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        print(f"environment.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
