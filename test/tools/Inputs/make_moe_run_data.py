"""Writes the .npy and .safetensors files that moe-run.test feeds to the test
artifacts in test/unit/artifacts. Usage: make_moe_run_data.py DIR"""
import json
import os
import struct
import sys

import numpy as np

SAFETENSORS_DTYPES = {"float32": "F32", "float64": "F64", "int64": "I64"}


def write_safetensors(path, tensors):
    """A minimal safetensors writer: 8-byte header length, JSON header padded
    to 8 bytes, then the tensors' bytes in order."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        array = np.asarray(array, order="C")  # keeps rank 0, unlike ascontiguousarray
        header[name] = {
            "dtype": SAFETENSORS_DTYPES[array.dtype.name],
            "shape": list(array.shape),
            "data_offsets": [offset, offset + array.nbytes],
        }
        offset += array.nbytes
        blobs.append(array.tobytes())
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def ramp(shape, first, step, dtype=np.float32):
    count = int(np.prod(shape))
    return (first + step * np.arange(count)).astype(dtype).reshape(shape)


out = sys.argv[1]
path = lambda name: os.path.join(out, name)

# affine.so: out = x * w + bias.
x = ramp((2, 3, 4), -3.0, 0.5)
w = ramp((3, 4), 0.25, 0.25)
bias = ramp((4,), -1.5, 1.0)
ref = (x * w + bias).astype(np.float32)
np.save(path("x.npy"), x)
np.save(path("ref.npy"), ref)
np.save(path("x64.npy"), np.arange(64, dtype=np.float32))  # grid.so
off = ref.copy()
off[1, 2, 3] += 0.5
np.save(path("ref_off.npy"), off)
np.save(path("ref_rel.npy"), ref * np.float32(1 + 5e-4))  # within rtol 1e-3 only
np.save(path("ref_short.npy"), ref[:, :2])
# NaN inputs give NaN outputs: a NaN reference element matches a NaN result (and only that).
x_nan = x.copy()
x_nan[0, 1, 2] = np.nan
np.save(path("x_nan.npy"), x_nan)
ref_nan = (x_nan * w + bias).astype(np.float32)
np.save(path("ref_nan.npy"), ref_nan)
x_inf = x.copy()
x_inf[0, 1, 2] = np.inf
np.save(path("x_inf.npy"), x_inf)
with np.errstate(invalid="ignore"):
    np.save(path("ref_inf.npy"), (x_inf * w + bias).astype(np.float32))
np.save(path("x_wide.npy"), ramp((2, 3, 5), 0, 1))
np.save(path("x_f64.npy"), x.astype(np.float64))
write_safetensors(path("w.safetensors"), {"w": w, "bias": bias, "unused": ramp((2,), 0, 1)})
write_safetensors(path("w_wide.safetensors"), {"w": ramp((3, 5), 0, 1), "bias": bias})
write_safetensors(path("w_f64.safetensors"), {"w": w, "bias": bias.astype(np.float64)})
write_safetensors(path("w_no_bias.safetensors"), {"w": w})
with open(path("w.safetensors"), "rb") as f:
    whole = f.read()
with open(path("w_truncated.safetensors"), "wb") as f:
    f.write(whole[:-3])
with open(path("not_a_model.so"), "w") as f:
    f.write("x" * 1024)

# router-stats.so: top-1 routing of 6 tokens over 3 experts, capacity 2.
logits = np.zeros((6, 3), np.float32)
logits[0:4, 1] = 1
logits[4, 2] = 2
logits[5, 0] = 3
scale = np.float32(0.5)
np.save(path("logits.npy"), logits)
write_safetensors(path("scale.safetensors"), {"scale": np.array(scale)})
np.save(path("load_ref.npy"), np.array([[1, 4, 1]], np.int64))
