"""Inputs of test/execution/runtime-checks.test: index tensors in and out of
range for the entries of index-inputs.mlir, and the expected results of the
in-range ones (computed here with NumPy, from the ops' documented semantics).

usage: make_index_inputs.py DIR
"""
import os
import sys

import numpy as np

out = sys.argv[1]


def save(name, array):
    np.save(os.path.join(out, name + ".npy"), array)


rng = np.random.default_rng(0)
x = rng.standard_normal((8, 4)).astype(np.float32)
save("x", x)
good = np.array([0, 1, -1, 7, 2, 3], dtype=np.int32)
save("row_token", good)
# gather_rows: rows[n] = x[row_token[n]], zeros for -1.
save("rows_ref", np.where((good >= 0)[:, None], x[np.maximum(good, 0)], 0).astype(np.float32))
for name, (pos, value) in {"one_past": (4, 8), "below": (2, -2), "huge": (5, 1 << 30)}.items():
    bad = good.copy()
    bad[pos] = value
    save("row_token_" + name, bad)

rows = rng.standard_normal((5, 4)).astype(np.float32)
w = rng.standard_normal((2, 4, 4)).astype(np.float32)
save("rows", rows)
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "reference"))
import safetensors_io  # noqa: E402

safetensors_io.write_safetensors(os.path.join(out, "w.safetensors"), {"w": w})
save("offsets", np.array([0, 2, 5], dtype=np.int32))
save("offsets_bad", np.array([0, 2, 6], dtype=np.int32))
save("token_row", np.array([[[0], [1], [2], [3], [4]]], dtype=np.int32))
save("token_row_bad", np.array([[[0], [1], [5], [3], [4]]], dtype=np.int32))
save("weights", np.full((1, 5, 1), 0.5, dtype=np.float32))
y = np.concatenate([rows[:2] @ w[0], rows[2:] @ w[1]])
save("out_ref", (0.5 * y)[None].astype(np.float32))
save("x4", np.arange(4, dtype=np.float32))
