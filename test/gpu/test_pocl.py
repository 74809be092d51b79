"""gpu.module kernels compiled by moe-opt to SPIR-V and run on the CPU's OpenCL device
(PoCL): indexing and bounds (scale), workgroup memory and barriers (block_sum), checked
against NumPy. A missing OpenCL device fails the tests (scripts/bootstrap.sh installs it)."""
import os

import numpy as np
import pytest

from pocl import Buffer, Device, OpenCLError, compile_kernels

KERNELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kernels")


@pytest.fixture(scope="module")
def device():
    with Device() as opened:
        yield opened


def test_the_device_is_there(device):
    assert device.name  # e.g. "cpu-haswell-AMD EPYC ..." for PoCL


def test_work_items_index_and_stop_at_the_bound(device):
    bitcode = compile_kernels(os.path.join(KERNELS, "scale.mlir"))
    rng = np.random.default_rng(0)
    data = rng.standard_normal(1024).astype(np.float32)
    want = data.copy()
    want[:1000] *= np.float32(2.5)
    device.run(bitcode, "scale", [Buffer(data), np.int32(1000), np.float32(2.5)],
               global_size=1024, local_size=64)
    np.testing.assert_array_equal(data, want)


def test_workgroups_share_memory_across_barriers(device):
    bitcode = compile_kernels(os.path.join(KERNELS, "block_sum.mlir"))
    values = np.arange(256, dtype=np.float32)  # exact sums in float32
    sums = np.zeros(4, np.float32)
    device.run(bitcode, "block_sum", [Buffer(values), Buffer(sums)], global_size=256,
               local_size=64)
    np.testing.assert_array_equal(sums, values.reshape(4, 64).sum(axis=1))


def test_reports_a_kernel_that_is_not_there(device):
    bitcode = compile_kernels(os.path.join(KERNELS, "scale.mlir"))
    with pytest.raises(OpenCLError, match=r"clCreateKernel failed with OpenCL error -46"):
        device.run(bitcode, "gemm", [], global_size=64, local_size=64)
