"""The whole-model NumPy reference (vit_moe_reference.py) against independent formulations of
its parts and properties of the whole: the published parameter tree, the patch embedding as a
convolution, attention head by head, a one-expert MoE equal to a dense MLP, per-image decisions
shared by every MoE layer, images in separate groups independent of each other."""
import math
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import vit_moe_reference as vit  # noqa: E402
from moe_mlir.configs import PUBLISHED, Router, ViTMoEConfig, param_shapes  # noqa: E402

SMALL = ViTMoEConfig("small", image_size=32, patch=8, width=16, depth=4, mlp_dim=32, heads=2,
                     num_classes=10, moe_blocks=(1, 3), experts=4, representation_size=16,
                     router=Router("token_choice", k=2, capacity_factor=1.05, bpr=True))


def images(n, config=SMALL, seed=0):
    return np.random.default_rng(seed).standard_normal(
        (n, config.image_size, config.image_size, 3)).astype(np.float32)


def test_the_published_vmoe_s32_tree():
    shapes = param_shapes(PUBLISHED["vmoe-s32"])
    # vmoe's V-MoE-S/32 (Last 2): 140 arrays, 56,999,400 parameters.
    assert len(shapes) == 140
    assert sum(int(np.prod(s)) for s in shapes.values()) == 56_999_400
    assert shapes["Encoder/encoderblock_5/Moe/Mlp/Dense_0/kernel"] == (8, 512, 2048)
    assert shapes["Encoder/encoderblock_7/Moe/Router/dense/kernel"] == (512, 8)
    assert shapes["Encoder/posembed_input/pos_embedding"] == (1, 50, 512)
    for name in PUBLISHED:
        param_shapes(PUBLISHED[name])  # every published configuration is consistent


def test_patch_embedding_is_a_strided_convolution():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 8, 12, 3))
    kernel, bias = rng.standard_normal((4, 4, 3, 5)), rng.standard_normal(5)
    got = vit.patch_embedding(x, kernel, bias)
    want = np.zeros((2, 2 * 3, 5))
    for n in range(2):
        for r in range(2):
            for c in range(3):
                for o in range(5):
                    want[n, r * 3 + c, o] = bias[o] + sum(
                        x[n, 4 * r + i, 4 * c + j, ch] * kernel[i, j, ch, o]
                        for i in range(4) for j in range(4) for ch in range(3))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_attention_head_by_head():
    rng = np.random.default_rng(2)
    d, h, k, t = 6, 2, 3, 5
    params = {f"a/{n}/kernel": rng.standard_normal((d, h, k)) for n in ("query", "key", "value")}
    params.update({f"a/{n}/bias": rng.standard_normal((h, k)) for n in ("query", "key", "value")})
    params["a/out/kernel"], params["a/out/bias"] = rng.standard_normal((h, k, d)), rng.standard_normal(d)
    x = rng.standard_normal((1, t, d))
    got = vit.self_attention(x, params, "a")[0]
    want = np.tile(params["a/out/bias"], (t, 1))
    for head in range(h):
        q, kk, v = (x[0] @ params[f"a/{n}/kernel"][:, head] + params[f"a/{n}/bias"][head]
                    for n in ("query", "key", "value"))
        for i in range(t):
            scores = np.array([q[i] @ kk[j] / math.sqrt(k) for j in range(t)])
            weights = np.exp(scores) / np.exp(scores).sum()
            want[i] += (weights @ v) @ params["a/out/kernel"][head]
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_a_one_expert_moe_is_the_dense_mlp():
    moe = SMALL.replace(experts=1, router=Router("token_choice", k=1, capacity_factor=2.0))
    dense = SMALL.replace(moe_blocks=())
    params = vit.random_params(moe, seed=3)
    as_dense = {}
    for name, value in params.items():
        if "/Moe/Router/" in name:
            continue
        as_dense[name.replace("/Moe/Mlp/", "/Mlp/")] = value[0] if "/Moe/Mlp/" in name else value
    x = images(2)
    got, routing = vit.forward(moe, params, x)
    want, _ = vit.forward(dense, as_dense, x)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert sorted(routing) == [1, 3]
    assert all(r["stats"]["dropped_tokens"].sum() == 0 for r in routing.values())


def test_groups_of_images_are_independent():
    params = vit.random_params(SMALL, seed=4)
    x = images(4)
    batch, _ = vit.forward(SMALL, params, x)
    for i in range(4):
        alone, _ = vit.forward(SMALL, params, x[i:i + 1])
        np.testing.assert_allclose(batch[i], alone[0], rtol=1e-6, atol=1e-6)
    # Groups of 2 images route together: the result differs from one image per group.
    grouped, routing = vit.forward(SMALL.replace(group_size=2), params, x)
    assert routing[1]["logits"].shape == (2, 2 * SMALL.tokens, SMALL.experts)
    with pytest.raises(ValueError, match="not whole groups of 3"):
        vit.forward(SMALL.replace(group_size=3), params, x)


def test_per_image_routing_decides_once_for_every_moe_layer():
    config = SMALL.replace(router=Router("per_image", k=1, capacity_factor=None, pooling="cls"),
                           representation_size=None)
    params = vit.random_params(config, seed=5)
    assert "Encoder/encoderblock_3/Moe/Router/dense/kernel" not in params
    logits, routing = vit.forward(config, params, images(3))
    assert logits.shape == (3, 10)
    first, later = routing[1]["plan"], routing[3]["plan"]
    assert later is first
    # One image per group: all its tokens go to one expert.
    for group in first.token:
        used = [e for e in range(config.experts) if (group[e] >= 0).any()]
        assert len(used) == 1
        assert sorted(group[used[0]][group[used[0]] >= 0]) == list(range(config.tokens))


def test_soft_moe_with_a_mean_pooled_head():
    config = SMALL.replace(router=Router("soft", slots_per_expert=1), experts=8,
                           classifier="gap", representation_size=None)
    params = vit.random_params(config, seed=6)
    assert "cls" not in params and "pre_logits/kernel" not in params
    assert params["Encoder/posembed_input/pos_embedding"].shape == (1, 16, 16)
    logits, routing = vit.forward(config, params, images(2))
    assert logits.shape == (2, 10) and np.isfinite(logits).all()
    assert routing[3]["stats"] is None


def test_the_two_gelu_forms_differ_by_little():
    x = np.linspace(-4, 4, 81)
    exact, tanh = vit.gelu(x, "gelu"), vit.gelu(x, "gelu_tanh")
    assert 0 < np.abs(exact - tanh).max() < 1e-3
    np.testing.assert_allclose(exact[40], 0.0)
