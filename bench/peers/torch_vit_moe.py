"""PyTorch peer of a whole ViT-MoE model: eager, or torch.compile of the same forward pass.

    bench/.venv/bin/python bench/peers/torch_vit_moe.py --model vmoe-s32 --data DIR
        --threads 1 --runs 5 [--compile] [--without-moe] [--cpus 0]

The model is what a PyTorch user writes from the architecture (the same one
test/reference/vit_moe_reference.py computes in NumPy): the patch embedding as a reshape and a
matmul, the class token and position embedding, pre-LN blocks with ``F.layer_norm`` (epsilon of
the config), ``F.scaled_dot_product_attention`` over the heads, GELU MLPs (``F.gelu``, tanh form
where the config says so), the final LayerNorm, the class token or the mean of the tokens, the
tanh pre-logits and the head. MoE blocks route groups of ``group_size`` images: token choice
(top-k of the softmax, Batch Prioritized Routing or position order, capacity in fill order) in
float64 as the reference does, then per expert ``index_select``, ``addmm``, GELU, ``addmm`` and a
weighted ``index_add_``; Soft MoE as batched GEMMs. Per-image routing is not implemented here.

DIR holds ``weights.safetensors`` (vmoe names), ``images.npy`` and ``logits.npy`` (the
reference's). ``--without-moe`` leaves out the MoE sublayers (as moe_mlir.builder's
without_moe), for the MoE share; its logits are not checked. Prints one JSON line
(common.report).
"""
from __future__ import annotations

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))
import common  # noqa: E402


