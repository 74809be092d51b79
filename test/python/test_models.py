"""Whole ViT-MoE models written by moe_mlir.builder, compiled by moe-compile and run from
Python, against the independent whole-model reference (test/reference/vit_moe_reference.py):
logits within 1e-4 relative, routing statistics exactly."""
import os
import subprocess

import numpy as np
import pytest

from paths import BUILD, compile_text  # noqa: E402  (puts the package and the reference on sys.path)
import vit_moe_reference as vit  # noqa: E402
import moe_mlir  # noqa: E402
from moe_mlir import Model  # noqa: E402
from moe_mlir.builder import build_model  # noqa: E402
from moe_mlir.configs import PUBLISHED, Router  # noqa: E402

# V-MoE-S/32's architecture at a size a test compiles in seconds.
SMALL_VMOE = PUBLISHED["vmoe-s32"].replace(
    name="small_vmoe", image_size=32, patch=8, width=16, depth=4, mlp_dim=32, heads=2,
    num_classes=10, moe_blocks=(1, 3), experts=4, representation_size=16)


def run_model(tmp_path, config, batches, seed, threads=None, slot_tables=False):
    """``config`` built for any number of images, compiled once, given random weights and run
    on ``batches`` random images each, and the reference's forward pass on the same: a list of
    (results, reference logits, reference routing), one per batch."""
    so = compile_text(build_model(config, slot_tables=slot_tables), tmp_path)
    params = vit.random_params(config, seed=seed)
    runs = []
    with Model(so, threads=threads) as model:
        assert [(i.name, i.shape[0]) for i in model.inputs] == [("images", -1)]
        model.bind_weights(params)
        for batch in batches:
            images = np.random.default_rng(seed + batch).standard_normal(
                (batch, config.image_size, config.image_size, 3)).astype(np.float32)
            want, routing = vit.forward(config, params, images)
            runs.append((model.run(images=images), want, routing))
    return runs


@pytest.mark.parametrize("config", [
    SMALL_VMOE,
    # Routing groups of 2 images, the exact GELU, no pre_logits, one expert per token.
    SMALL_VMOE.replace(name="small_vmoe_variant", group_size=2, activation="gelu",
                       representation_size=None,
                       router=Router("token_choice", k=1, capacity_factor=1.0, bpr=False)),
    # Soft MoE: 8 experts of one slot, no class token, mean-pooled head.
    SMALL_VMOE.replace(name="small_softmoe", router=Router("soft", slots_per_expert=1),
                       experts=8, classifier="gap", representation_size=None),
    # Mobile V-MoE: one per-image decision (class token's logits) for both MoE layers.
    SMALL_VMOE.replace(name="small_mobile_vmoe", representation_size=None,
                       router=Router("per_image", k=1, capacity_factor=None, pooling="cls")),
], ids=lambda c: c.name)
def test_a_compiled_model_matches_the_reference(tmp_path, config):
    """One artifact, run on one routing group and on three."""
    batches = (config.group_size, 3 * config.group_size)
    for got, want, routing in run_model(tmp_path, config, batches, seed=11, threads=2):
        assert got["logits"].shape == want.shape
        np.testing.assert_allclose(got["logits"], want, rtol=1e-4,
                                   atol=1e-4 * np.abs(want).max())
        for block in config.moe_blocks:
            stats = routing[block]["stats"]
            if stats is None:  # Soft MoE, or a per-image layer reusing the first's plan
                assert f"block{block}/expert_load" not in got
                continue
            np.testing.assert_array_equal(got[f"block{block}/expert_load"],
                                          stats["expert_load"])
            np.testing.assert_array_equal(got[f"block{block}/dropped_tokens"],
                                          stats["dropped_tokens"])


