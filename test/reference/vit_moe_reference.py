"""NumPy reference of a whole ViT-MoE forward pass, from the architecture description (the ViT
and V-MoE papers, vmoe's ViT-MoE and big_vision's Soft MoE as documented), independent of the
C++ compiler:

    images [N, H, W, 3] -> patches (a stride = kernel convolution: reshape + matmul)
      -> [class token] + position embedding
      -> depth x pre-LN block:  x += MHSA(LN_0(x));  x += MLP(LN_1(x)) or MoE(LN_1(x))
      -> LN (encoder_norm) -> class token or mean of the tokens
      -> [tanh pre_logits] -> head: logits [N, classes]

MoE layers route groups of ``config.group_size`` images (all their tokens) with the routers of
moe_reference.py; per-image routing decides once, in the first MoE layer, and every later MoE
layer reuses that decision (Mobile V-MoE). Parameters are named as vmoe names them
(moe_mlir.configs.param_shapes). Computed in float64, returned as float32.
"""
from __future__ import annotations

import math

import numpy as np

import moe_reference as ref


def layer_norm(x, scale, bias, epsilon):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * scale + bias


def gelu(x, form):
    if form == "gelu_tanh":
        return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def patch_embedding(images, kernel, bias):
    """A convolution with stride = kernel size p: each p x p x 3 patch (row, column, channel
    order, as the HWIO kernel) times the kernel reshaped to [p*p*3, width]."""
    n, height, width_px, channels = images.shape
    p = kernel.shape[0]
    rows, columns = height // p, width_px // p
    patches = images.reshape(n, rows, p, columns, p, channels).transpose(0, 1, 3, 2, 4, 5)
    patches = patches.reshape(n, rows * columns, p * p * channels)
    return patches @ kernel.reshape(p * p * channels, -1) + bias


def self_attention(x, params, prefix):
    """Multi-head dot-product self-attention with vmoe's DenseGeneral kernels: query, key and
    value [width, heads, head_dim], out [heads, head_dim, width]."""
    def project(name):
        return (np.einsum("ntd,dhk->nthk", x, params[f"{prefix}/{name}/kernel"])
                + params[f"{prefix}/{name}/bias"])
    q, k, v = project("query"), project("key"), project("value")
    head_dim = q.shape[-1]
    scores = np.einsum("nqhk,nshk->nhqs", q / math.sqrt(head_dim), k)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / weights.sum(axis=-1, keepdims=True)
    attended = np.einsum("nhqs,nshk->nqhk", weights, v)
    return (np.einsum("nqhk,hkd->nqd", attended, params[f"{prefix}/out/kernel"])
            + params[f"{prefix}/out/bias"])


def mlp(x, params, prefix, activation):
    hidden = gelu(x @ params[f"{prefix}/Dense_0/kernel"] + params[f"{prefix}/Dense_0/bias"],
                  activation)
    return hidden @ params[f"{prefix}/Dense_1/kernel"] + params[f"{prefix}/Dense_1/bias"]


def route(config, logits):
    """The plan of ``config``'s router for logits [G, S, E] (per-image: the decision)."""
    r = config.router
    groups, tokens, experts = logits.shape
    if r.kind == "token_choice":
        capacity = ref.capacity(tokens * r.k, experts, r.capacity_factor)
        return ref.token_choice(logits, r.k, capacity, "bpr" if r.bpr else "position")
    if r.kind == "per_image":
        items = tokens // config.tokens
        capacity = (None if r.capacity_factor is None
                    else ref.capacity(items * r.k, experts, r.capacity_factor))
        return ref.per_image(logits, config.tokens, r.k, r.pooling, capacity)
    raise ValueError(f"unknown router {r.kind!r}")


