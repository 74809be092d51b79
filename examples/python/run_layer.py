"""Runs a compiled MoE layer from Python and checks it against the reference outputs.

    build/bin/moe-compile examples/L6.mlir -o l6.so
    python3 test/reference/make_example_data.py examples/L6.mlir --out-dir l6 --seed 1
    PYTHONPATH=python python3 examples/python/run_layer.py l6.so l6
"""
import sys

import numpy as np

import moe_mlir

artifact, data = sys.argv[1], sys.argv[2]
with moe_mlir.Model(artifact, threads=2) as model:
    print("inputs:", [(a.name, a.dtype, a.shape) for a in model.inputs])
    model.bind_weights(f"{data}/weights.safetensors")
    results = model.run(x=np.load(f"{data}/inputs/x.npy"))
out, expected = results["out"], np.load(f"{data}/expected/out.npy")
print("out:", out.shape, "max abs error vs the reference:", float(np.abs(out - expected).max()))
for name, value in moe_mlir.routing_statistics(results).items():
    print(f"{name}:", value.tolist())