def test_several_groups_per_call_give_the_same_results(tmp_path):
    """moe-compile --groups-per-call=2: two routing groups per call, the last call of an odd
    number of groups padded; every result bitwise equal to one group per call's."""
    config = SMALL_VMOE.replace(name="two_per_call", group_size=2)
    text = build_model(config)
    one = compile_text(text, tmp_path, "one")
    two = compile_text(text, tmp_path, "two", options=["--groups-per-call=2"])
    params = vit.random_params(config, seed=5)
    with Model(one) as a, Model(two) as b:
        a.bind_weights(params)
        b.bind_weights(params)
        for groups in (1, 2, 3):
            images = np.random.default_rng(groups).standard_normal(
                (2 * groups, config.image_size, config.image_size, 3)).astype(np.float32)
            got_a, got_b = a.run(images=images), b.run(images=images)
            assert got_a.keys() == got_b.keys()
            for name in got_a:
                np.testing.assert_array_equal(got_a[name], got_b[name], err_msg=name)
            want, _ = vit.forward(config, params, images)
            np.testing.assert_allclose(got_b["logits"], want, rtol=1e-4,
                                       atol=1e-4 * np.abs(want).max())


def test_a_batch_of_part_of_a_group_is_refused(tmp_path):
    config = SMALL_VMOE.replace(name="groups_of_two", group_size=2)
    so = compile_text(build_model(config), tmp_path)
    with Model(so) as model:
        model.bind_weights(vit.random_params(config, seed=1))
        for batch in (3, 0):
            images = np.zeros((batch, config.image_size, config.image_size, 3), np.float32)
            with pytest.raises(moe_mlir.MoEError,
                               match=r"input 'images': expected f32 \[2\*G, 32, 32, 3\], "
                                     rf"got f32 \[{batch}, 32, 32, 3\]"):
                model.run(images=images)


def test_a_fixed_batch_builds_static_and_a_dynamic_one_does_not():
    assert "tensor<4x32x32x3xf32>" in build_model(SMALL_VMOE, 4)
    dynamic = build_model(SMALL_VMOE)
    assert "%images: tensor<?x32x32x3xf32>" in dynamic and "groups = ?" in dynamic


def test_the_builder_refuses_what_it_cannot_write():
    with pytest.raises(ValueError, match="unknown router 'expert_choice'"):
        build_model(SMALL_VMOE.replace(router=Router("expert_choice")), 2)
    with pytest.raises(ValueError, match="3 images are not whole groups of 2"):
        build_model(SMALL_VMOE.replace(group_size=2), 3)


def test_the_main_job_on_two_images():
    """examples/python/vmoe_s32.py (scripts/main.sh): V-MoE-S/32 checked end to end."""
    import sys
    from paths import ROOT
    run = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "vmoe_s32.py"),
                          "--images", "2", "--build", BUILD], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "logits vs the NumPy reference: max error" in run.stdout
    assert run.stdout.count("(PASS against the reference)") == 2, run.stdout
    assert "the same artifact on 3 images" in run.stdout and "FAIL" not in run.stdout


def test_slot_tables_of_a_whole_model_draw_its_routing(tmp_path):
    """The slot tables a model returns (slot_tables=True) are the reference's, token by token,
    and moe_mlir.pictures draws every MoE layer of every image from them."""
    from moe_mlir import pictures
    config, batch = SMALL_VMOE, 2
    [(got, _, routing)] = run_model(tmp_path, config, [batch], seed=21, slot_tables=True)
    layers = {}
    for block in config.moe_blocks:
        np.testing.assert_array_equal(got[f"block{block}/slot_token"], routing[block]["plan"].token)
        experts = pictures.patch_experts(got[f"block{block}/slot_token"],
                                         got[f"block{block}/slot_weight"], tokens=config.tokens)
        layers[f"block {block}"] = pictures.image_maps(experts, config.tokens, class_token=True)
    side = config.image_size // config.patch
    figure = pictures.draw_routing(layers, tmp_path / "routing.png", (side, side),
                                   config.experts)
    assert len([ax for ax in figure.axes if ax.images]) == len(config.moe_blocks) * batch
