"""Reads and writes .safetensors files with NumPy only (github.com/huggingface/safetensors).

    [8 bytes]  N, little-endian uint64
    [N bytes]  JSON header {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
               ..., "__metadata__": {"key": "value"}}, padded with spaces to a multiple of 8
    [rest]     the data, little-endian, C order; offsets relative to its start

Tensors are laid out as runtime/SafeTensors.cpp writes them: by decreasing element size, then
by name, so that each starts aligned to its element size and the byte ranges tile the data.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

__all__ = ["write_safetensors", "read_safetensors"]

_DTYPES = {
    "F16": np.float16, "F32": np.float32, "F64": np.float64,
    "I8": np.int8, "I16": np.int16, "I32": np.int32, "I64": np.int64,
    "U8": np.uint8, "U16": np.uint16, "U32": np.uint32, "U64": np.uint64, "BOOL": np.bool_,
}
_NAMES = {np.dtype(t): name for name, t in _DTYPES.items()}


def write_safetensors(path, tensors: dict, metadata: dict | None = None) -> None:
    """Writes ``{name: array}`` (and string ``metadata``) to ``path``."""
    arrays = {name: np.asarray(a) for name, a in tensors.items()}
    for name, a in arrays.items():
        if a.dtype.newbyteorder("=") not in _NAMES:
            raise ValueError(f"tensor '{name}': dtype {a.dtype} has no safetensors name")
    order = sorted(arrays, key=lambda n: (-arrays[n].dtype.itemsize, n))
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in order:
        a = arrays[name]
        header[name] = {
            "dtype": _NAMES[a.dtype.newbyteorder("=")],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in order:
            a = arrays[name]
            np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tofile(f)


def read_safetensors(path) -> tuple:
    """Returns ``({name: array}, metadata)`` of the file at ``path``."""
    data = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8: 8 + n])
    metadata = header.pop("__metadata__", {})
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(body[begin:end], dtype=dtype).reshape(entry["shape"])
    return tensors, metadata
