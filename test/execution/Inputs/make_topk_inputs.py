"""Inputs and expected results of test/execution/topk.test: rows of few distinct values (many
ties), +0 and -0, NaN, +Inf and -Inf, and random values; the expected top-k from NumPy's stable
sort (descending, ties to the lower index, NaN after every number; -0 ties with +0), the order
docs/routers.md §1 defines.

usage: make_topk_inputs.py DIR [SEED]   (a fresh seed, printed, when none is given)
"""
import os
import random
import sys

import numpy as np

out = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else random.SystemRandom().randrange(1 << 31)
print(f"seed {seed} (replay: make_topk_inputs.py DIR {seed})")
rng = np.random.default_rng(seed)
K = 17


def rows(dtype):
    x = rng.choice(np.array([-1.5, -0.0, 0.0, 0.25, 2.0], dtype=dtype), size=(3, 5, 40))
    x[0, 1, rng.integers(0, 40, 6)] = np.nan
    x[0, 2, :] = np.nan
    x[1, 0, rng.integers(0, 40, 4)] = np.inf
    x[1, 1, rng.integers(0, 40, 4)] = -np.inf
    x[1, 2, :] = -np.inf
    x[2] = rng.standard_normal((5, 40)).astype(dtype)
    x[2, 3, 5] = x[2, 3, 9]  # a tie among random values
    return x


def topk(x):
    # argsort of the negation is ascending in -x: descending in x, stable (ties keep the lower
    # index first), NaN last; -(-0) and -(+0) compare equal, so the zeros tie.
    order = np.argsort(-x, axis=-1, kind="stable")[..., :K]
    return np.take_along_axis(x, order, axis=-1), order.astype(np.int32)


for name, dtype, suffix in (("x", np.float32, ""), ("y", np.float64, "64")):
    x = rows(dtype)
    np.save(os.path.join(out, f"{name}.npy"), x)
    values, indices = topk(x)
    np.save(os.path.join(out, f"values{suffix}.npy"), values)
    np.save(os.path.join(out, f"indices{suffix}.npy"), indices)
