"""A whole MoE layer compiled to GPU kernels (moe-opt's moe-to-gpu pipeline, the portable
SPIR-V variant) and run on the CPU's OpenCL device (PoCL): the launches the compiler recorded
(moe.launches) in order, over one device buffer per argument of the entry and the workspace.

    ok, log = run_layer(build, "layer.mlir", weights="w.safetensors",
                        inputs={"x": "x.npy"}, checks={"out": "expected/out.npy"},
                        layout="auto")

Results are compared as moe-run --check does: floats within atol + rtol * |expected| (NaN
where NaN is expected, equal infinities), integers exactly.
"""
import json
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

from gpu_binary import first_object, string_bytes  # noqa: E402
from pocl import Device, OpenCLError, spir_bitcode  # noqa: E402

DTYPES = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "i32": np.int32}


def module_attribute(text, name):
    """The string value of the module attribute ``name`` in moe-opt's output."""
    found = re.search(name.replace(".", r"\.") + r' = "((?:[^"\\]|\\.)*)"', text)
    if not found:
        raise OpenCLError(f"moe-opt's output has no {name}")
    return string_bytes(found.group(1)).decode()


_DEVICE = []


def device():
    """The OpenCL device, opened once per process (PoCL does not survive a second context
    after the first is released)."""
    if not _DEVICE:
        _DEVICE.append(Device())
    return _DEVICE[0]


def compile_layer(build, mlir, layout="auto"):
    """(signature, launches, workspace bytes, SPIR bitcode) of the layer in ``mlir``."""
    lowered = subprocess.run(
        [os.path.join(build, "bin", "moe-opt"), mlir,
         f"--pass-pipeline=builtin.module(moe-to-gpu{{target=opencl plan-layout={layout}}})"],
        capture_output=True, text=True)
    if lowered.returncode != 0:
        raise OpenCLError(f"moe-opt could not compile {mlir} for the GPU:\n{lowered.stderr}")
    text = lowered.stdout
    signature = json.loads(module_attribute(text, "moe.signature"))
    launches = json.loads(module_attribute(text, "moe.launches"))
    workspace = int(re.search(r"moe\.workspace_bytes = (\d+)", text).group(1))
    spirv = first_object(text)
    if spirv is None:
        raise OpenCLError(f"no SPIR-V binary in moe-opt's output for {mlir}")
    return signature, launches, workspace, spir_bitcode(spirv)


def compare(name, actual, expected, rtol, atol):
    """None when ``actual`` matches ``expected``, else a one-line description."""
    if actual.shape != expected.shape:
        return f"{name}: shape {list(actual.shape)}, expected {list(expected.shape)}"
    if np.issubdtype(expected.dtype, np.integer):
        bad = np.flatnonzero(actual.reshape(-1) != expected.reshape(-1))
        if bad.size:
            i = bad[0]
            return (f"{name}: {bad.size} of {actual.size} elements differ; element {i}: "
                    f"{actual.reshape(-1)[i]}, expected {expected.reshape(-1)[i]}")
        return None
    a, b = actual.reshape(-1).astype(np.float64), expected.reshape(-1).astype(np.float64)
    with np.errstate(invalid="ignore"):
        error = np.abs(a - b)
        ok = (a == b) | (np.isnan(a) & np.isnan(b)) | (np.isfinite(error) &
                                                        (error <= atol + rtol * np.abs(b)))
    bad = np.flatnonzero(~ok)
    if bad.size:
        i = bad[0]
        return (f"{name}: {bad.size} of {a.size} elements differ; element {i}: {a[i]}, "
                f"expected {b[i]}")
    return None


def run_layer(build, mlir, weights, inputs, checks, layout="auto", rtol=1e-4, atol=1e-5):
    """Compiles and runs the layer; returns (ok, log)."""
    from safetensors_io import read_safetensors

    signature, launches, workspace, bitcode = compile_layer(build, mlir, layout)
    named = dict(read_safetensors(weights)[0]) if weights else {}
    named.update({key: np.load(path) for key, path in inputs.items()})
    buffers = []
    for arg in signature["args"]:
        if arg["name"] not in named:
            return False, f"no data for {arg['role']} '{arg['name']}'\n"
        buffers.append(np.ascontiguousarray(named[arg["name"]],
                                            dtype=DTYPES[arg["dtype"]]).copy())
    results = []
    for result in signature["results"]:
        results.append(np.zeros(result["shape"], dtype=DTYPES[result["dtype"]]))
        buffers.append(results[-1])
    buffers.append(np.zeros(workspace, dtype=np.uint8))
    device().run_launches(bitcode, launches, buffers)
    log = f"{len(launches)} kernel launches on PoCL, workspace {workspace} bytes\n"
    ok = True
    for result, actual in zip(signature["results"], results):
        if result["name"] not in checks:
            continue
        problem = compare(result["name"], actual, np.load(checks[result["name"]]), rtol, atol)
        log += (problem or f"{result['name']}: matches") + "\n"
        ok = ok and problem is None
    return ok, log


if __name__ == "__main__":
    # python3 opencl_layer.py BUILD LAYER.mlir LAYOUT WEIGHTS INPUTS_JSON CHECKS_JSON
    # (a process of its own per layer, as the execution tests run it).
    build_dir, layer, plan_layout, weight_file, input_json, check_json = sys.argv[1:7]
    try:
        passed, text = run_layer(build_dir, layer, weight_file or None, json.loads(input_json),
                                 json.loads(check_json), layout=plan_layout)
    except OpenCLError as error:
        passed, text = False, f"{error}\n"
    sys.stdout.write(text)
    sys.exit(0 if passed else 1)
