#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (test/fuzz/README.md).

    make_corpus.py SRC_ROOT OUT_DIR

OUT_DIR/<target>/ gets, for each target:
  ir           every `// -----` split of test/dialect, test/passes, test/tools/Inputs and
               examples/*.mlir, comment lines dropped (RUN/CHECK lines are noise to mutate)
  npy          numpy.save of every supported dtype and of ranks 0-4, empty arrays, versions
               2.0 and 3.0, and the variants the reader rejects (Fortran order, big-endian)
  safetensors  test/reference/safetensors_io.py's files: every dtype (BF16 by hand), empty
               and zero-size tensors, metadata
  signature    the signature JSON of docs/artifact-abi.md, of the hand-written test artifacts
               (test/unit/artifacts/*.c) and a few variants (every dtype, scalar, roles)
plus the committed reproducers of past findings, test/fuzz/findings/<target>/*, so the smoke
tests re-run every fixed finding. The directories are emptied first.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

TARGETS = ("ir", "npy", "safetensors", "signature")


def ir_seeds(root: Path):
    files = []
    for pattern in ("test/dialect/*.mlir", "test/passes/*.mlir", "test/tools/Inputs/*.mlir",
                    "examples/*.mlir"):
        files += sorted(root.glob(pattern))
    for path in files:
        chunks = re.split(r"^// -----.*$", path.read_text(), flags=re.M)
        for chunk in chunks:
            lines = [l for l in chunk.splitlines() if not l.lstrip().startswith("//")]
            text = "\n".join(lines).strip()
            if text:
                yield text.encode() + b"\n"


def npy_bytes(array, version=None) -> bytes:
    out = io.BytesIO()
    if version is None:
        np.save(out, array)
    else:
        np.lib.format.write_array(out, array, version=version)
    return out.getvalue()


def npy_seeds():
    for code in ("<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8"):
        yield npy_bytes(np.arange(6, dtype=code).reshape(2, 3))
    yield npy_bytes(np.array([[True, False, True]]))
    yield npy_bytes(np.float32(1.5).reshape(()))
    yield npy_bytes(np.zeros((0,), np.float64))
    yield npy_bytes(np.zeros((0, 3), np.int32))
    yield npy_bytes(np.arange(3, dtype=np.int64))
    yield npy_bytes(np.arange(24, dtype=np.float32).reshape(2, 1, 3, 4))
    yield npy_bytes(np.arange(4, dtype="<i2").reshape(2, 2), version=(2, 0))
    yield npy_bytes(np.arange(4, dtype="<i2").reshape(2, 2), version=(3, 0))
    yield npy_bytes(np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    yield npy_bytes(np.arange(6, dtype=">f4").reshape(2, 3))


def safetensors_bytes(tensors: dict, metadata=None) -> bytes:
    from safetensors_io import write_safetensors
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "seed.safetensors"
        write_safetensors(path, tensors, metadata)
        return path.read_bytes()


def bf16_safetensors() -> bytes:
    # NumPy has no bfloat16: the header names BF16 over raw 2-byte elements.
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}},
                        separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + bytes([0x80, 0x3f, 0, 0x40, 0, 0, 0, 0])


def safetensors_seeds():
    yield safetensors_bytes({})
    yield safetensors_bytes({}, {"format": "pt"})
    for code in ("<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8"):
        yield safetensors_bytes({"t": np.arange(6, dtype=code).reshape(3, 2)})
    yield safetensors_bytes({"mask": np.array([True, False])})
    yield safetensors_bytes({"scalar": np.float32(2.0).reshape(()),
                             "empty": np.zeros((0, 4), np.float32)})
    yield safetensors_bytes(
        {"gate.w": np.ones((4, 2), np.float32), "experts.b1": np.zeros((2, 3), np.float16),
         "ids": np.arange(3, dtype=np.int64)},
        {"producer": "make_corpus.py", "seed": "7"})
    yield bf16_safetensors()


def c_string_literals(text: str):
    """The concatenated string literals after `moe_signature_json[] =`."""
    for match in re.finditer(r"moe_signature_json\[\]\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)",
                             text):
        parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", match.group(1))
        yield "".join(parts).encode().decode("unicode_escape")


def signature_seeds(root: Path):
    doc = (root / "docs" / "artifact-abi.md").read_text()
    for block in re.findall(r"```json\n(.*?)```", doc, flags=re.S):
        yield block.encode()
    for path in sorted((root / "test" / "unit" / "artifacts").glob("*.c")):
        for literal in c_string_literals(path.read_text()):
            yield literal.encode()
    dtypes = ["f16", "bf16", "f32", "f64", "i8", "i16", "i32", "i64", "u8", "u16", "u32",
              "u64", "bool"]
    yield json.dumps({
        "entry": "all_dtypes",
        "args": [{"name": f"a_{d}", "role": "input" if i % 2 else "weight", "dtype": d,
                  "shape": [i, 2]} for i, d in enumerate(dtypes)],
        "results": [{"name": "out", "dtype": "f32", "shape": []}]}).encode()
    yield (b'{"entry":"","version":3,"args":[],"results":'
           b'[{"name":"loss","dtype":"bf16","shape":[],"layout":"dense"}]}')
    yield (b'{"entry":"f","args":[{"name":"x\\u00e9\\ud83d\\ude00","role":"input",'
           b'"dtype":"f32","shape":[9223372036854775807,0]}],'
           b'"results":[{"name":"y","dtype":"i64","shape":[1,1,1,1]}]}')


def write(directory: Path, seeds) -> None:
    for data in seeds:
        (directory / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main(root: Path, out: Path) -> None:
    sys.path.insert(0, str(root / "test" / "reference"))
    seeds = {"ir": ir_seeds(root), "npy": npy_seeds(), "safetensors": safetensors_seeds(),
             "signature": signature_seeds(root)}
    counts = []
    for target in TARGETS:
        directory = out / target
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        write(directory, seeds[target])
        findings = root / "test" / "fuzz" / "findings" / target
        if findings.is_dir():
            for path in findings.iterdir():
                if path.is_file():
                    shutil.copy(path, directory / path.name)
        count = sum(1 for _ in directory.iterdir())
        if count == 0:
            sys.exit(f"make_corpus.py: no seeds for {target}")
        counts.append(f"{target}: {count}")
    print("fuzz seed corpora: " + ", ".join(counts))


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve())
