"""PyTorch peer of a standard layer: eager, or torch.compile of the same function.

    bench/.venv/bin/python bench/peers/torch_moe.py --mlir examples/L1.mlir --data DIR
        --threads 1 --runs 10 [--compile] [--device cuda]

The layer is what a PyTorch user writes (PERFORMANCE.md, "Baselines"):

- the gate ``x @ w_gate`` in float32 (the example data makes these logits exact in any
  summation order, so every implementation routes the same logits);
- the routing in torch tensor ops on the [S, E] logits, computed in float64 as the NumPy
  reference computes it, so that every slot decision (top-k and top-C with ties to the lower
  index, the BPR order, capacity in fill order, the Sinkhorn ranking -log R of
  docs/routers.md 4.3) is the reference's;
- then, per expert, ``index_select`` of its tokens, ``addmm`` (up projection and bias), the
  activation (exact GELU, or SwiGLU), ``addmm`` (down projection and bias) and a weighted
  ``index_add_`` into the output;
- Soft MoE: dense softmax dispatch and combine as batched GEMMs, the experts as ``baddbmm``
  over [E, G*p, d].

Capacities, k, priority, scores and shapes come from the IR (test/reference/moe_ir.py); the
plan type's capacity is the router's (make_example_data checks that).  Routers the standard
layers do not use (k-sparse OT) are refused.  With ``--compile`` the same function goes
through ``torch.compile`` (default mode); its first call, the compilation, is reported as
``first_call_s``.  With ``--device cuda`` the weights and inputs live on the GPU and every
timed call waits for the GPU's work.  Prints one JSON line (common.report).
"""
from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main() -> int:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--compile", action="store_true", help="torch.compile the layer")
    args = p.parse_args()
    common.start(args)

    import numpy as np
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(args.threads)
    fn, arrays, x_np, expected = common.load(args)
    r, plan = fn.router, fn.plan
    G, S, E, C = plan.groups, plan.tokens, plan.experts, plan.capacity

    device = torch.device(args.device)

    def tensor(arg):
        if arg is None:
            return None
        return torch.from_numpy(np.array(arrays[arg.name])).to(device)

    ex = fn.experts
    params = {"w_gate": tensor(fn.gate.weight), "w1": tensor(ex.up), "b1": tensor(ex.up_bias),
              "w2": tensor(ex.down), "b2": tensor(ex.down_bias)}
    if fn.gate.scale is not None:
        params["scale"] = tensor(fn.gate.scale)
    params = {k: v for k, v in params.items() if v is not None}
    arrays.clear()  # the file's bytes: the tensors above are copies
    x = torch.from_numpy(np.array(x_np)).to(device)

    # ---------------------------------------------------------------- activation
    def activation(h):
        if ex.activation == "gelu":
            return F.gelu(h)  # exact erf form
        if ex.activation == "relu":
            return torch.relu(h)
        if ex.activation == "silu":
            return F.silu(h)
        half = h.shape[1] // 2  # swiglu: [gate | linear]
        return F.silu(h[:, :half]) * h[:, half:]

    # ---------------------------------------------------------------- routers, float64
    def sinkhorn_log_u(l, iterations, eps):
        n, e = l.shape
        log_k = l / eps
        log_b = math.log(n / e)
        log_v = torch.zeros(e, dtype=l.dtype)
        for _ in range(iterations):
            log_u = -torch.logsumexp(log_k + log_v, dim=1)
            log_v = log_b - torch.logsumexp(log_k + log_u[:, None], dim=0)
        return log_u, log_k

    def sinkhorn_token_scores(l, iterations, eps):
        """-log R[s, e] (docs/routers.md 4.3): the token's share of its column, without
        cancellation (the column's maximum token uses the second maximum)."""
        log_u, log_k = sinkhorn_log_u(l, iterations, eps)
        xs = log_u[:, None] + log_k
        cols = torch.arange(xs.shape[1])
        m1, i1 = xs.max(dim=0)
        ex1 = torch.exp(xs - m1)
        log_r = torch.log(ex1.sum(dim=0) - ex1) + m1 - xs
        is_max = torch.zeros_like(xs, dtype=torch.bool)
        is_max[i1, cols] = True
        others = xs.masked_fill(is_max, -math.inf)
        m2 = others.max(dim=0).values
        log_r_max = torch.log(torch.exp(others - m2).sum(dim=0)) + m2 - m1
        return -torch.where(is_max, log_r_max.expand_as(xs), log_r)

    def token_choice(l, k, cap, bpr, score, renormalize):
        """(token, expert, weight) of the kept assignments in fill order (docs/routers.md
        4.1): round r = every token's r-th choice, tokens in priority order, slot = the
        number of earlier assignments to the expert, kept while below the capacity."""
        n, e = l.shape
        logw = l
        if score.kind == "softmax":
            sel = l  # ranks as the softmax gates do
            gates = torch.softmax(l, dim=1)
        elif score.kind == "sigmoid":
            sel = l
            gates = torch.sigmoid(l)
            logw = F.logsigmoid(l)
        elif score.kind == "sinkhorn":
            sel = sinkhorn_token_scores(l, score.iterations, score.epsilon)
            gates = torch.softmax(l, dim=1)
        else:
            raise NotImplementedError(f"token choice score {score.kind}")
        choice = torch.argsort(sel, dim=1, descending=True, stable=True)[:, :k]
        w = gates.gather(1, choice)
        if renormalize:
            lw = logw.gather(1, choice)
            w = torch.exp(lw - torch.logsumexp(lw, dim=1, keepdim=True))
        if bpr:
            prio = (gates if score.kind == "softmax" else sel).gather(1, choice[:, :1])[:, 0]
            order = torch.argsort(prio, descending=True, stable=True)
        else:
            order = torch.arange(n)
        seq_token = order.repeat(k)
        seq_round = torch.arange(k).repeat_interleave(n)
        seq_expert = choice[seq_token, seq_round]
        seq_weight = w[seq_token, seq_round]
        if cap is None:
            return seq_token, seq_expert, seq_weight
        onehot = F.one_hot(seq_expert, e)
        pos = onehot.cumsum(dim=0).gather(1, seq_expert[:, None])[:, 0] - 1
        kept = pos < cap
        return seq_token[kept], seq_expert[kept], seq_weight[kept]

    def expert_choice(l, cap, score):
        n, e = l.shape
        gates = torch.softmax(l, dim=1)
        if score.kind == "softmax":
            sel = gates
        elif score.kind == "sinkhorn":
            log_u, log_k = sinkhorn_log_u(l, score.iterations, score.epsilon)
            sel = log_u[:, None] + log_k
        else:
            raise NotImplementedError(f"expert choice score {score.kind}")
        best = torch.argsort(sel, dim=0, descending=True, stable=True)[:min(cap, n)]  # [C, E]
        token = best.t().reshape(-1)
        expert = torch.arange(e).repeat_interleave(best.shape[0])
        return token, expert, gates.gather(0, best).t().reshape(-1)

    def per_image(l):
        t = r.tokens_per_item
        items = l.reshape(l.shape[0] // t, t, l.shape[1])
        pooled = items.mean(dim=1) if r.pooling == "mean" else items[:, 0]
        cap = None if r.dropless else C // t
        item, expert, w = token_choice(pooled, r.k, cap, False, fn.router.score, False)
        token = (item[:, None] * t + torch.arange(t)).reshape(-1)
        return token, expert.repeat_interleave(t), w.repeat_interleave(t)

    def route(logits):
        """Kept assignments of every group: (token row in [G*S], expert, weight f32)."""
        parts = []
        for g in range(G):
            l = logits[g].double()
            if r.kind == "token_choice":
                t, e, w = token_choice(l, r.k, None if r.dropless else C,
                                       r.priority == "bpr", r.score, r.renormalize)
            elif r.kind == "expert_choice":
                t, e, w = expert_choice(l, C, r.score)
            else:
                t, e, w = per_image(l)
            parts.append((t + g * S, e, w))
        token, expert, weight = (torch.cat(z) for z in zip(*parts))
        return token, expert, weight.float()

    # ---------------------------------------------------------------- the layers
    def sparse_layer(x, p):
        x2 = x.reshape(G * S, x.shape[-1])
        logits = torch.matmul(x2, p["w_gate"]).reshape(G, S, E)
        token, expert, weight = route(logits)
        order = torch.argsort(expert, stable=True)
        token, expert, weight = token[order], expert[order], weight[order]
        counts = torch.bincount(expert, minlength=E).tolist()
        out = torch.zeros(G * S, p["w2"].shape[-1], dtype=x.dtype)
        start = 0
        for e, n in enumerate(counts):
            if n == 0:
                continue
            idx, w = token[start:start + n], weight[start:start + n]
            start += n
            xe = x2.index_select(0, idx)
            h = torch.addmm(p["b1"][e], xe, p["w1"][e]) if "b1" in p else xe @ p["w1"][e]
            h = activation(h)
            y = torch.addmm(p["b2"][e], h, p["w2"][e]) if "b2" in p else h @ p["w2"][e]
            out.index_add_(0, idx, y * w[:, None])
        return out.reshape(G, S, -1)

    def soft_layer(x, p):
        d = x.shape[-1]
        phi = p["w_gate"]
        k = phi.shape[1] * phi.shape[2]  # E * p slots, slot e*p + q
        slots = k // E
        xn = x * torch.rsqrt((x * x).sum(dim=-1, keepdim=True) + 1e-6)
        phin = phi.reshape(d, k)
        phin = phin * torch.rsqrt((phin * phin).sum(dim=0, keepdim=True) + 1e-6)
        logits = p["scale"] * torch.matmul(xn, phin)  # [G, S, E*p]
        dispatch = torch.softmax(logits, dim=1)  # over the tokens of a group
        combine = torch.softmax(logits, dim=2)  # over the slots of a token
        xs = torch.bmm(dispatch.transpose(1, 2), x)  # [G, E*p, d]
        xs = xs.reshape(G, E, slots, d).permute(1, 0, 2, 3).reshape(E, G * slots, d)
        h = torch.baddbmm(p["b1"][:, None, :], xs, p["w1"]) if "b1" in p else \
            torch.bmm(xs, p["w1"])
        h = activation(h.reshape(-1, h.shape[-1])).reshape(E, G * slots, -1)
        y = torch.baddbmm(p["b2"][:, None, :], h, p["w2"]) if "b2" in p else \
            torch.bmm(h, p["w2"])
        ys = y.reshape(E, G, slots, -1).permute(1, 0, 2, 3).reshape(G, k, -1)
        return torch.bmm(combine, ys)

    if r.kind == "expert_choice" and r.score.kind == "ksparse_ot":
        common.report({"peer": "torch", "error": "k-sparse OT routing is not implemented"})
        return 2
    layer = soft_layer if r.kind == "soft" else sparse_layer
    if args.compile:
        layer = torch.compile(layer)

    result = {"peer": "torch.compile" if args.compile else "torch eager",
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "cpus": sorted(os.sched_getaffinity(0)), "device": args.device}
    if args.device == "cuda":
        result["gpu"] = torch.cuda.get_device_name()
    call = common.synchronized(lambda: layer(x, params), args.device)
    with torch.no_grad():
        start = time.perf_counter()
        out = call()  # with --compile, the compilation happens here
        result["first_call_s"] = round(time.perf_counter() - start, 3)
        result.update(common.check(out.cpu().numpy(), expected))
        result.update(common.timed(call, args.runs))
    common.report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
