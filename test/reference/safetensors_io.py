"""Reads and writes .safetensors files with NumPy only: the scripts' name for
python/moe_mlir/safetensors.py (the package's reader and writer)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "python"))

from moe_mlir.safetensors import read_safetensors, write_safetensors  # noqa: E402

__all__ = ["write_safetensors", "read_safetensors"]
