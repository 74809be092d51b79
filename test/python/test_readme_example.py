"""README's Python example (examples/python/run_layer.py, shown there verbatim) runs on a
compiled layer and matches the reference."""
import os
import re
import subprocess
import sys

from paths import ROOT, moe_compile

EXAMPLE = os.path.join(ROOT, "examples", "python", "run_layer.py")


def test_readme_shows_the_example_verbatim():
    readme = open(os.path.join(ROOT, "README.md")).read()
    body = open(EXAMPLE).read()
    code = body[body.index('"""\n', 3) + 4:]  # after the docstring
    assert code.strip() in readme


def test_the_example_runs_a_compiled_layer(tmp_path):
    so, data = tmp_path / "l6.so", tmp_path / "l6"
    moe_compile(os.path.join(ROOT, "examples", "L6.mlir"), so)
    subprocess.run([sys.executable, os.path.join(ROOT, "test", "reference",
                                                 "make_example_data.py"),
                    os.path.join(ROOT, "examples", "L6.mlir"), "--out-dir", str(data),
                    "--seed", "1"], check=True, capture_output=True)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
    run = subprocess.run([sys.executable, EXAMPLE, str(so), str(data)], env=env,
                         capture_output=True, text=True, check=True)
    error = float(re.search(r"max abs error vs the reference: (\S+)", run.stdout).group(1))
    assert error < 1e-4, run.stdout
    assert re.search(r"^expert_load: \[\[", run.stdout, re.M), run.stdout
    assert re.search(r"^dropped_tokens: \[\d+\]", run.stdout, re.M), run.stdout