def main() -> int:
    p = common.parser(__doc__.splitlines()[0], layer=False)
    p.add_argument("--model", required=True, help="a moe_mlir.configs.PUBLISHED name")
    p.add_argument("--compile", action="store_true", help="torch.compile the forward pass")
    p.add_argument("--without-moe", action="store_true", help="leave out the MoE sublayers")
    args = p.parse_args()
    common.start(args)

    import numpy as np
    import torch
    import torch.nn.functional as F
    import moe_reference as ref
    from moe_mlir.configs import PUBLISHED
    from moe_mlir.safetensors import read_safetensors

    torch.set_num_threads(args.threads)
    c = PUBLISHED[args.model].validate()
    if c.router.kind not in ("token_choice", "soft"):
        common.report({"peer": "torch", "error": f"{c.router.kind} routing is not implemented"})
        return 2
    arrays, _ = read_safetensors(os.path.join(args.data, "weights.safetensors"))
    w = {name: torch.from_numpy(np.array(value)) for name, value in arrays.items()}
    images = torch.from_numpy(np.load(os.path.join(args.data, "images.npy")))
    expected = np.load(os.path.join(args.data, "logits.npy"))
    d, heads, t, p_ = c.width, c.heads, c.tokens, c.patch
    hd = d // heads
    side = c.image_size // p_
    approximate = "tanh" if c.activation == "gelu_tanh" else "none"

    def dense(x, prefix):
        kernel = w[prefix + "/kernel"]
        return torch.addmm(w[prefix + "/bias"].reshape(-1), x.reshape(-1, x.shape[-1]),
                           kernel.reshape(x.shape[-1], -1)).reshape(*x.shape[:-1], -1)

    def layer_norm(x, prefix):
        return F.layer_norm(x, (d,), w[prefix + "/scale"], w[prefix + "/bias"], c.ln_epsilon)

    def attention(x, prefix):
        n = x.shape[0]
        q, k, v = (dense(x, f"{prefix}/{name}").reshape(n, t, heads, hd).transpose(1, 2)
                   for name in ("query", "key", "value"))
        o = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, t, d)
        return dense(o, f"{prefix}/out")

    def token_choice(logits):
        """Kept (token, expert, weight) of one group's [S, E] logits, in float64: top-k of
        the softmax (ties to the lower index), BPR or position order, capacity in fill order."""
        r = c.router
        n, e = logits.shape
        cap = ref.capacity(n * r.k, e, r.capacity_factor)
        gates = torch.softmax(logits, dim=1)
        choice = torch.argsort(logits, dim=1, descending=True, stable=True)[:, :r.k]
        weight = gates.gather(1, choice)
        order = (torch.argsort(weight[:, 0], descending=True, stable=True) if r.bpr
                 else torch.arange(n))
        token = order.repeat(r.k)
        rounds = torch.arange(r.k).repeat_interleave(n)
        expert = choice[token, rounds]
        weight = weight[token, rounds]
        position = F.one_hot(expert, e).cumsum(dim=0).gather(1, expert[:, None])[:, 0] - 1
        kept = position < cap
        return token[kept], expert[kept], weight[kept]

    def moe(x, prefix):
        n = x.shape[0]
        groups = x.reshape(n // c.group_size, c.group_size * t, d)
        g_count, s = groups.shape[0], groups.shape[1]
        w1, b1 = w[prefix + "/Mlp/Dense_0/kernel"], w[prefix + "/Mlp/Dense_0/bias"]
        w2, b2 = w[prefix + "/Mlp/Dense_1/kernel"], w[prefix + "/Mlp/Dense_1/bias"]
        if c.router.kind == "soft":
            phi, e, slots = w[prefix + "/Router/mu"], c.experts, c.router.slots_per_expert
            xn = groups * torch.rsqrt((groups * groups).sum(-1, keepdim=True) + 1e-6)
            phin = phi.reshape(d, e * slots)
            phin = phin * torch.rsqrt((phin * phin).sum(0, keepdim=True) + 1e-6)
            logits = w[prefix + "/Router/scale"] * torch.matmul(xn, phin)
            dispatch, combine = torch.softmax(logits, dim=1), torch.softmax(logits, dim=2)
            xs = torch.bmm(dispatch.transpose(1, 2), groups)  # [G, E*p, d]
            xs = xs.reshape(g_count, e, slots, d).permute(1, 0, 2, 3).reshape(e, -1, d)
            h = F.gelu(torch.baddbmm(b1[:, None, :], xs, w1), approximate=approximate)
            y = torch.baddbmm(b2[:, None, :], h, w2)
            ys = y.reshape(e, g_count, slots, d).permute(1, 0, 2, 3).reshape(g_count, -1, d)
            return torch.bmm(combine, ys).reshape(n, t, d)
        flat = groups.reshape(-1, d)
        logits = torch.matmul(groups, w[prefix + "/Router/dense/kernel"]).double()
        parts = [token_choice(logits[g]) for g in range(g_count)]
        token = torch.cat([tk + g * s for g, (tk, _, _) in enumerate(parts)])
        expert = torch.cat([ex for _, ex, _ in parts])
        weight = torch.cat([wt for _, _, wt in parts]).float()
        out = torch.zeros_like(flat)
        for e in range(c.experts):
            mine = expert == e
            idx, we = token[mine], weight[mine]
            if idx.numel() == 0:
                continue
            h = F.gelu(torch.addmm(b1[e], flat.index_select(0, idx), w1[e]),
                       approximate=approximate)
            out.index_add_(0, idx, torch.addmm(b2[e], h, w2[e]) * we[:, None])
        return out.reshape(n, t, d)

    def forward(images):
        n = images.shape[0]
        x = images.reshape(n, side, p_, side, p_, 3).permute(0, 1, 3, 2, 4, 5)
        x = dense(x.reshape(n, side * side, p_ * p_ * 3), "embedding")
        if c.classifier == "token":
            x = torch.cat([w["cls"].reshape(1, 1, d).expand(n, 1, d), x], dim=1)
        x = x + w["Encoder/posembed_input/pos_embedding"].reshape(1, t, d)
        for b in range(c.depth):
            block = f"Encoder/encoderblock_{b}"
            x = x + attention(layer_norm(x, block + "/LayerNorm_0"), block + "/SelfAttention")
            if b in c.moe_blocks:
                if not args.without_moe:
                    x = x + moe(layer_norm(x, block + "/LayerNorm_1"), block + "/Moe")
                continue
            y = layer_norm(x, block + "/LayerNorm_1")
            hidden = F.gelu(dense(y, block + "/Mlp/Dense_0"), approximate=approximate)
            x = x + dense(hidden, block + "/Mlp/Dense_1")
        x = layer_norm(x, "Encoder/encoder_norm")
        x = x[:, 0] if c.classifier == "token" else x.mean(dim=1)
        if c.representation_size:
            x = torch.tanh(dense(x, "pre_logits"))
        return dense(x, "head")

    model = torch.compile(forward) if args.compile else forward
    result = {"peer": "torch.compile" if args.compile else "torch eager",
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpus": sorted(os.sched_getaffinity(0)), "without_moe": args.without_moe}
    with torch.no_grad():
        start = time.perf_counter()
        logits = model(images)  # with --compile, the compilation happens here
        result["first_call_s"] = round(time.perf_counter() - start, 3)
        if not args.without_moe:
            got = logits.numpy().astype(np.float64)
            error = float(np.abs(got - expected).max() / np.abs(expected).max())
            result["max_rel_err"] = error
            result["check"] = "PASS" if error <= 1e-4 else "FAIL"
        result.update(common.timed(lambda: model(images), args.runs))
    common.report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
