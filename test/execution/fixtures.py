"""The worked fixtures of docs/routers.md, run through the compiled code.

Each fixture is a small layer compiled with moe-compile and run with moe-run --check against
the values written in docs/routers.md (copied here literally), not against the NumPy reference:

- 4.1 token choice, S=3, E=3, k=2, C=2, vanilla and BPR: the combine tensors W[s] give the
  slot table (token and weight of every slot). The fixture's gates are fed exactly through
  `score = sigmoid` with logits = logit(gates) (sigmoid(logit(g)) = g; a gate of 0 is a logit
  of -inf), since softmax would renormalise rows that do not sum to 1.
- 4.2 expert choice, same gates, C=2. Expert choice scores are softmax(logits), so the gates
  are fed as softmax(log(g / 2 with a fourth expert holding 1 - sum(g) / 2)): experts 0..2 see
  exactly g / 2, and a constant factor changes no expert's ranking, so the fixture's slots hold
  the same tokens with half the fixture's weights. The fourth expert's slots follow from its
  own column.
- 5 importance loss: gates [[.5,.4,.1],[.3,.3,.4],[.1,.2,.7],[.8,.2,0]] (rows sum to 1, so
  softmax(log g) = g) -> L_imp = 0.03874999.
- 4.5 Soft MoE with zero logits (phi = 0): D = 1/S and W = 1/(E p) everywhere, so every token's
  output is the mean over all slots of f_e(mean of the group's tokens).

usage: fixtures.py --build BUILD_DIR --work DIR [--seed N] [--filter TEXT]
(the seed only draws the Soft MoE tokens and expert weights; the other fixtures are fixed)
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)

import case_driver  # noqa: E402

GATES = [[.4, 0, .2], [.5, .1, .4], [.3, .2, .6]]  # docs/routers.md 4.1 and 4.2

# docs/routers.md 4.1: W[s] as [E][C] for each token s.
W_VANILLA = [[[.4, 0], [0, 0], [0, .2]], [[0, .5], [0, 0], [0, 0]], [[0, 0], [0, 0], [.6, 0]]]
W_BPR = [[[0, .4], [0, 0], [0, 0]], [[.5, 0], [0, 0], [0, .4]], [[0, 0], [0, 0], [.6, 0]]]
# docs/routers.md 4.2 (C = 2).
W_EXPERT_CHOICE = [[[0, .4], [0, 0], [0, 0]], [[.5, 0], [0, .1], [0, .4]],
                   [[0, 0], [.2, 0], [.6, 0]]]

IMPORTANCE_GATES = [[.5, .4, .1], [.3, .3, .4], [.1, .2, .7], [.8, .2, 0]]  # docs/routers.md 5
IMPORTANCE_LOSS = 0.03874999


def slot_table(w):
    """(slot_token [1, E, C] int64, slot_weight [1, E, C] f32) from the fixture's W[s][e][c]."""
    w = np.asarray(w, dtype=np.float64)
    _, num_experts, cap = w.shape
    token = np.full((1, num_experts, cap), -1, dtype=np.int64)
    weight = np.zeros((1, num_experts, cap), dtype=np.float32)
    for s, e, c in zip(*np.nonzero(w)):
        assert token[0, e, c] == -1, "a fixture slot holds two tokens"
        token[0, e, c], weight[0, e, c] = s, w[s, e, c]
    return token, weight


def logit(g):
    g = np.asarray(g, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return (np.log(g) - np.log1p(-g)).astype(np.float32)


def log(g):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(g, dtype=np.float64)).astype(np.float32)


def route_layer(name, router, s, e, c, outputs):
    """A layer from logits [1, s, e] to the plan's slot table and/or its route statistics."""
    lt = f"tensor<1x{s}x{e}xf32>"
    plan = f"!moe.plan<groups = 1, tokens = {s}, experts = {e}, capacity = {c}>"
    results, lines, values = [], [f"  %p = moe.route %l {router} : {lt} -> {plan}"], []
    if "slots" in outputs:
        table = [f"tensor<1x{e}x{c}xi64>", f"tensor<1x{e}x{c}xf32>"]
        lines.append(f"  %t, %w = moe.plan_slots %p : {plan} -> {', '.join(table)}")
        results += list(zip(table, ["slot_token", "slot_weight"]))
        values += ["%t", "%w"]
    if "stats" in outputs:
        stats = ["tensor<1xf32>", f"tensor<1x{e}xi64>", "tensor<1xi64>", "tensor<1xi64>"]
        lines.append(f"  %a, %b, %c, %d = moe.route_stats %l, %p : {lt}, {plan} -> {', '.join(stats)}")
        results += list(zip(stats, ["importance_loss", "expert_load", "dropped_assignments",
                                    "dropped_tokens"]))
        values += ["%a", "%b", "%c", "%d"]
    decl = ", ".join(f'{t} {{moe.output = "{n}"}}' for t, n in results)
    return (f'func.func @{name}(%l: {lt} {{moe.input = "logits"}}) -> ({decl}) {{\n'
            + "\n".join(lines)
            + f"\n  return {', '.join(values)} : {', '.join(t for t, _ in results)}\n}}\n")


