"""A GPU artifact from Python: the portable variant of a layer's kernels
(moe-compile --target=opencl) loaded by moe_mlir.Model like a CPU artifact and run on the
CPU's OpenCL device (PoCL); its results match the CPU artifact's."""
import os

import numpy as np

from paths import ROOT, moe_compile  # noqa: E402  (puts the package on sys.path)
from moe_mlir import Model  # noqa: E402

LAYER = os.path.join(ROOT, "test", "tools", "Inputs", "small-layer.mlir")


def test_opencl_artifact_matches_the_cpu_artifact(tmp_path):
    cpu = moe_compile(LAYER, tmp_path / "cpu.so")
    gpu = moe_compile(LAYER, tmp_path / "opencl.so", "--target=opencl")
    rng = np.random.default_rng(11)
    weights = {"w_gate": rng.standard_normal((4, 4), np.float32),
               "w_up": rng.standard_normal((4, 4, 8), np.float32),
               "w_down": rng.standard_normal((4, 8, 4), np.float32)}
    outputs = []
    for artifact in (cpu, gpu):
        model = Model(str(artifact))
        model.bind_weights(weights)
        runs = [model.run(x=rng_x) for rng_x in
                (np.random.default_rng(seed).standard_normal((1, 6, 4), np.float32)
                 for seed in (1, 2))]
        outputs.append(runs)
    for cpu_run, gpu_run in zip(*outputs):
        np.testing.assert_allclose(gpu_run["out"], cpu_run["out"], rtol=1e-5, atol=1e-6)
    # A second input through the same device buffers gives its own result.
    assert not np.allclose(outputs[1][0]["out"], outputs[1][1]["out"])