def moe(x, params, prefix, config, decided=None):
    """A MoE layer on x [N, T, width] in groups of ``config.group_size`` images: returns the
    output, the plan (or Soft MoE's) and the router's logits."""
    n, t, d = x.shape
    groups = x.reshape(n // config.group_size, config.group_size * t, d)
    w1, b1 = params[f"{prefix}/Mlp/Dense_0/kernel"], params[f"{prefix}/Mlp/Dense_0/bias"]
    w2, b2 = params[f"{prefix}/Mlp/Dense_1/kernel"], params[f"{prefix}/Mlp/Dense_1/bias"]
    if config.router.kind == "soft":
        logits = ref.soft_gate(groups, params[f"{prefix}/Router/mu"],
                               params[f"{prefix}/Router/scale"]).astype(np.float64)
        plan = ref.soft_route(logits, config.experts, config.router.slots_per_expert)
    elif decided is not None:  # per-image routing: the first MoE layer's decision
        plan, logits = decided, None
    else:
        logits = groups @ params[f"{prefix}/Router/dense/kernel"]
        plan = route(config, logits)
    out = ref.moe_layer(groups, plan, w1, w2, b1, b2, config.activation)
    return out.astype(np.float64).reshape(n, t, d), plan, logits


def forward(config, params, images):
    """Logits [N, classes] (float32) and, per MoE block, {"plan", "logits", "stats"} (stats:
    moe_reference.route_stats for sparse plans)."""
    c = config.validate()
    p = {name: np.asarray(value, np.float64) for name, value in params.items()}
    images = np.asarray(images, np.float64)
    if images.shape[1:] != (c.image_size, c.image_size, 3):
        raise ValueError(f"images must be [N, {c.image_size}, {c.image_size}, 3], got "
                         f"{list(images.shape)}")
    if images.shape[0] % c.group_size:
        raise ValueError(f"{images.shape[0]} images are not whole groups of {c.group_size}")
    x = patch_embedding(images, p["embedding/kernel"], p["embedding/bias"])
    if c.classifier == "token":
        x = np.concatenate([np.broadcast_to(p["cls"], (len(x), 1, c.width)), x], axis=1)
    x = x + p["Encoder/posembed_input/pos_embedding"]
    routing, decided = {}, None
    for b in range(c.depth):
        block = f"Encoder/encoderblock_{b}"
        y = layer_norm(x, p[f"{block}/LayerNorm_0/scale"], p[f"{block}/LayerNorm_0/bias"],
                       c.ln_epsilon)
        x = x + self_attention(y, p, f"{block}/SelfAttention")
        y = layer_norm(x, p[f"{block}/LayerNorm_1/scale"], p[f"{block}/LayerNorm_1/bias"],
                       c.ln_epsilon)
        if b in c.moe_blocks:
            out, plan, logits = moe(y, p, f"{block}/Moe", c, decided)
            if c.router.kind == "per_image":
                decided = plan
            # Statistics where a layer routes: not Soft MoE, not a reused per-image plan.
            stats = (ref.route_stats(logits, plan, k=c.router.k)
                     if c.router.kind != "soft" and logits is not None else None)
            routing[b] = {"plan": plan, "logits": logits, "stats": stats}
            x = x + out
        else:
            x = x + mlp(y, p, f"{block}/Mlp", c.activation)
    x = layer_norm(x, p["Encoder/encoder_norm/scale"], p["Encoder/encoder_norm/bias"],
                   c.ln_epsilon)
    x = x[:, 0] if c.classifier == "token" else x.mean(axis=1)
    if c.representation_size:
        x = np.tanh(x @ p["pre_logits/kernel"] + p["pre_logits/bias"])
    return (x @ p["head/kernel"] + p["head/bias"]).astype(np.float32), routing


def random_params(config, seed=0):
    """Deterministic random parameters for ``config`` (vmoe names), scaled like a trained
    model's so activations stay O(1): kernels ~ N(0, 1/fan_in), LayerNorm scales 1."""
    from moe_mlir.configs import param_shapes
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in param_shapes(config).items():
        if name.endswith("/scale") and "LayerNorm" in name or name.endswith("norm/scale"):
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        elif name.endswith("kernel") or name.endswith("mu"):
            if "Moe/Mlp" in name:
                fan_in = shape[1]  # [experts, in, out]
            elif name.endswith("mu") or ("SelfAttention" in name
                                         and not name.endswith("out/kernel")):
                fan_in = shape[0]  # [width, heads, head_dim], [width, experts, slots]
            else:
                fan_in = int(np.prod(shape[:-1]))
            value = rng.standard_normal(shape) / math.sqrt(fan_in)
        elif name.endswith("Router/scale"):
            value = np.asarray(1.0)
        else:
            value = 0.1 * rng.standard_normal(shape)
        params[name] = np.asarray(value, np.float32)
    return params
