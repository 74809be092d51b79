"""The vmoe checkpoint reader and writer (python/moe_mlir/checkpoint.py) and its MessagePack
codec: byte-exact files for a small tree (the layout vmoe writes, docs/vmoe-checkpoints.md),
round trips through several data files and slices, bfloat16, every error path, and conversion
to .safetensors with the model IR's names, bound to a compiled layer."""
import os

import numpy as np
import pytest

from paths import moe_compile  # noqa: E402  (puts the package on sys.path)
from moe_mlir import checkpoint  # noqa: E402
from moe_mlir.checkpoint import CheckpointError  # noqa: E402
from moe_mlir.msgpack import Ext, MsgpackError, packb, unpackb  # noqa: E402
from moe_mlir.safetensors import read_safetensors  # noqa: E402


def s(text):
    """A fixstr: its MessagePack bytes."""
    return bytes([0xA0 | len(text)]) + text.encode()


# -- MessagePack ---------------------------------------------------------------------------

def test_msgpack_encodes_as_the_spec_says():
    # msgpack.org's example.
    assert packb({"compact": True, "schema": 0}).hex() == "82a7636f6d70616374c3a6736368656d6100"
    assert packb(200) == b"\xcc\xc8" and packb(70000) == bytes.fromhex("ce00011170")
    assert packb(-33) == b"\xd0\xdf" and packb(-32) == b"\xe0" and packb(127) == b"\x7f"
    assert packb(1.5) == b"\xcb" + bytes.fromhex("3ff8000000000000")
    assert packb(b"ab") == b"\xc4\x02ab" and packb("x" * 32)[:2] == b"\xd9\x20"
    assert packb(list(range(16)))[:3] == b"\xdc\x00\x10"
    # Extensions: fixext for 1, 2, 4, 8 and 16 bytes, ext8 otherwise.
    assert packb(Ext(6, b"\x90")) == b"\xd4\x06\x90"
    assert packb(Ext(6, b"x" * 16))[:2] == b"\xd8\x06"
    assert packb(Ext(1, b"abc")) == b"\xc7\x03\x01abc"


def test_msgpack_round_trips_and_rejects_bad_data():
    value = {"a": [0, -1, -129, 2**40, -2**40, 2**64 - 1, 0.25, None, True, False],
             "s": "é" * 40, "b": b"\x00" * 70000, "e": Ext(-3, b"q" * 300), "n": {"m": [[]]}}
    assert unpackb(packb(value)) == value
    with pytest.raises(MsgpackError, match="truncated"):
        unpackb(packb(value)[:-5])
    with pytest.raises(MsgpackError, match="bytes after the value"):
        unpackb(b"\x01\x02")
    with pytest.raises(MsgpackError, match="unknown type byte 0xc1"):
        unpackb(b"\xc1")
    assert unpackb(b"\xca\x3f\xc0\x00\x00") == 1.5  # float32 is read too


# -- the format, byte for byte --------------------------------------------------------------

def test_writes_the_bytes_vmoe_writes(tmp_path):
    """{'a': int32 scalar 7, 'b': {'kernel': float32 (3, 2) arange}} in one data file."""
    prefix = str(tmp_path / "ckpt")
    checkpoint.write_checkpoint(prefix, {"b/kernel": np.arange(6, dtype=np.float32)
                                         .reshape(3, 2), "a": np.array(7, np.int32)})
    slice_3x2 = b"\x92\xc4\x04\x93\x00\x03\xc0\xc4\x04\x93\x00\x02\xc0"
    index = (b"\x83" + s("shard_count") + b"\x01" + s("index") + b"\x82"
             + s("a") + b"\xc7\x13\x08" + b"\x93\xc4\x0a\x94\x90" + s("int32") + b"\xc2\x80"
             + b"\x91\xc4\x01\x90" + b"\x91\x00"
             + s("b") + b"\x81" + s("kernel") + b"\xc7\x23\x08"
             + b"\x93\xc4\x0e\x94\x92\x03\x02" + s("float32") + b"\xc2\x80"
             + b"\x91\xc4\x0d" + slice_3x2 + b"\x91\x00"
             + s("version") + s("20220622"))
    assert open(prefix + ".index", "rb").read() == index
    data = (b"\x83" + s("__msgpack_array_chunk_a87ca2__") + b"\xc3"
            + s("0") + b"\x91\x92\x91" + b"\xc7\x0f\x01\x93\x91\x01" + s("int32")
            + b"\xc4\x04\x07\x00\x00\x00" + b"\xd4\x06\x90"
            + s("1") + b"\x91\x92\x91" + b"\xc7\x25\x01\x93\x91\x06" + s("float32")
            + b"\xc4\x18" + np.arange(6, dtype="<f4").tobytes()
            + b"\xc7\x0d\x06" + slice_3x2)
    assert open(prefix + ".data-00000-of-00001", "rb").read() == data
    arrays = checkpoint.read_checkpoint(prefix)
    assert list(arrays) == ["a", "b/kernel"]
    assert arrays["a"].shape == () and arrays["a"] == 7
    np.testing.assert_array_equal(arrays["b/kernel"], np.arange(6).reshape(3, 2))


