"""The Python runtime binding (python/moe_mlir) on hand-written artifacts and on a layer
compiled with moe-compile, checked against the NumPy reference; and its error paths.

Run by CTest (test "python") with MOE_RUNTIME_LIB, MOE_TEST_ARTIFACTS_DIR and MOE_BUILD_DIR
set; by hand: ``MOE_BUILD_DIR=build python3 -m pytest test/python``.
"""
import os

import numpy as np
import pytest

from paths import ARTIFACTS, moe_compile  # noqa: E402  (puts the package on sys.path)
import moe_mlir  # noqa: E402
from moe_mlir import MoEError, Model  # noqa: E402


def affine():
    return Model(os.path.join(ARTIFACTS, "affine.so"))


def test_describes_and_runs_an_artifact():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    with affine() as model:
        assert [(a.name, a.role, a.dtype, a.shape) for a in model.args] == [
            ("x", "input", "f32", (2, 3, 4)), ("w", "weight", "f32", (3, 4)),
            ("bias", "weight", "f32", (4,))]
        assert [i.name for i in model.inputs] == ["x"]
        assert [w.name for w in model.weights] == ["w", "bias"]
        model.bind_weights({"w": w, "bias": bias, "unused": np.zeros(1)})
        results = model.run(x)
        np.testing.assert_allclose(results["out"], x * w + bias, rtol=1e-6)
        # The same by keyword, on a non-contiguous array; results are the caller's copies.
        again = model(x=np.asfortranarray(x))
        np.testing.assert_array_equal(again["out"], results["out"])
        again["out"][...] = 0
        assert np.any(model.run(x)["out"] != 0)


def test_binds_weights_from_a_safetensors_file(tmp_path):
    from safetensors_io import write_safetensors
    w = np.full((3, 4), 2.0, np.float32)
    bias = np.arange(4, dtype=np.float32)
    path = tmp_path / "w.safetensors"
    write_safetensors(str(path), {"w": w, "bias": bias})
    with affine() as model:
        model.bind_weights(path)
        x = np.ones((2, 3, 4), np.float32)
        np.testing.assert_array_equal(model.run(x)["out"], x * w + bias)


def test_returns_routing_statistics():
    logits = np.array([[3, 1, 0], [2, 5, 1], [0, 0, 9], [4, 1, 1], [1, 7, 2], [6, 0, 0]],
                      np.float32)
    with Model(os.path.join(ARTIFACTS, "router-stats.so")) as model:
        model.bind_weights({"scale": np.float32(1.0)})
        stats = moe_mlir.routing_statistics(model.run(logits=logits))
    assert sorted(stats) == ["dropped_tokens", "expert_load", "importance_loss"]
    np.testing.assert_array_equal(stats["expert_load"], [[3, 2, 1]])
    assert stats["dropped_tokens"].shape == () and stats["dropped_tokens"] == 1


def test_reports_the_runtimes_errors_as_exceptions(tmp_path):
    with pytest.raises(MoEError, match=r"^model '.*missing\.so': cannot load: .*No such file"):
        Model(tmp_path / "missing.so")
    with affine() as model:
        with pytest.raises(MoEError, match=r"^weights 'w', 'bias' are missing from the mapping "
                                           r"\(it has: 'b'\)$"):
            model.bind_weights({"b": np.zeros(4, np.float32)})
        with pytest.raises(MoEError, match=r"^weight 'w': expected f32 \[3, 4\], got f64 \[3, 4\]"):
            model.bind_weights({"w": np.zeros((3, 4)), "bias": np.zeros(4, np.float32)})
        model.bind_weights({"w": np.zeros((3, 4), np.float32), "bias": np.zeros(4, np.float32)})
        with pytest.raises(MoEError, match=r"^input 'x' is not bound$"):
            model.run()
        with pytest.raises(MoEError, match=r"expected f32 \[2, 3, 4\], got f32 \[2, 3, 5\]"):
            model.run(x=np.zeros((2, 3, 5), np.float32))
        with pytest.raises(MoEError, match=r"no input named 'y'"):
            model.run(y=np.zeros((2, 3, 4), np.float32))
        with pytest.raises(MoEError, match=r"^input 'x': NumPy dtype complex64 has no runtime "
                                           r"dtype"):
            model.run(x=np.zeros((2, 3, 4), np.complex64))
        for bad in (0, 5000, -1, 2.5, True):
            with pytest.raises(MoEError, match=r"number of threads"):
                model.set_threads(bad)
    model.close()
    with pytest.raises(MoEError):
        model.run()
    # A run-time check of the entry (ABI 2) stops the run with its message.
    with Model(os.path.join(ARTIFACTS, "checked.so")) as checked:
        np.testing.assert_array_equal(checked.run(np.array([0, 3, 9, 1], np.int32))["out"].shape,
                                      (4,))
        with pytest.raises(MoEError, match=r"^input 'index' holds 12 at \[1\], outside \[0, 10\)$"):
            checked.run(index=np.array([0, 12, 3, 4], np.int32))


def test_a_compiled_layer_matches_the_reference(tmp_path):
    import make_example_data
    import moe_ir
    import router_matrix
    text, _ = router_matrix.layer_text(
        "py_layer", "token_choice<k = 2, capacity_factor = 1.05, priority = bpr>",
        2, 45, 16, 8, 24, "gelu", True, True)
    mlir = tmp_path / "layer.mlir"
    mlir.write_text(text)
    so = tmp_path / "layer.so"
    moe_compile(mlir, so)
    fn = moe_ir.parse_moe_file(str(mlir))
    arrays = make_example_data.generate_arguments(fn, seed=7)
    expected, _ = make_example_data.reference_outputs(fn, arrays)
    weights = {w.name: arrays[w.name] for w in fn.weights}
    for threads in (1, 2):
        with Model(so, threads=threads) as model:
            model.bind_weights(weights)
            results = model.run(x=arrays["x"])
        assert sorted(results) == sorted(expected)
        for name, want in expected.items():
            if np.issubdtype(want.dtype, np.integer):
                np.testing.assert_array_equal(results[name], want, err_msg=name)
            else:
                np.testing.assert_allclose(results[name], want, rtol=1e-4, atol=1e-5,
                                           err_msg=name)