def token_choice_case(priority, w):
    router = "token_choice<k = 2, capacity = 2, score = sigmoid" + (
        ", priority = bpr>" if priority == "bpr" else ">")
    token, weight = slot_table(w)
    return (route_layer("fixture", router, 3, 3, 2, {"slots"}),
            {"logits": logit(GATES)[None]}, {}, {"slot_token": token, "slot_weight": weight})


def expert_choice_case():
    g = np.asarray(GATES, dtype=np.float64) / 2
    fourth = 1.0 - g.sum(axis=1, keepdims=True)
    gates = np.concatenate([g, fourth], axis=1)  # rows sum to 1: softmax(log) = gates
    token, weight = slot_table(W_EXPERT_CHOICE)
    # Experts 0..2: the fixture's tokens at half weight; expert 3: its own top-2 tokens.
    order = np.argsort(-fourth[:, 0], kind="stable")[:2]
    token = np.concatenate([token, order[None, None, :]], axis=1)
    weight = np.concatenate([weight / 2, fourth[order, 0][None, None, :].astype(np.float32)],
                            axis=1)
    return (route_layer("fixture", "expert_choice<capacity = 2>", 3, 4, 2, {"slots"}),
            {"logits": log(gates)[None]}, {}, {"slot_token": token, "slot_weight": weight})


def importance_case():
    return (route_layer("fixture", "token_choice<k = 1, capacity = 4>", 4, 3, 4, {"stats"}),
            {"logits": log(IMPORTANCE_GATES)[None]}, {},
            {"importance_loss": np.array([IMPORTANCE_LOSS], dtype=np.float32)})


def soft_case(seed):
    g, s, d, e, p, h = 2, 5, 4, 3, 2, 6
    rng = np.random.default_rng([seed, 45])
    x = rng.standard_normal((g, s, d)).astype(np.float32)
    w_up = (rng.standard_normal((e, d, h)) / 2).astype(np.float32)
    w_down = (rng.standard_normal((e, h, d)) / 2).astype(np.float32)
    weights = {"phi": np.zeros((d, e, p), np.float32), "scale": np.array(1.0, np.float32),
               "w_up": w_up, "w_down": w_down}
    # D = 1/S: every slot of a group holds the group's mean token; W = 1/(E p): every token
    # gets the mean of all slots' outputs.
    mean = x.astype(np.float64).mean(axis=1)  # [G, d]
    f = np.stack([np.maximum(mean @ w_up[i], 0) @ w_down[i] for i in range(e)])  # [E, G, d]
    out = np.repeat(f.mean(axis=0)[:, None, :], s, axis=1).astype(np.float32)
    xt, lt, st = f"tensor<{g}x{s}x{d}xf32>", f"tensor<{g}x{s}x{e * p}xf32>", f"tensor<{e}x{g * p}x{d}xf32>"
    plan = f"!moe.plan<groups = {g}, tokens = {s}, experts = {e}, capacity = {p}>"
    text = f"""func.func @fixture(%x: {xt} {{moe.input = "x"}}, %phi: tensor<{d}x{e}x{p}xf32> {{moe.weight = "phi"}},
    %scale: tensor<f32> {{moe.weight = "scale"}}, %w_up: tensor<{e}x{d}x{h}xf32> {{moe.weight = "w_up"}},
    %w_down: tensor<{e}x{h}x{d}xf32> {{moe.weight = "w_down"}}) -> ({xt} {{moe.output = "out"}}) {{
  %l = moe.gate %x, %phi scale %scale : {xt}, tensor<{d}x{e}x{p}xf32>, tensor<f32> -> {lt}
  %p = moe.route %l soft<slots_per_expert = {p}> : {lt} -> {plan}
  %s = moe.dispatch %x, %p : {xt}, {plan} -> {st}
  %y = moe.experts %s mlp(relu) up %w_up down %w_down : ({st}, tensor<{e}x{d}x{h}xf32>, tensor<{e}x{h}x{d}xf32>) -> {st}
  %o = moe.combine %y, %p : {st}, {plan} -> {xt}
  return %o : {xt}
}}
"""
    return text, {"x": x}, weights, {"out": out}


CASES = [
    ("token_choice_vanilla", lambda seed: token_choice_case("position", W_VANILLA),
     "docs/routers.md 4.1 vanilla"),
    ("token_choice_bpr", lambda seed: token_choice_case("bpr", W_BPR), "docs/routers.md 4.1 BPR"),
    ("expert_choice", lambda seed: expert_choice_case(), "docs/routers.md 4.2"),
    ("importance_loss", lambda seed: importance_case(), "docs/routers.md 5, L_imp = 0.03874999"),
    ("soft_zero_logits", soft_case, "docs/routers.md 4.5, D = 1/S, W = 1/(E p)"),
]


if __name__ == "__main__":
    sys.exit(case_driver.main(CASES, case_driver.run_made_case, "fixtures.py"))