def vmoe_like(rng):
    return {
        "Encoder/encoderblock_1/Moe/Mlp/Dense_0/kernel": rng.standard_normal((8, 16, 32)),
        "Encoder/encoderblock_1/Moe/Mlp/Dense_0/bias": rng.standard_normal((8, 32)),
        "Encoder/encoderblock_1/Moe/Router/dense/kernel": rng.standard_normal((16, 8)),
        "Encoder/encoderblock_10/LayerNorm_0/scale": rng.standard_normal(16),
        "Encoder/encoderblock_1/SelfAttention/query/kernel": rng.standard_normal((16, 2, 8)),
        "cls": rng.standard_normal((1, 1, 16)),
        "step": np.array(12, np.int64),
    }


def test_reads_what_it_writes_over_several_files_and_slices(tmp_path):
    arrays = {k: v.astype(np.float32) if v.dtype == np.float64 else v
              for k, v in vmoe_like(np.random.default_rng(1)).items()}
    prefix = str(tmp_path / "ckpt")
    checkpoint.write_checkpoint(prefix, arrays, shard_count=3, split_leading=4)
    for shard in range(3):
        assert os.path.exists(f"{prefix}.data-{shard:05d}-of-00003")
    back = checkpoint.read_checkpoint(prefix)
    # The tree's order: keys sorted at every level ("encoderblock_10" before "encoderblock_1/").
    assert list(back) == sorted(arrays, key=lambda n: n.split("/"))
    for name, array in arrays.items():
        assert back[name].dtype == array.dtype, name
        np.testing.assert_array_equal(back[name], array, err_msg=name)


