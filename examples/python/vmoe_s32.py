"""The main job: V-MoE-S/32 (8 blocks of width 512, MoE in blocks 5 and 7: 8 experts, k = 2,
capacity factor 1.05, batch prioritized routing) built as one function, compiled for the CPU,
given deterministic random weights, run on a batch of synthetic images, checked against the
whole-model NumPy reference, with the routing statistics of each MoE layer and the times.

    PYTHONPATH=python python3 examples/python/vmoe_s32.py [--images 8] [--seed 1]
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "test", "reference"))

import moe_mlir  # noqa: E402
import vit_moe_reference  # noqa: E402
from moe_mlir.builder import build_model  # noqa: E402
from moe_mlir.configs import PUBLISHED  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--images", type=int, default=8)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--build", default=os.environ.get("MOE_BUILD_DIR", os.path.join(ROOT, "build")))
args = parser.parse_args()

config = PUBLISHED["vmoe-s32"]
work = os.path.join(args.build, "examples", "vmoe_s32")
os.makedirs(work, exist_ok=True)
mlir, so = os.path.join(work, "vmoe_s32.mlir"), os.path.join(work, "vmoe_s32.so")
with open(mlir, "w") as f:
    f.write(build_model(config))  # any number of images: compiled once, for one group
print(f"== {config.name}: {config.depth} blocks of width {config.width}, MoE in blocks "
      f"{', '.join(map(str, config.moe_blocks))} ({config.experts} experts, k = {config.router.k}, "
      f"capacity factor {config.router.capacity_factor}, BPR); {args.images} images of "
      f"{config.image_size}x{config.image_size}")
start = time.perf_counter()
# The batch's routing groups in one call (a smaller last call is padded).
per_call = max(1, args.images // config.group_size)
subprocess.run([os.path.join(args.build, "bin", "moe-compile"), mlir,
                f"--groups-per-call={per_call}", "-o", so], check=True)
print(f"== compiled in {time.perf_counter() - start:.1f} s ({per_call} routing groups per "
      f"call): {so}")

params = vit_moe_reference.random_params(config, seed=args.seed)
images = np.random.default_rng(args.seed).standard_normal(
    (args.images, config.image_size, config.image_size, 3)).astype(np.float32)
with moe_mlir.Model(so) as model:
    model.bind_weights(params)
    model.run(images=images)  # warm-up
    start = time.perf_counter()
    results = model.run(images=images)
    elapsed = time.perf_counter() - start
    # The same artifact on another batch size.
    few = np.random.default_rng(args.seed + 1).standard_normal(
        (3,) + images.shape[1:]).astype(np.float32)
    few_logits = model.run(images=few)["logits"]
start = time.perf_counter()
want, routing = vit_moe_reference.forward(config, params, images)
reference_time = time.perf_counter() - start

logits = results["logits"]
error = float(np.abs(logits - want).max() / np.abs(want).max())
agree = bool(np.all(logits.argmax(axis=1) == want.argmax(axis=1)))
print(f"== classes: {logits.argmax(axis=1).tolist()} (reference: {want.argmax(axis=1).tolist()})")
print(f"== logits vs the NumPy reference: max error {error:.2e} of the largest logit: "
      f"{'PASS' if error <= 1e-4 and agree else 'FAIL'}")
ok = error <= 1e-4 and agree
for block in config.moe_blocks:
    load, dropped = results[f"block{block}/expert_load"], results[f"block{block}/dropped_tokens"]
    same = (np.array_equal(load, routing[block]["stats"]["expert_load"])
            and np.array_equal(dropped, routing[block]["stats"]["dropped_tokens"]))
    ok &= same
    print(f"== MoE block {block}: tokens per expert {load.sum(axis=0).tolist()}, dropped tokens "
          f"per image {dropped.tolist()} ({'PASS' if same else 'FAIL'} against the reference)")
few_want, _ = vit_moe_reference.forward(config, params, few)
few_error = float(np.abs(few_logits - few_want).max() / np.abs(few_want).max())
ok &= few_error <= 1e-4
print(f"== the same artifact on 3 images: max error {few_error:.2e}: "
      f"{'PASS' if few_error <= 1e-4 else 'FAIL'}")
print(f"== time: {elapsed * 1000:.1f} ms per batch of {args.images} images on the CPU "
      f"(the NumPy reference: {reference_time:.1f} s)")
sys.exit(0 if ok else 1)
