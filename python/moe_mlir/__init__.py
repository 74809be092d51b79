"""moe-mlir from Python: load compiled MoE artifacts and run them on NumPy arrays.

    import numpy as np
    import moe_mlir

    with moe_mlir.Model("l1.so", threads=2) as model:
        model.bind_weights("l1.safetensors")          # or a dict of arrays
        results = model.run(x=np.zeros((1, 1576, 768), np.float32))
        print(results["out"].shape, moe_mlir.routing_statistics(results))

``moe_mlir.checkpoint`` reads google-research/vmoe checkpoints and converts them to .safetensors
with a model's weight names (docs/vmoe-checkpoints.md).

Pure Python over the runtime's C API (runtime/moe_runtime.h) with ctypes; needs only NumPy
and a built libmoe_runtime.so (``scripts/build.sh``; or ``MOE_RUNTIME_LIB``). Every runtime
failure is raised as :class:`MoEError` carrying the runtime's one-line message.
"""
from .runtime import MoEError, Model, TensorSpec, routing_statistics, runtime_library

__all__ = ["MoEError", "Model", "TensorSpec", "routing_statistics", "runtime_library"]
