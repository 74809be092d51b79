"""Execution tests of the non-finite policy (docs/routers.md 7) and of ill-conditioned
routing numerics (4.1 renormalisation, 4.3 Sinkhorn), through the compiled code.

Routing cases feed logits directly (a router entry returning the slot table and the route
statistics with the invalid-token count), with poisoned tokens in fixed places: a NaN logit,
a +Inf logit, a row of -Inf only (all invalid), a single -Inf (a valid mask), a group of
invalid tokens only, and for mean pooling an image whose pooled logits are -Inf everywhere.
The expected plan comes from the NumPy reference on the same logits (a fresh random seed for
the other logits); slot tables are compared exactly, statistics exactly.

Layer cases poison the tokens x themselves (NaN, +Inf) and check the whole layer: the output
of every invalid token is NaN, every other output matches the reference.

Numerics cases have literal expectations: renormalised weights whose scores underflow
(sigmoid of -89 and -104; Sinkhorn on logits [[200, 0], [199, 0]]) are exactly 1/k.

usage: nonfinite.py --build BUILD_DIR --work DIR [--seed N] [--filter TEXT]
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)

import case_driver  # noqa: E402
import make_example_data  # noqa: E402
import moe_ir  # noqa: E402
import moe_reference as ref  # noqa: E402
from router_matrix import layer_text  # noqa: E402

NAN, INF = np.float32(np.nan), np.float32(np.inf)
STATS = list(moe_ir.STATS) + [moe_ir.INVALID_TOKENS]


def route_entry(router, g, s, e, c, stats=True):
    """A router entry from logits [g, s, e] to its slot table (and route statistics)."""
    lt = f"tensor<{g}x{s}x{e}xf32>"
    plan = f"!moe.plan<groups = {g}, tokens = {s}, experts = {e}, capacity = {c}>"
    results = [(f"tensor<{g}x{e}x{c}xi64>", "slot_token"), (f"tensor<{g}x{e}x{c}xf32>", "slot_weight")]
    lines = [f"  %p = moe.route %l {router} : {lt} -> {plan}",
             f"  %t, %w = moe.plan_slots %p : {plan} -> {results[0][0]}, {results[1][0]}"]
    values = ["%t", "%w"]
    if stats:
        types = [f"tensor<{g}xf32>", f"tensor<{g}x{e}xi64>"] + [f"tensor<{g}xi64>"] * 3
        lines.append(f"  %a, %b, %c, %d, %i = moe.route_stats %l, %p : {lt}, {plan} -> "
                     + ", ".join(types))
        results += list(zip(types, STATS))
        values += ["%a", "%b", "%c", "%d", "%i"]
    decl = ", ".join(f'{t} {{moe.output = "{n}"}}' for t, n in results)
    return (f'func.func @route(%l: {lt} {{moe.input = "logits"}}) -> ({decl}) {{\n'
            + "\n".join(lines)
            + f"\n  return {', '.join(values)} : {', '.join(t for t, _ in results)}\n}}\n")


def poisoned_logits(rng, g, s, e):
    """Random logits with invalid tokens in fixed places (group 0), a group of invalid tokens
    only (the last group), and in group 1 two tokens whose mean is -Inf on every expert."""
    l = rng.standard_normal((g, s, e)).astype(np.float32)
    l[0, 1, e // 2] = NAN  # a NaN logit: invalid
    l[0, 4, 0] = INF  # +Inf: invalid
    l[0, 6, :] = -INF  # -Inf everywhere: invalid
    l[0, 2, 1] = -INF  # one -Inf: a mask, valid
    l[1, s - 2, : e // 2] = -INF  # valid tokens, but their mean is -Inf everywhere
    l[1, s - 1, e // 2:] = -INF
    l[g - 1] = NAN
    return l


def routing_case(router_text, s, e):
    def make(seed):
        rng = np.random.default_rng([seed, 7])
        g = 3
        router = moe_ir.parse_router(router_text)
        c = make_example_data.plan_capacity(router, s, e)
        logits = poisoned_logits(rng, g, s, e)
        plan = reference_plan(router, logits, c)
        k = None if router.kind == "expert_choice" else router.k
        expected = {"slot_token": plan.token, "slot_weight": plan.weight,
                    **ref.route_stats(logits, plan, k=k)}
        return route_entry(router_text, g, s, e, c), {"logits": logits}, {}, expected
    return make


def reference_plan(router, logits, c):
    """The reference's plan of ``router`` (capacity ``c``) for ``logits``."""
    if router.kind == "token_choice":
        return ref.token_choice(logits, router.k, capacity=None if router.dropless else c,
                                priority=router.priority, score=make_example_data._score(router.score),
                                renormalize=router.renormalize)
    if router.kind == "expert_choice":
        return ref.expert_choice(logits, c, score=make_example_data._score(router.score))
    t = router.tokens_per_item
    return ref.per_image(logits, t, router.k, pooling=router.pooling,
                         capacity=None if router.dropless else c // t)


def layer_case(router_text, g, s, d, e, h, act):
    """A whole layer whose tokens x hold a NaN (group 0, token 3) and a +Inf (group 0,
    token 5): invalid through the gate."""
    def make(seed):
        text, _ = layer_text("layer", router_text, g, s, d, e, h, act, True,
                                   router_text.split("<")[0] != "soft")
        fn = moe_ir.parse_moe_function(text)
        arrays = make_example_data.generate_arguments(fn, seed)
        x = arrays[fn.gate.input.name]
        x[0, 3, 1] = NAN
        x[0, 5, 0] = INF
        expected, _ = make_example_data.reference_outputs(fn, arrays)
        weights = {a.name: arrays[a.name] for a in fn.weights}
        return text, {fn.gate.input.name: x}, weights, expected
    return make


def literal_case(router_text, logits, slot_token, slot_weight):
    def make(seed):
        logits_ = np.asarray(logits, dtype=np.float32)[None]
        s, e = logits_.shape[1:]
        router = moe_ir.parse_router(router_text)
        c = make_example_data.plan_capacity(router, s, e)
        expected = {"slot_token": np.asarray(slot_token, dtype=np.int64)[None],
                    "slot_weight": np.asarray(slot_weight, dtype=np.float32)[None]}
        return route_entry(router_text, 1, s, e, c, stats=False), {"logits": logits_}, {}, expected
    return make


CASES = [
    ("tc_softmax", routing_case("token_choice<k = 2, capacity = 3>", 10, 4), "token choice"),
    ("tc_bpr", routing_case("token_choice<k = 2, capacity = 3, priority = bpr>", 10, 4), "BPR"),
    ("tc_sigmoid", routing_case("token_choice<k = 2, dropless, score = sigmoid, renormalize>", 10, 4),
     "sigmoid, renormalised"),
    ("tc_sinkhorn", routing_case(
        "token_choice<k = 1, capacity = 4, priority = bpr, score = sinkhorn<iterations = 10>>", 10, 4),
     "Sinkhorn token choice, BPR"),
    ("ec_softmax", routing_case("expert_choice<capacity = 3>", 10, 4), "expert choice"),
    ("ec_sinkhorn", routing_case("expert_choice<capacity = 3, score = sinkhorn<iterations = 10>>", 10, 4),
     "Sinkhorn expert choice"),
    ("ec_ksparse", routing_case(
        "expert_choice<capacity = 3, score = ksparse_ot<iterations = 10, learning_rate = 0.05>>", 10, 4),
     "k-sparse OT"),
    ("per_image_mean", routing_case("per_image<tokens_per_item = 2, k = 1, pooling = mean>", 10, 4),
     "per image, mean pooling"),
    ("per_image_cls", routing_case(
        "per_image<tokens_per_item = 2, k = 1, pooling = cls, capacity = 2>", 10, 4),
     "per image, cls pooling, capacity"),
    ("layer_token_choice", layer_case("token_choice<k = 2, capacity_factor = 1.5>", 2, 9, 6, 4, 8,
                                      "gelu"), "token choice layer, NaN/Inf tokens"),
    ("layer_expert_choice", layer_case("expert_choice<capacity = 3>", 2, 9, 6, 4, 8, "relu"),
     "expert choice layer, NaN/Inf tokens"),
    ("layer_soft", layer_case("soft<slots_per_expert = 2>", 2, 9, 6, 3, 8, "gelu"),
     "Soft MoE layer, NaN/Inf tokens"),
    ("layer_per_image", layer_case("per_image<tokens_per_item = 3, k = 1, pooling = mean>", 2, 9, 6,
                                   4, 8, "gelu"), "per-image layer, NaN/Inf tokens"),
    # sigmoid(-89) and sigmoid(-104) underflow in f32 (to a denormal and to 0): 1/2 each.
    ("renormalize_sigmoid_underflow", literal_case(
        "token_choice<k = 2, dropless, score = sigmoid, renormalize>",
        [[-89, -89, -89], [-104, -104, -104]],
        [[0, 1], [0, 1], [-1, -1]], [[0.5, 0.5], [0.5, 0.5], [0, 0]]),
     "renormalize: weights 1/2 where the sigmoid underflows"),
    # Both tokens pick expert 0, each with weight 1 (softmax of one chosen logit).
    ("renormalize_sinkhorn_saturated", literal_case(
        "token_choice<k = 1, dropless, score = sinkhorn, renormalize>",
        [[200, 0], [199, 0]], [[0, -1], [1, -1]], [[1, 0], [1, 0]]),
     "renormalize: weight 1 where the Sinkhorn weights saturate"),
]


if __name__ == "__main__":
    sys.exit(case_driver.main(CASES, case_driver.run_made_case, "nonfinite.py"))
