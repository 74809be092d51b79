"""Routing pictures (python/moe_mlir/pictures.py): the expert of each patch from a slot table,
per image, drawn with dropped patches marked, and the command line on moe-run's results."""
import os
import subprocess

import numpy as np
import pytest

from paths import BUILD, moe_compile  # noqa: E402  (puts the package on sys.path)
from moe_mlir import pictures  # noqa: E402
from moe_mlir.pictures import DROPPED  # noqa: E402


def test_each_token_goes_to_its_largest_weight_and_dropped_tokens_to_none():
    slot_token = np.array([[[0, 2], [0, -1], [1, 3]]])
    slot_weight = np.array([[[0.2, 0.9], [0.7, 0.0], [0.5, 0.1]]])
    experts = pictures.patch_experts(slot_token, slot_weight, tokens=5)
    np.testing.assert_array_equal(experts, [[1, 2, 0, 2, DROPPED]])
    # Without weights (or on ties) the lowest expert.
    np.testing.assert_array_equal(pictures.patch_experts(slot_token, tokens=5),
                                  [[0, 2, 0, 2, DROPPED]])
    with pytest.raises(ValueError, match="holds token 3, but a group has 3 tokens"):
        pictures.patch_experts(slot_token, tokens=3)
    with pytest.raises(ValueError, match=r"must be \[groups, experts, capacity\]"):
        pictures.patch_experts(slot_token[0])


def test_image_maps_cut_groups_into_images_without_the_class_token():
    experts = np.arange(12).reshape(1, 12)  # 3 images of 4 tokens
    np.testing.assert_array_equal(pictures.image_maps(experts, 4, class_token=True),
                                  [[1, 2, 3], [5, 6, 7], [9, 10, 11]])
    with pytest.raises(ValueError, match="not a whole number of images of 5 tokens"):
        pictures.image_maps(experts, 5)


def test_draws_each_patch_in_its_experts_color_and_marks_dropped_ones(tmp_path):
    maps = np.array([[0, 1, DROPPED, 3], [2, 2, 2, 2], [1, 0, 1, 0]])
    path = tmp_path / "routing.png"
    figure = pictures.draw_routing({"block 7": maps, "block 9": maps[::-1]}, path, (2, 2),
                                   experts=4, images=2)
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    axes = [ax for ax in figure.axes if ax.images]
    assert len(axes) == 4  # 2 layers x 2 images
    first = axes[0].images[0].get_array()
    np.testing.assert_array_equal(first.data[~first.mask], [0, 1, 3])
    np.testing.assert_array_equal(np.argwhere(first.mask), [[1, 0]])
    # The dropped patch (row 1, column 0) carries the cross.
    np.testing.assert_array_equal(axes[0].collections[0].get_offsets(), [[0, 1]])
    assert not axes[1].collections  # image 1 of block 7 dropped nothing
    with pytest.raises(ValueError, match=r"expected \[images, 9\] patch experts"):
        pictures.draw_routing({"x": maps}, path, (3, 3), experts=4)


def test_draws_the_pictures_of_moe_run_results(tmp_path):
    import make_example_data
    import router_matrix
    text, results = router_matrix.layer_text(
        "pictures", "token_choice<k = 2, capacity_factor = 0.5, priority = bpr>", 1, 50, 8, 4,
        12, "gelu", True, True)
    mlir = tmp_path / "layer.mlir"
    mlir.write_text(text)
    so, data = tmp_path / "layer.so", tmp_path / "data"
    moe_compile(mlir, so)
    make_example_data.write_example(str(mlir), str(data), seed=5)
    out = tmp_path / "results"
    subprocess.run([os.path.join(BUILD, "bin", "moe-run"), str(so), "--weights",
                    str(data / "weights.safetensors"), "--inputs", str(data / "inputs" / "x.npy"),
                    "--output-dir", str(out)], check=True, capture_output=True)
    # 2 images of 25 tokens: a class token and 4 x 6 patches.
    routing, load = tmp_path / "routing.png", tmp_path / "load.png"
    pictures.main([str(out), "--tokens-per-image", "25", "--class-token", "--grid", "4x6",
                   "-o", str(routing), "--load", str(load)])
    for path in (routing, load):
        assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # What was drawn is the reference's routing: the expert of each token's largest weight.
    expected = np.load(data / "expected" / "slot_token.npy")
    weights = np.load(data / "expected" / "slot_weight.npy")
    want = pictures.patch_experts(expected, weights, tokens=50)
    got = pictures.patch_experts(np.load(out / "slot_token.npy"),
                                 np.load(out / "slot_weight.npy"), tokens=50)
    np.testing.assert_array_equal(got, want)
    assert (got == DROPPED).any()  # capacity factor 0.5 drops tokens