def test_reads_bfloat16_as_float32(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    prefix = str(tmp_path / "bf16")
    axes = packb([packb([0, 3, None])])
    info = packb([packb([[3], "bfloat16", False, {}]), [axes], [0]])
    open(prefix + ".index", "wb").write(
        packb({"shard_count": 1, "index": {"w": Ext(8, info)}, "version": "20220622"}))
    chunk = Ext(1, packb([[3], "bfloat16", bits.tobytes()]))
    open(prefix + ".data-00000-of-00001", "wb").write(
        packb({"__msgpack_array_chunk_a87ca2__": True, "0": [[[chunk], Ext(6, axes)]]}))
    w = checkpoint.read_checkpoint(prefix)["w"]
    assert w.dtype == np.float32
    np.testing.assert_array_equal(w, values)


def test_reports_broken_checkpoints(tmp_path):
    prefix = str(tmp_path / "ckpt")
    with pytest.raises(CheckpointError, match=r"cannot read the checkpoint index '.*ckpt\.index'"
                                              r": No such file or directory"):
        checkpoint.read_checkpoint(prefix)
    arrays = {"a": np.zeros((4, 2), np.float32), "cls": np.ones((1, 1, 3), np.float32)}
    checkpoint.write_checkpoint(prefix, arrays, shard_count=2)
    os.rename(prefix + ".data-00001-of-00002", prefix + ".moved")
    with pytest.raises(CheckpointError, match=r"cannot read the checkpoint data file "
                                              r"'.*ckpt\.data-00001-of-00002'"):
        checkpoint.read_checkpoint(prefix)
    # A data file that lacks a slice the index puts there.
    open(prefix + ".data-00001-of-00002", "wb").write(
        packb({"__msgpack_array_chunk_a87ca2__": True}))
    with pytest.raises(CheckpointError, match=r"^'cls': slice \[0:1, 0:1, 0:3\] is missing from "
                                              r"'.*ckpt\.data-00001-of-00002'$"):
        checkpoint.read_checkpoint(prefix)
    open(prefix + ".data-00001-of-00002", "wb").write(b"\x83\xa1")
    with pytest.raises(CheckpointError, match=r"data file '.*' is malformed: truncated"):
        checkpoint.read_checkpoint(prefix)
    open(prefix + ".index", "wb").write(packb([1, 2]))
    with pytest.raises(CheckpointError, match=r"expected a map with 'shard_count' and 'index'"):
        checkpoint.read_checkpoint(prefix)


# -- conversion for a model -----------------------------------------------------------------

def test_converts_to_the_models_names_and_checks_shapes(tmp_path):
    import make_example_data
    import moe_ir
    import router_matrix
    from moe_mlir import Model
    # A layer's weights saved under V-MoE's names, converted to the IR's, bound and run.
    text, _ = router_matrix.layer_text(
        "ckpt_layer", "token_choice<k = 2, capacity_factor = 1.0>", 1, 37, 12, 4, 20, "gelu",
        True, True)
    mlir = tmp_path / "layer.mlir"
    mlir.write_text(text)
    fn = moe_ir.parse_moe_file(str(mlir))
    arrays = make_example_data.generate_arguments(fn, seed=3)
    expected, _ = make_example_data.reference_outputs(fn, arrays)
    names = {"w_gate": "Encoder/encoderblock_1/Moe/Router/dense/kernel",
             "w_up": "Encoder/encoderblock_1/Moe/Mlp/Dense_0/kernel",
             "b_up": "Encoder/encoderblock_1/Moe/Mlp/Dense_0/bias",
             "w_down": "Encoder/encoderblock_1/Moe/Mlp/Dense_1/kernel",
             "b_down": "Encoder/encoderblock_1/Moe/Mlp/Dense_1/bias"}
    prefix = str(tmp_path / "ckpt")
    checkpoint.write_checkpoint(prefix, {names[w.name]: arrays[w.name] for w in fn.weights},
                                shard_count=2, split_leading=2)
    so = tmp_path / "layer.so"
    moe_compile(mlir, so)
    with Model(so) as model:
        shapes = {w.name: w.shape for w in model.weights}
        out = tmp_path / "w.safetensors"
        checkpoint.convert_checkpoint(prefix, out, names, shapes)
        assert sorted(read_safetensors(out)[0]) == sorted(names)
        model.bind_weights(out)
        got = model.run(x=arrays["x"])
    np.testing.assert_allclose(got["out"], expected["out"], rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(got["expert_load"], expected["expert_load"])

    wrong = dict(names, w_up="Encoder/encoderblock_1/Moe/Mlp/Dense_9/kernel")
    with pytest.raises(CheckpointError, match=r"^weight 'w_up': 'Encoder/encoderblock_1/Moe/Mlp/"
                                              r"Dense_9/kernel' is missing from the checkpoint"):
        checkpoint.convert_checkpoint(prefix, tmp_path / "x.safetensors", wrong, shapes)
    swapped = dict(names, w_up=names["w_down"])
    with pytest.raises(CheckpointError, match=r"^weight 'w_up' in the checkpoint '.*': expected "
                                              r"shape \[4, 12, 20\], got \[4, 20, 12\]$"):
        checkpoint.convert_checkpoint(prefix, tmp_path / "x.safetensors", swapped, shapes)
    with pytest.raises(CheckpointError, match=r"^weight 'b_down' is missing from"):
        checkpoint.check_weights({}, {"b_down": (4, 12)})
    assert not os.path.exists(tmp_path / "x.safetensors")
