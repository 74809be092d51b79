"""JAX peer of a standard layer: jax.jit of a capacity-padded gather formulation.

    bench/.venv/bin/python bench/peers/jax_moe.py --mlir examples/L1.mlir --data DIR
        --threads 1 --runs 10

The whole layer is one jitted function with static shapes (PERFORMANCE.md, "Baselines"):

- the gate ``x @ w_gate`` in float32;
- the routing on the [S, E] logits of each group (vmapped), in float64 as the NumPy reference
  computes it, so that every slot decision is the reference's: top-k / top-C by stable argsort
  (ties to the lower index), the BPR order, slots by a cumulative count of earlier
  assignments to the expert (kept while below C), the Sinkhorn ranking -log R of
  docs/routers.md 4.3.  It yields a slot table ``slot_token [E, C]`` (S for an empty slot) and,
  per token, the flat slots ``e*C + c`` of its assignments with their weights;
- dispatch gathers the tokens into ``[E, G*C, d]`` by slot index (a zero row for an empty
  slot), the experts are two batched matmuls (einsum) with bias and activation over every slot
  of the capacity, padding included, and combine gathers each token's slots back and adds them
  with their weights;
- Soft MoE: dense softmax dispatch and combine as einsums, experts as batched matmuls.

Dropless routers (L6, L7) have C = S: this formulation then runs the experts on E*S rows, E/k
times the kept ones. That is the point of the peer: ``jax.lax.ragged_dot`` lowers to a masked
dense dot on the CPU that costs E times the FLOPs, so padding to the capacity is the fair JAX
formulation there.  Prints one JSON line (common.report); ``first_call_s`` includes the jit
compilation.
"""
from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def main() -> int:
    args = common.parser(__doc__.splitlines()[0]).parse_args()
    common.start(args)

    import numpy as np
    import jax

    jax.config.update("jax_enable_x64", True)  # the routing scores; the layer stays float32
    import jax.numpy as jnp

    fn, arrays, x_np, expected = common.load(args)
    r, plan = fn.router, fn.plan
    G, E, C = plan.groups, plan.experts, plan.capacity
    ex = fn.experts
    f32, f64 = jnp.float32, jnp.float64

    if r.kind == "expert_choice" and r.score.kind == "ksparse_ot":
        common.report({"peer": "jax", "error": "k-sparse OT routing is not implemented"})
        return 2

    def activation(h):
        if ex.activation == "gelu":
            return jax.nn.gelu(h, approximate=False)
        if ex.activation == "relu":
            return jax.nn.relu(h)
        if ex.activation == "silu":
            return jax.nn.silu(h)
        half = h.shape[-1] // 2
        return jax.nn.silu(h[..., :half]) * h[..., half:]

    def desc(a, axis):
        """Indices sorting `a` descending along `axis`, ties to the lower index."""
        return jnp.argsort(-a, axis=axis, stable=True)

    # ---------------------------------------------------------------- routers, one group
    def sinkhorn_log_u(l, iterations, eps):
        n, e = l.shape
        log_k = l / eps
        log_b = math.log(n / e)
        log_v = jnp.zeros(e, f64)
        log_u = jnp.zeros(n, f64)
        for _ in range(iterations):
            log_u = -jax.nn.logsumexp(log_k + log_v, axis=1)
            log_v = log_b - jax.nn.logsumexp(log_k + log_u[:, None], axis=0)
        return log_u, log_k

    def sinkhorn_token_scores(l, iterations, eps):
        log_u, log_k = sinkhorn_log_u(l, iterations, eps)
        xs = log_u[:, None] + log_k
        m1 = xs.max(axis=0)
        is_max = jnp.arange(xs.shape[0])[:, None] == jnp.argmax(xs, axis=0)[None, :]
        ex1 = jnp.exp(xs - m1)
        log_r = jnp.log(ex1.sum(axis=0) - ex1) + m1 - xs
        others = jnp.where(is_max, -jnp.inf, xs)
        m2 = others.max(axis=0)
        log_r_max = jnp.log(jnp.exp(others - m2).sum(axis=0)) + m2 - m1
        return -jnp.where(is_max, log_r_max[None, :], log_r)

    def token_choice(l, k, cap, bpr, score, renormalize):
        """(slot_token [E, cap] (n = empty), token_slot [n, k] (E*cap = none),
        token_weight [n, k]) of docs/routers.md 4.1 for logits l [n, E]."""
        n, e = l.shape
        logw = l
        if score.kind == "softmax":
            sel, gates = l, jax.nn.softmax(l, axis=1)
        elif score.kind == "sigmoid":
            sel, gates, logw = l, jax.nn.sigmoid(l), jax.nn.log_sigmoid(l)
        elif score.kind == "sinkhorn":
            sel = sinkhorn_token_scores(l, score.iterations, score.epsilon)
            gates = jax.nn.softmax(l, axis=1)
        else:
            raise NotImplementedError(score.kind)
        choice = desc(sel, 1)[:, :k]
        w = jnp.take_along_axis(gates, choice, axis=1)
        if renormalize:
            lw = jnp.take_along_axis(logw, choice, axis=1)
            w = jnp.exp(lw - jax.nn.logsumexp(lw, axis=1, keepdims=True))
        if bpr:
            top = gates if score.kind == "softmax" else sel
            order = desc(jnp.take_along_axis(top, choice[:, :1], axis=1)[:, 0], 0)
        else:
            order = jnp.arange(n)
        seq_token = jnp.tile(order, k)
        seq_round = jnp.repeat(jnp.arange(k), n)
        seq_expert = choice[seq_token, seq_round]
        counts = jnp.cumsum(jax.nn.one_hot(seq_expert, e, dtype=jnp.int32), axis=0)
        pos = jnp.take_along_axis(counts, seq_expert[:, None], axis=1)[:, 0] - 1
        kept = pos < cap
        none = e * cap
        flat = jnp.where(kept, seq_expert * cap + pos, none)
        slot_token = jnp.full(none + 1, n).at[flat].set(seq_token)[:none].reshape(e, cap)
        token_slot = jnp.full((n, k), none).at[seq_token, seq_round].set(flat)
        token_weight = jnp.zeros((n, k), f64).at[seq_token, seq_round].set(
            jnp.where(kept, w[seq_token, seq_round], 0.0))
        return slot_token, token_slot, token_weight

    def expert_choice(l):
        n, e = l.shape
        gates = jax.nn.softmax(l, axis=1)
        if r.score.kind == "softmax":
            sel = gates
        else:
            log_u, log_k = sinkhorn_log_u(l, r.score.iterations, r.score.epsilon)
            sel = log_u[:, None] + log_k
        best = desc(sel, 0)[:C]  # [C, E]
        flat = jnp.arange(e)[None, :] * C + jnp.arange(C)[:, None]
        token_slot = jnp.full((n, e), e * C).at[best, jnp.arange(e)[None, :]].set(flat)
        token_weight = jnp.where(token_slot < e * C, gates, 0.0)
        return best.T, token_slot, token_weight

    def per_image(l):
        t = r.tokens_per_item
        n, e = l.shape
        items = l.reshape(n // t, t, e)
        pooled = items.mean(axis=1) if r.pooling == "mean" else items[:, 0]
        ci = C // t
        ist, its, iw = token_choice(pooled, r.k, ci, False, r.score, False)
        offsets = jnp.arange(t)
        slot_token = jnp.where(ist[..., None] < n // t, ist[..., None] * t + offsets, n)
        token_slot = jnp.where(its[:, None, :] < e * ci, its[:, None, :] * t +
                               offsets[None, :, None], e * C)
        return (slot_token.reshape(e, C), token_slot.reshape(n, r.k),
                jnp.repeat(iw, t, axis=0))

    def route(l):
        if r.kind == "token_choice":
            return token_choice(l, r.k, C, r.priority == "bpr", r.score, r.renormalize)
        if r.kind == "expert_choice":
            return expert_choice(l)
        return per_image(l)

    # ---------------------------------------------------------------- the layers
    def experts(xs, p):
        h = jnp.einsum("end,edh->enh", xs, p["w1"])
        if "b1" in p:
            h = h + p["b1"][:, None, :]
        y = jnp.einsum("enh,eho->eno", activation(h), p["w2"])
        if "b2" in p:
            y = y + p["b2"][:, None, :]
        return y

    def sparse_layer(x, p):
        d = x.shape[-1]
        logits = jnp.einsum("gsd,de->gse", x, p["w_gate"])
        slot_token, token_slot, token_weight = jax.vmap(route)(logits.astype(f64))
        xpad = jnp.concatenate([x, jnp.zeros((G, 1, d), x.dtype)], axis=1)
        xs = xpad[jnp.arange(G)[:, None], slot_token.reshape(G, E * C)]  # [G, E*C, d]
        xs = xs.reshape(G, E, C, d).transpose(1, 0, 2, 3).reshape(E, G * C, d)
        y = experts(xs, p)
        dout = y.shape[-1]
        y = y.reshape(E, G, C, dout).transpose(1, 0, 2, 3).reshape(G, E * C, dout)
        ypad = jnp.concatenate([y, jnp.zeros((G, 1, dout), y.dtype)], axis=1)
        back = ypad[jnp.arange(G)[:, None, None], token_slot]  # [G, S, J, dout]
        return (token_weight.astype(f32)[..., None] * back).sum(axis=2)

    def soft_layer(x, p):
        d = x.shape[-1]
        phi = p["w_gate"]
        k = phi.shape[1] * phi.shape[2]
        slots = k // E
        xn = x * jax.lax.rsqrt((x * x).sum(axis=-1, keepdims=True) + 1e-6)
        phin = phi.reshape(d, k)
        phin = phin * jax.lax.rsqrt((phin * phin).sum(axis=0, keepdims=True) + 1e-6)
        logits = p["scale"] * jnp.einsum("gsd,dk->gsk", xn, phin)
        dispatch = jax.nn.softmax(logits, axis=1)
        combine = jax.nn.softmax(logits, axis=2)
        xs = jnp.einsum("gsk,gsd->gkd", dispatch, x)
        xs = xs.reshape(G, E, slots, d).transpose(1, 0, 2, 3).reshape(E, G * slots, d)
        y = experts(xs, p)
        ys = y.reshape(E, G, slots, -1).transpose(1, 0, 2, 3).reshape(G, k, -1)
        return jnp.einsum("gsk,gkd->gsd", combine, ys)

    def arg(a):
        return None if a is None else jnp.asarray(np.array(arrays[a.name]))

    params = {"w_gate": arg(fn.gate.weight), "w1": arg(ex.up), "b1": arg(ex.up_bias),
              "w2": arg(ex.down), "b2": arg(ex.down_bias)}
    if fn.gate.scale is not None:
        params["scale"] = arg(fn.gate.scale)
    params = {k: v for k, v in params.items() if v is not None}
    arrays.clear()  # the file's bytes: the arrays above are copies
    x = jnp.asarray(x_np)
    layer = jax.jit(soft_layer if r.kind == "soft" else sparse_layer)

    result = {"peer": "jax", "jax": jax.__version__, "cpus": sorted(os.sched_getaffinity(0)),
              "xla_flags": os.environ.get("XLA_FLAGS", "")}
    start = time.perf_counter()
    out = layer(x, params).block_until_ready()
    result["first_call_s"] = round(time.perf_counter() - start, 3)
    result.update(common.check(np.asarray(out), expected))
    result.update(common.timed(lambda: layer(x, params).block_until_ready(), args.runs))
    common.report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
