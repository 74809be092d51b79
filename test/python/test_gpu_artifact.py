"""A GPU artifact from Python: the portable variant of a layer's kernels
(moe-compile --target=opencl) loaded by moe_mlir.Model like a CPU artifact and run on the
CPU's OpenCL device (PoCL); its results match the CPU artifact's."""
import os

import numpy as np

from paths import ARTIFACTS, BUILD, ROOT, moe_compile  # noqa: E402  (puts the package on sys.path)
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
        # Neither the CPU nor PoCL measures the kernels' device time.
        assert model.last_device_ms is None
    for cpu_run, gpu_run in zip(*outputs):
        np.testing.assert_allclose(gpu_run["out"], cpu_run["out"], rtol=1e-5, atol=1e-6)
    # A second input through the same device buffers gives its own result.
    assert not np.allclose(outputs[1][0]["out"], outputs[1][1]["out"])


def test_a_cuda_artifact_reports_its_kernels_device_time(monkeypatch):
    """A CUDA artifact (test/unit/artifacts/fake-cuda.c) on the fake CUDA driver
    (test/unit/fakecuda): it runs, and reports the device time of its launches from CUDA
    events (the fake's 1.5 ms)."""
    monkeypatch.setenv("MOE_CUDA_DRIVER",
                       os.path.join(BUILD, "test", "unit", "fakecuda", "libfakecuda.so"))
    model = Model(os.path.join(ARTIFACTS, "fake-cuda.so"))
    model.bind_weights({"w": np.zeros(4, np.float32)})
    assert model.last_device_ms is None
    results = model.run(x=np.arange(13, dtype=np.float32).reshape(1, 13))
    assert results["y"].shape == (1, 13) and results["y"].dtype == np.float32
    assert model.last_device_ms == 1.5
