"""Tests of the NumPy reference routers against docs/routers.md.

Fixture tests reproduce every worked example of docs/routers.md.  Property tests draw random inputs
from a fresh seed each run; the seed is in every assertion message, and setting MOE_REF_SEED
reruns with a given seed.  Several property tests compare against deliberately naive loop
implementations written here straight from the spec's pseudo-code.
"""

import math
import os
import secrets

import numpy as np
import pytest

import moe_reference as ref


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture
def rs():
    """(rng, message) with a fresh seed; the message names the seed for reproduction."""
    seed = int(os.environ.get("MOE_REF_SEED", secrets.randbits(32)))
    return np.random.default_rng(seed), f"seed={seed} (rerun: MOE_REF_SEED={seed})"


def dense(plan, g=0):
    """Dense D[s,e,c] (0/1) and W[s,e,c] of group g of a SlotPlan (docs/routers.md 3)."""
    S, E, C = plan.num_tokens, plan.num_experts, plan.capacity
    D = np.zeros((S, E, C))
    W = np.zeros((S, E, C))
    for e in range(E):
        for c in range(C):
            s = plan.token[g, e, c]
            if s >= 0:
                D[s, e, c] = 1.0
                W[s, e, c] = plan.weight[g, e, c]
            else:
                assert plan.weight[g, e, c] == 0
    return D, W


def naive_softmax(l):
    z = np.exp(l)
    return z / z.sum(axis=-1, keepdims=True)


def naive_sinkhorn(l, iterations, eps):
    """Sinkhorn of 4.3 literally (no log space): only for moderate logits."""
    S, E = l.shape
    K = np.exp(l / eps)
    a, b, v = np.ones(S), np.full(E, S / E), np.ones(E)
    for _ in range(iterations):
        u = a / (K @ v)
        v = b / (K.T @ u)
    return u[:, None] * K * v[None, :]


def naive_ksparse(l, C, iterations, lr):
    """4.4 with a per-column loop and a bisection simplex projection (independent algorithm)."""
    S, E = l.shape
    sim = naive_softmax(l)
    b = S / E

    def project(col):
        keep = sorted(range(S), key=lambda s: (-col[s], s))[:C]
        u = col[keep]
        lo, hi = u.min() - 1.0, u.max()  # sum(max(u - theta, 0)) is >= 1 at lo, 0 at hi
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if np.maximum(u - mid, 0).sum() > 1 else (lo, mid)
        out = np.zeros(S)
        out[keep] = np.maximum(u - 0.5 * (lo + hi), 0)
        return out

    def plan(alpha):
        return np.stack([b * project((alpha + sim[:, e]) / b) for e in range(E)], axis=1)

    alpha, m, v = np.zeros(S), np.zeros(S), np.zeros(S)
    for t in range(1, iterations + 1):
        grad = plan(alpha).sum(axis=1) - 1.0
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        alpha -= lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    return plan(alpha)


def naive_token_choice(scores, weights, k, C, bpr, renormalize):
    """The 4.1 fill loop, literally, for one group; returns dense (D, W) [S,E,C]."""
    S, E = scores.shape
    choice = [sorted(range(E), key=lambda e: (-scores[s, e], e))[:k] for s in range(S)]
    w = [[weights[s, e] for e in choice[s]] for s in range(S)]
    if renormalize:
        w = [[x / sum(ws) for x in ws] for ws in w]
    order = range(S)
    if bpr:
        order = sorted(range(S), key=lambda s: (-scores[s, choice[s][0]], s))
    D, W = np.zeros((S, E, C)), np.zeros((S, E, C))
    fill = [0] * E
    for r in range(k):
        for s in order:
            e = choice[s][r]
            pos = fill[e]
            fill[e] += 1
            if pos < C:
                D[s, e, pos], W[s, e, pos] = 1.0, w[s][r]
    return D, W


def naive_expert_choice(scores, weights, C):
    S, E = scores.shape
    D, W = np.zeros((S, E, C)), np.zeros((S, E, C))
    for e in range(E):
        best = sorted(range(S), key=lambda s: (-scores[s, e], s))[:C]
        for c, s in enumerate(best):
            D[s, e, c], W[s, e, c] = 1.0, weights[s, e]
    return D, W


def check_slot_invariants(plan, msg=""):
    """At most one token per slot (by layout), no token twice in an expert, kept = prefix."""
    assert plan.token.dtype == np.int64 and plan.weight.dtype == np.float32, msg
    for g in range(plan.num_groups):
        for e in range(plan.num_experts):
            toks = plan.token[g, e]
            kept = toks[toks >= 0]
            assert len(set(kept.tolist())) == len(kept), f"token twice in expert {e}; {msg}"
            assert np.all(toks[: len(kept)] >= 0), f"holes in expert {e}; {msg}"
            assert np.all(kept < plan.num_tokens), msg
            assert np.all(plan.weight[g, e, len(kept):] == 0), msg


def random_shape(rng):
    return int(rng.integers(1, 3)), int(rng.integers(2, 13)), int(rng.integers(2, 7))


# --------------------------------------------------------------------------------------------
# 2. Capacity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, expected",
    [
        ((1576 * 2, 8, 1.05), 416),
        ((400 * 2, 8, 1.05), 108),
        ((400 * 2, 8, 4.0), 400),
        ((4616 * 2, 8, 1.5), 1732),
        ((196, 128, 1.0, "round", 1), 2),
    ],
)
def test_capacity_worked_values(args, expected):
    assert ref.capacity(*args) == expected


def test_capacity_rounding_and_errors():
    assert ref.capacity(1576 * 2, 8, 1.05, multiple_of=1) == 414
    assert ref.capacity(12, 8, 1.0, rounding="round", multiple_of=1) == 2  # 1.5 -> 2
    assert ref.capacity(20, 8, 1.0, rounding="round", multiple_of=1) == 2  # 2.5 -> 2 (even)
    assert ref.capacity(1, 8, 1.0) == 4  # ceil(0.125) = 1, then up to 4
    with pytest.raises(ValueError):
        ref.capacity(3, 8, 1.0, rounding="round")  # round(0.375) = 0 < 1
    with pytest.raises(ValueError):
        ref.capacity(0, 8, 1.0)
    with pytest.raises(ValueError):
        ref.capacity(16, 8, 0.0)
    with pytest.raises(ValueError):
        ref.capacity(16, 8, 1.0, rounding="floor")
    with pytest.raises(ValueError):
        ref.capacity(16, 8, 1.0, multiple_of=0)


# --------------------------------------------------------------------------------------------
# Spec fixtures: 4.1, 4.2, 5
# --------------------------------------------------------------------------------------------

GATES = np.array([[0.4, 0.0, 0.2], [0.5, 0.1, 0.4], [0.3, 0.2, 0.6]], dtype=np.float32)

# W[s] as written in docs/routers.md: rows = experts, columns = slots.
TC_VANILLA = [[[0.4, 0], [0, 0], [0, 0.2]], [[0, 0.5], [0, 0], [0, 0]], [[0, 0], [0, 0], [0.6, 0]]]
TC_BPR = [[[0, 0.4], [0, 0], [0, 0]], [[0.5, 0], [0, 0], [0, 0.4]], [[0, 0], [0, 0], [0.6, 0]]]
EC = [[[0, 0.4], [0, 0], [0, 0]], [[0.5, 0], [0, 0.1], [0, 0.4]], [[0, 0], [0.2, 0], [0.6, 0]]]


@pytest.mark.parametrize("priority, expected", [("position", TC_VANILLA), ("bpr", TC_BPR)])
def test_token_choice_fixture(priority, expected):
    plan = ref.token_choice(GATES[None], k=2, capacity=2, priority=priority, score="given")
    D, W = dense(plan)
    np.testing.assert_allclose(W, np.array(expected), atol=1e-7)
    np.testing.assert_array_equal(D, np.array(expected) != 0)  # no kept gate is 0 here
    stats = ref.route_stats(np.log(np.maximum(GATES, 1e-30))[None], plan, k=2)
    assert stats["expert_load"].tolist() == [[2, 0, 2]]
    assert stats["dropped_assignments"].tolist() == [2]
    assert stats["dropped_tokens"].tolist() == [0]


def test_token_choice_fixture_through_softmax():
    """log(gates) as logits selects the same slots; weights are the row-normalised gates.

    Position priority only: the fixture's rows do not sum to 1, so normalising them changes
    the top-1 order that BPR sorts by.
    """
    with np.errstate(divide="ignore"):
        logits = np.log(GATES)[None]
    plan = ref.token_choice(logits, k=2, capacity=2)
    D, W = dense(plan)
    expected = np.array(TC_VANILLA)
    np.testing.assert_array_equal(D, expected != 0)
    row_sum = GATES.sum(axis=1).astype(np.float64)
    np.testing.assert_allclose(W, expected / row_sum[:, None, None], rtol=1e-6)


def test_expert_choice_fixture():
    plan = ref.expert_choice(GATES[None], capacity=2, score="given")
    D, W = dense(plan)
    np.testing.assert_allclose(W, np.array(EC), atol=1e-7)
    np.testing.assert_array_equal(D, np.array(EC) != 0)
    with np.errstate(divide="ignore"):
        stats = ref.route_stats(np.log(GATES)[None], plan)
    assert stats["expert_load"].tolist() == [[2, 2, 2]]
    assert stats["dropped_assignments"].tolist() == [0]
    assert stats["dropped_tokens"].tolist() == [0]


def test_importance_loss_fixture():
    gates = np.array([[0.5, 0.4, 0.1], [0.3, 0.3, 0.4], [0.1, 0.2, 0.7], [0.8, 0.2, 0.0]])
    with np.errstate(divide="ignore"):
        logits = np.log(gates).astype(np.float32)[None]
    plan = ref.token_choice(logits, k=1)
    stats = ref.route_stats(logits, plan, k=1)
    assert stats["importance_loss"].dtype == np.float32
    np.testing.assert_allclose(stats["importance_loss"], [0.03874999], rtol=1e-6)


def test_renormalize_fixture():
    plan = ref.token_choice(GATES[None], k=2, capacity=2, score="given", renormalize=True)
    _, W = dense(plan)
    # token 0 keeps both choices (.4, .2) -> (2/3, 1/3); token 1 keeps .5 of (.5, .4) -> 5/9
    np.testing.assert_allclose(W[0, 0, 0], 0.4 / 0.6, rtol=1e-6)
    np.testing.assert_allclose(W[0, 2, 1], 0.2 / 0.6, rtol=1e-6)
    np.testing.assert_allclose(W[1, 0, 1], 0.5 / 0.9, rtol=1e-6)
    np.testing.assert_allclose(W[2, 2, 0], 0.6 / 0.9, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# 4.1 / 4.3 token choice against the literal loop
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["softmax", "sigmoid", "sinkhorn", "given-ties"])
def test_token_choice_matches_naive_loop(rs, score):
    rng, msg = rs
    for _ in range(20):
        G, S, E = random_shape(rng)
        k = int(rng.integers(1, E + 1))
        C = None if rng.random() < 0.25 else int(rng.integers(1, S + 1))
        priority = str(rng.choice(["position", "bpr"]))
        renorm = bool(rng.random() < 0.5)
        if score == "given-ties":  # small positive integers: many exact ties
            logits = rng.integers(1, 4, size=(G, S, E)).astype(np.float32)
            arg = "given"
        else:
            logits = rng.normal(size=(G, S, E)).astype(np.float32)
            arg = ("sinkhorn", 7, 0.5) if score == "sinkhorn" else score
        plan = ref.token_choice(logits, k, capacity=C, priority=priority, score=arg,
                                renormalize=renorm)
        check_slot_invariants(plan, msg)
        assert plan.capacity == (S if C is None else C), msg
        for g in range(G):
            l = logits[g].astype(np.float64)
            if score == "softmax":
                scores = weights = naive_softmax(l)
            elif score == "sigmoid":
                scores = weights = 1 / (1 + np.exp(-l))
            elif score == "sinkhorn":
                scores, weights = naive_sinkhorn(l, 7, 0.5), naive_softmax(l)
            else:
                scores = weights = l
            D0, W0 = naive_token_choice(scores, weights, k, plan.capacity, priority == "bpr",
                                        renorm)
            D, W = dense(plan, g)
            case = f"{msg} G={G} S={S} E={E} k={k} C={C} {priority} renorm={renorm} g={g}"
            np.testing.assert_array_equal(D, D0, err_msg=case)
            np.testing.assert_allclose(W, W0, rtol=1e-6, atol=1e-7, err_msg=case)


def test_dropless_keeps_every_assignment(rs):
    rng, msg = rs
    G, S, E, k = 2, 11, 5, 3
    logits = rng.normal(size=(G, S, E)).astype(np.float32)
    plan = ref.token_choice(logits, k, capacity=None, renormalize=True)
    stats = ref.route_stats(logits, plan, k=k)
    assert np.all(stats["dropped_assignments"] == 0), msg
    assert np.all(stats["dropped_tokens"] == 0), msg
    assert np.all(stats["expert_load"].sum(axis=1) == k * S), msg
    topk = np.argsort(-logits, axis=2, kind="stable")[:, :, :k]
    for g in range(G):
        D, W = dense(plan, g)
        picked = D.sum(axis=2)  # [S, E]
        expected = np.zeros((S, E))
        np.put_along_axis(expected, topk[g], 1.0, axis=1)
        np.testing.assert_array_equal(picked, expected, err_msg=msg)
        np.testing.assert_allclose(W.sum(axis=(1, 2)), 1.0, rtol=1e-6, err_msg=msg)


def test_bpr_picks_same_experts(rs):
    rng, msg = rs
    G, S, E, k = 2, 12, 4, 2
    logits = rng.normal(size=(G, S, E)).astype(np.float32)
    vanilla = ref.token_choice(logits, k, priority="position")
    bpr = ref.token_choice(logits, k, priority="bpr")
    limited = ref.token_choice(logits, k, capacity=3, priority="bpr")
    for g in range(G):
        pv = dense(vanilla, g)[0].sum(axis=2)
        pb = dense(bpr, g)[0].sum(axis=2)
        np.testing.assert_array_equal(pv, pb, err_msg=msg)  # dropless: same (s, e) pairs
        pl = dense(limited, g)[0].sum(axis=2)
        assert np.all(pl <= pv), msg  # with capacity: a subset of those pairs
        # The token with the highest top-1 gate always keeps its first choice under BPR.
        gates = naive_softmax(logits[g].astype(np.float64))
        s = int(np.argmax(gates.max(axis=1)))
        assert pl[s, int(np.argmax(gates[s]))] == 1, msg


def test_sinkhorn_bpr_priority_uses_plan():
    """BPR order comes from max_e P[s, e], not from the softmax gate."""
    logits = np.array([[[2.0, 0.0], [1.9, -3.0], [0.0, 0.1]]], dtype=np.float32)
    plan = ref.token_choice(logits, k=1, capacity=1, priority="bpr", score=("sinkhorn", 20, 1.0))
    P = naive_sinkhorn(logits[0].astype(np.float64), 20, 1.0)
    D0, W0 = naive_token_choice(P, naive_softmax(logits[0].astype(np.float64)), 1, 1, True, False)
    D, W = dense(plan)
    np.testing.assert_array_equal(D, D0)
    np.testing.assert_allclose(W, W0, rtol=1e-6)
    # P's top-1 order is s1 (.94), s2 (.90), s0 (.54); both s0 and s2 pick expert 1 under P.
    # Softmax priority (s1, s0, s2) would give that slot to s0; P priority gives it to s2.
    assert plan.token[0, 1, 0] == 2


# --------------------------------------------------------------------------------------------
# 4.2 / 4.3 / 4.4 expert choice
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("score", ["softmax", "sinkhorn", "ksparse_ot", "given-ties"])
def test_expert_choice_matches_naive(rs, score):
    rng, msg = rs
    for _ in range(10):
        G, S, E = random_shape(rng)
        # C may exceed S (trailing slots stay empty), except for ksparse_ot: see below.
        C = int(rng.integers(1, S if score == "ksparse_ot" else S + 3))
        if score == "given-ties":
            logits = rng.integers(0, 3, size=(G, S, E)).astype(np.float32)
            arg = "given"
        else:
            logits = rng.normal(size=(G, S, E)).astype(np.float32)
            arg = {"softmax": "softmax", "sinkhorn": ("sinkhorn", 9, 1.0),
                   "ksparse_ot": ("ksparse_ot", 15, 0.05)}[score]
        plan = ref.expert_choice(logits, C, score=arg)
        check_slot_invariants(plan, msg)
        assert np.all((plan.token >= 0).sum(axis=2) == min(C, S)), msg  # every expert full
        for g in range(G):
            l = logits[g].astype(np.float64)
            weights = l if score == "given-ties" else naive_softmax(l)
            scores = {"softmax": weights, "given-ties": l,
                      "sinkhorn": naive_sinkhorn(l, 9, 1.0) if score == "sinkhorn" else None,
                      "ksparse_ot": naive_ksparse(l, C, 15, 0.05) if score == "ksparse_ot"
                      else None}[score]
            D0, W0 = naive_expert_choice(scores, weights, min(C, S))
            D, W = dense(plan, g)
            case = f"{msg} G={G} S={S} E={E} C={C} g={g}"
            np.testing.assert_array_equal(D[:, :, : min(C, S)], D0, err_msg=case)
            np.testing.assert_allclose(W[:, :, : min(C, S)], W0, rtol=1e-6, err_msg=case)


# --------------------------------------------------------------------------------------------
# Transport plans
# --------------------------------------------------------------------------------------------


def test_sinkhorn_marginals(rs):
    rng, msg = rs
    S, E = int(rng.integers(4, 20)), int(rng.integers(2, 6))
    l = rng.normal(size=(S, E)).astype(np.float32)
    P = ref.sinkhorn_plan(l, iterations=300, epsilon=1.0)
    assert P.dtype == np.float32 and np.all(P >= 0), msg
    np.testing.assert_allclose(P.sum(axis=0), S / E, rtol=1e-5, err_msg=msg)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5, err_msg=msg)


def test_sinkhorn_exact_iteration_count(rs):
    rng, msg = rs
    l = rng.normal(size=(9, 4))
    for it in (1, 2, 5):
        P = ref.sinkhorn_plan(l, iterations=it, epsilon=0.7)
        assert P.dtype == np.float32, msg
        np.testing.assert_allclose(P, naive_sinkhorn(l, it, 0.7), rtol=1e-5, err_msg=msg)
    with pytest.raises(ValueError):
        ref.sinkhorn_plan(l, iterations=0, epsilon=1.0)


def test_sinkhorn_no_overflow(rs):
    rng, msg = rs
    S, E = 16, 4
    l = rng.uniform(-1e4, 1e4, size=(S, E)).astype(np.float32)
    P = ref.sinkhorn_plan(l, iterations=20, epsilon=1.0)
    assert np.all(np.isfinite(P)) and np.all(P >= 0), msg
    np.testing.assert_allclose(P.sum(axis=0), S / E, rtol=1e-5, err_msg=msg)
    plan = ref.token_choice(l[None], 2, capacity=8, score=("sinkhorn", 20, 1.0))
    assert np.all(np.isfinite(plan.weight)), msg


def test_ksparse_marginals_and_sparsity(rs):
    rng, msg = rs
    S, E = int(rng.integers(6, 24)), int(rng.integers(2, 6))
    l = rng.normal(size=(S, E)).astype(np.float32)
    for C in (int(rng.integers(1, S)), S, S + 2):
        P = ref.ksparse_ot_plan(l, C, iterations=20, learning_rate=1e-2)
        assert P.dtype == np.float32 and np.all(P >= 0), msg
        assert np.all((P > 0).sum(axis=0) <= C), f"{msg} C={C}"
        np.testing.assert_allclose(P.sum(axis=0), S / E, rtol=1e-5, err_msg=f"{msg} C={C}")


def test_ksparse_matches_naive(rs):
    """Against a loop + bisection implementation, for C < S only.

    With C >= S no entry is dropped and (for moderate logits) none clipped, so alpha = 0 is
    already optimal: the gradient is 0 up to rounding, and Adam's scale-free step turns that
    rounding noise into O(lr) moves.  Two correct implementations then legitimately disagree.
    """
    rng, msg = rs
    S, E = int(rng.integers(6, 24)), int(rng.integers(2, 6))
    C = int(rng.integers(1, S))
    l = rng.normal(size=(S, E)).astype(np.float32)
    P = ref.ksparse_ot_plan(l, C, iterations=20, learning_rate=1e-2)
    np.testing.assert_allclose(P, naive_ksparse(l.astype(np.float64), C, 20, 1e-2),
                               atol=1e-6, err_msg=f"{msg} S={S} E={E} C={C}")


def test_ksparse_ties_keep_lower_token():
    """All-equal logits: every column keeps tokens 0..C-1, each with mass (S/E)/C."""
    S, E, C = 8, 2, 3
    P = ref.ksparse_ot_plan(np.zeros((S, E)), C, iterations=0, learning_rate=1e-2)
    expected = np.zeros((S, E))
    expected[:C] = (S / E) / C
    np.testing.assert_allclose(P, expected, rtol=1e-6)


# --------------------------------------------------------------------------------------------
# 4.5 Soft MoE
# --------------------------------------------------------------------------------------------


def test_soft_route_normalisation(rs):
    rng, msg = rs
    G, S, E, p = 2, 7, 3, 2
    L = rng.normal(scale=3.0, size=(G, S, E * p)).astype(np.float32)
    plan = ref.soft_route(L, E, p)
    assert plan.dispatch.dtype == np.float32 and plan.combine.dtype == np.float32, msg
    np.testing.assert_allclose(plan.dispatch.sum(axis=1), 1.0, rtol=1e-6, err_msg=msg)
    np.testing.assert_allclose(plan.combine.sum(axis=2), 1.0, rtol=1e-6, err_msg=msg)
    zero = ref.soft_route(np.zeros((G, S, E * p), np.float32), E, p)
    np.testing.assert_allclose(zero.dispatch, 1.0 / S, rtol=1e-7)
    np.testing.assert_allclose(zero.combine, 1.0 / (E * p), rtol=1e-7)
    with pytest.raises(ValueError):
        ref.soft_route(L, E, p + 1)


def test_soft_gate_formula(rs):
    rng, msg = rs
    G, S, d, E, p = 1, 5, 6, 3, 2
    x = rng.normal(size=(G, S, d)).astype(np.float32)
    phi = rng.normal(size=(d, E, p)).astype(np.float32)
    L = ref.soft_gate(x, phi, 1.7)
    assert L.shape == (G, S, E * p) and L.dtype == np.float32, msg
    for s in range(S):
        for e in range(E):
            for q in range(p):
                xs = x[0, s].astype(np.float64)
                ph = phi[:, e, q].astype(np.float64)
                want = 1.7 * xs @ ph / math.sqrt(xs @ xs + 1e-6) / math.sqrt(ph @ ph + 1e-6)
                np.testing.assert_allclose(L[0, s, e * p + q], want, rtol=1e-5, atol=1e-6,
                                           err_msg=msg)


def test_soft_dispatch_combine_dense_form(rs):
    rng, msg = rs
    G, S, d, dout, E, p = 2, 6, 4, 3, 3, 2
    x = rng.normal(size=(G, S, d)).astype(np.float32)
    plan = ref.soft_route(rng.normal(size=(G, S, E * p)), E, p)
    xt = ref.dispatch(x, plan)
    assert xt.shape == (E, G * p, d), msg
    y = rng.normal(size=(E, G * p, dout)).astype(np.float32)
    out = ref.combine(y, plan)
    for g in range(G):
        Dg = plan.dispatch[g].astype(np.float64).reshape(S, E, p)
        Wg = plan.combine[g].astype(np.float64).reshape(S, E, p)
        want_xt = np.einsum("seq,sd->eqd", Dg, x[g].astype(np.float64))
        np.testing.assert_allclose(xt[:, g * p:(g + 1) * p], want_xt, rtol=1e-5, atol=1e-6,
                                   err_msg=msg)
        yg = y[:, g * p:(g + 1) * p].astype(np.float64)
        np.testing.assert_allclose(out[g], np.einsum("seq,eqd->sd", Wg, yg), rtol=1e-5,
                                   atol=1e-6, err_msg=msg)


# --------------------------------------------------------------------------------------------
# 4.6 Per-image routing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_per_image(rs, pooling):
    rng, msg = rs
    G, n_items, T, d, E, k = 2, 5, 3, 4, 4, 2
    S = n_items * T
    x = rng.normal(size=(G, S, d)).astype(np.float32)
    wg = rng.normal(size=(d, E)).astype(np.float32)
    logits = ref.gate(x, wg)
    cap_items = int(rng.integers(1, n_items + 1))
    for cap in (None, cap_items):
        plan = ref.per_image(logits, T, k, pooling=pooling, capacity=cap)
        check_slot_invariants(plan, msg)
        assert plan.capacity == (n_items if cap is None else cap) * T, msg
        # Reference decision: token choice over items, from the pooled token / pooled logits.
        items = x.astype(np.float64).reshape(G, n_items, T, d)
        pooled_x = items[:, :, 0] if pooling == "cls" else items.mean(axis=2)
        pooled_logits = pooled_x @ wg.astype(np.float64)  # gate of the pooled token
        for g in range(G):
            D0, W0 = naive_token_choice(naive_softmax(pooled_logits[g]),
                                        naive_softmax(pooled_logits[g]), k,
                                        plan.capacity // T, False, False)
            # Expand item slot c to token slots c*T + t holding token i*T + t.
            De, We = np.zeros((S, E, plan.capacity)), np.zeros((S, E, plan.capacity))
            for i, e, c in zip(*np.nonzero(D0)):
                for t in range(T):
                    De[i * T + t, e, c * T + t] = 1.0
                    We[i * T + t, e, c * T + t] = W0[i, e, c]
            D, W = dense(plan, g)
            np.testing.assert_array_equal(D, De, err_msg=f"{msg} cap={cap} g={g}")
            np.testing.assert_allclose(W, We, rtol=1e-5, err_msg=f"{msg} cap={cap} g={g}")
    with pytest.raises(ValueError):
        ref.per_image(logits, 4, k)  # 4 does not divide S = 15


# --------------------------------------------------------------------------------------------
# 3. Dispatch / combine against the dense formulation
# --------------------------------------------------------------------------------------------


def test_slot_dispatch_combine_dense_form(rs):
    rng, msg = rs
    G, S, d, dout, E = 2, 7, 3, 2, 3
    x = rng.normal(size=(G, S, d)).astype(np.float32)
    logits = rng.normal(size=(G, S, E)).astype(np.float32)
    plans = {
        "token_choice": ref.token_choice(logits, 2, capacity=4, priority="bpr"),
        "expert_choice": ref.expert_choice(logits, 3),
        "per_image": ref.per_image(logits[:, :6], 2, 1, capacity=1),
    }
    for name, plan in plans.items():
        S_p = plan.num_tokens
        xp = x[:, :S_p]
        C = plan.capacity
        xt = ref.dispatch(xp, plan)
        assert xt.shape == (E, G * C, d) and xt.dtype == np.float32, f"{name} {msg}"
        y = rng.normal(size=(E, G * C, dout)).astype(np.float32)
        out = ref.combine(y, plan)
        assert out.shape == (G, S_p, dout) and out.dtype == np.float32, f"{name} {msg}"
        for g in range(G):
            D, W = dense(plan, g)
            want_xt = np.einsum("sec,sd->ecd", D, xp[g].astype(np.float64))
            np.testing.assert_allclose(xt[:, g * C:(g + 1) * C], want_xt, rtol=1e-6,
                                       err_msg=f"{name} {msg}")
            yg = y[:, g * C:(g + 1) * C].astype(np.float64)
            np.testing.assert_allclose(out[g], np.einsum("sec,ecd->sd", W, yg), rtol=1e-5,
                                       atol=1e-6, err_msg=f"{name} {msg}")
            # Tokens with no kept slot get exactly 0.
            lost = D.sum(axis=(1, 2)) == 0
            assert np.all(out[g][lost] == 0), f"{name} {msg}"


def test_moe_layer_top1_end_to_end(rs):
    """k=1 dropless with MLP experts: Y[s] = gate[s] * f_{e(s)}(X[s])."""
    rng, msg = rs
    G, S, d, h, E = 2, 6, 4, 5, 3
    x = rng.normal(size=(G, S, d)).astype(np.float32)
    wg = rng.normal(size=(d, E)).astype(np.float32)
    w1 = rng.normal(size=(E, d, h)).astype(np.float32)
    w2 = rng.normal(size=(E, h, d)).astype(np.float32)
    b1 = rng.normal(size=(E, h)).astype(np.float32)
    b2 = rng.normal(size=(E, d)).astype(np.float32)
    logits = ref.gate(x, wg)
    out = ref.moe_layer(x, ref.token_choice(logits, 1), w1, w2, b1, b2, "relu")
    for g in range(G):
        for s in range(S):
            probs = naive_softmax(logits[g, s].astype(np.float64))
            e = int(np.argmax(probs))
            hid = np.maximum(x[g, s].astype(np.float64) @ w1[e] + b1[e], 0)
            want = probs[e] * (hid @ w2[e] + b2[e])
            np.testing.assert_allclose(out[g, s], want, rtol=1e-5, atol=1e-5, err_msg=msg)


# --------------------------------------------------------------------------------------------
# Gate, experts, stats, errors
# --------------------------------------------------------------------------------------------


def test_gate(rs):
    rng, msg = rs
    x = rng.normal(size=(2, 5, 4)).astype(np.float32)
    w = rng.normal(size=(4, 3)).astype(np.float32)
    out = ref.gate(x, w)
    assert out.dtype == np.float32 and out.shape == (2, 5, 3), msg
    np.testing.assert_allclose(out, x.astype(np.float64) @ w.astype(np.float64), rtol=1e-6,
                               atol=1e-6, err_msg=msg)


def test_experts_mlp_activations(rs):
    rng, msg = rs
    E, M, d, h, dout = 2, 3, 4, 5, 3
    xs = rng.normal(size=(E, M, d)).astype(np.float32)
    w1 = rng.normal(size=(E, d, 2 * h)).astype(np.float32)
    b1 = rng.normal(size=(E, 2 * h)).astype(np.float32)
    w2 = rng.normal(size=(E, h, dout)).astype(np.float32)
    b2 = rng.normal(size=(E, dout)).astype(np.float32)
    x64 = xs.astype(np.float64)
    pre = np.einsum("emd,edh->emh", x64, w1[:, :, :h].astype(np.float64)) + b1[:, None, :h]
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    gelu_tanh = np.vectorize(
        lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v**3))))
    acts = {"gelu": gelu, "gelu_tanh": gelu_tanh, "relu": lambda v: np.maximum(v, 0),
            "silu": lambda v: v / (1 + np.exp(-v))}
    for name, f in acts.items():
        out = ref.experts_mlp(xs, w1[:, :, :h], w2, b1[:, :h], b2, activation=name)
        want = np.einsum("emh,eho->emo", f(pre), w2.astype(np.float64)) + b2[:, None, :]
        np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5, err_msg=f"{name} {msg}")
    full = np.einsum("emd,edh->emh", x64, w1.astype(np.float64)) + b1[:, None, :]
    swi = acts["silu"](full[..., :h]) * full[..., h:]
    out = ref.experts_mlp(xs, w1, w2, b1, b2, activation="swiglu")
    want = np.einsum("emh,eho->emo", swi, w2.astype(np.float64)) + b2[:, None, :]
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5, err_msg=msg)
    no_bias = ref.experts_mlp(xs, w1[:, :, :h], w2, activation="relu")
    want = np.einsum("emh,eho->emo", np.maximum(pre - b1[:, None, :h], 0), w2.astype(np.float64))
    np.testing.assert_allclose(no_bias, want, rtol=1e-5, atol=1e-5, err_msg=msg)


def test_gelu_exact_values():
    # x * Phi(x) at a few points (Phi from tables to 16 digits).
    xs = np.array([[[-2.0], [-1.0], [0.0], [0.5], [1.0], [3.0]]], dtype=np.float32)
    eye = np.ones((1, 1, 1), np.float32)
    out = ref.experts_mlp(xs, eye, eye, activation="gelu")[0, :, 0]
    want = [-0.04550026389635842, -0.15865525393145707, 0.0, 0.34573123063700656,
            0.8413447460685429, 2.9959503059051097]
    np.testing.assert_allclose(out, want, rtol=1e-7, atol=1e-9)


def test_gelu_tanh_values():
    # The tanh form at a few points, and its distance from the exact erf form (under 1e-3).
    xs = np.array([[[-2.0], [-1.0], [0.0], [0.5], [1.0], [3.0]]], dtype=np.float32)
    eye = np.ones((1, 1, 1), np.float32)
    out = ref.experts_mlp(xs, eye, eye, activation="gelu_tanh")[0, :, 0]
    want = [-0.04540230591222494, -0.15880800939172324, 0.0, 0.34571400982514394,
            0.8411919906082768, 2.996362607918227]
    np.testing.assert_allclose(out, want, rtol=1e-7, atol=1e-9)
    exact = ref.experts_mlp(xs, eye, eye, activation="gelu")[0, :, 0]
    assert np.max(np.abs(out - exact)) < 1e-3


def test_route_stats_consistency(rs):
    rng, msg = rs
    G, S, E, k = 3, 10, 4, 2
    logits = rng.normal(size=(G, S, E)).astype(np.float32)
    C = int(rng.integers(1, 6))
    plan = ref.token_choice(logits, k, capacity=C)
    st = ref.route_stats(logits, plan, k=k)
    np.testing.assert_array_equal(st["expert_load"].sum(axis=1) + st["dropped_assignments"],
                                  k * S, err_msg=msg)
    assert np.all(st["expert_load"] <= C), msg
    imp = naive_softmax(logits.astype(np.float64)).sum(axis=1)
    np.testing.assert_allclose(st["importance_loss"], imp.std(axis=1) ** 2 / imp.mean(axis=1) ** 2,
                               rtol=1e-5, err_msg=msg)
    for g in range(G):
        covered = dense(plan, g)[0].sum(axis=(1, 2)) > 0
        assert st["dropped_tokens"][g] == S - covered.sum(), msg
    ec = ref.route_stats(logits, ref.expert_choice(logits, 2))
    assert np.all(ec["dropped_assignments"] == 0) and np.all(ec["expert_load"] == 2), msg
    with pytest.raises(TypeError):
        ref.route_stats(logits, ref.soft_route(logits, E, 1))


def test_argument_errors():
    logits = np.zeros((1, 4, 3), np.float32)
    with pytest.raises(ValueError):
        ref.token_choice(logits, 4)  # k > E
    with pytest.raises(ValueError):
        ref.token_choice(logits, 1, capacity=0)
    with pytest.raises(ValueError):
        ref.token_choice(logits, 1, priority="random")
    with pytest.raises(ValueError):
        ref.token_choice(logits, 1, score="relu")
    with pytest.raises(ValueError):
        ref.expert_choice(logits, 2, score=("sinkhorn", 0, 1.0))
    with pytest.raises(ValueError):
        ref.expert_choice(logits, 2, score="sigmoid")
    with pytest.raises(ValueError):
        ref.per_image(logits, 2, 1, pooling="max")
    with pytest.raises(ValueError):
        ref.token_choice(logits[0], 1)  # not [G, S, E]


# --------------------------------------------------------------------------------------------
# 7. Non-finite values
# --------------------------------------------------------------------------------------------

SPARSE_ROUTERS = [
    ("token_choice", dict(k=2, capacity=3)),
    ("token_choice", dict(k=2, capacity=3, priority="bpr")),
    ("token_choice", dict(k=2, capacity=None, score="sigmoid", renormalize=True)),
    ("token_choice", dict(k=1, capacity=4, priority="bpr", score=("sinkhorn", 10, 1.0))),
    ("expert_choice", dict(capacity=3)),
    ("expert_choice", dict(capacity=3, score=("sinkhorn", 10, 1.0))),
    ("expert_choice", dict(capacity=3, score=("ksparse_ot", 10, 0.05))),
]


def route(kind, options, logits):
    return getattr(ref, kind)(logits, **options)


def poison(rng, S, E):
    """Logits of one group with invalid tokens 1 (NaN), 4 (+Inf), 6 (-Inf everywhere) and a
    valid mask (-Inf) at token 2; returns (logits [1, S, E], valid [S])."""
    l = rng.normal(size=(1, S, E)).astype(np.float32)
    l[0, 1, E // 2] = np.nan
    l[0, 4, 0] = np.inf
    l[0, 6, :] = -np.inf
    l[0, 2, 1] = -np.inf
    valid = np.ones(S, dtype=bool)
    valid[[1, 4, 6]] = False
    return l, valid


@pytest.mark.parametrize("kind, options", SPARSE_ROUTERS)
def test_invalid_tokens_are_left_out(rs, kind, options):
    """Every valid token is routed exactly as if the invalid ones were absent (docs/routers.md
    7), with the same capacity; invalid tokens hold no slot and are counted."""
    rng, msg = rs
    S, E = 10, 4
    l, valid = poison(rng, S, E)
    np.testing.assert_array_equal(ref.valid_tokens(l)[0], valid, err_msg=msg)
    plan = route(kind, options, l)
    absent = route(kind, options, l[:, valid])
    kept = np.flatnonzero(valid)
    expected = np.where(absent.token >= 0, kept[np.maximum(absent.token, 0)], -1)
    c = absent.capacity  # dropless: C = S is smaller without the invalid tokens
    np.testing.assert_array_equal(plan.token[..., :c], expected, err_msg=msg)
    np.testing.assert_allclose(plan.weight[..., :c], absent.weight, rtol=1e-6, err_msg=msg)
    assert (plan.token[..., c:] == -1).all(), msg
    assert not np.isin(plan.token, np.flatnonzero(~valid)).any(), msg
    k = options.get("k")
    stats = ref.route_stats(l, plan, k=k)
    clean = ref.route_stats(l[:, valid], absent, k=k)
    assert stats["invalid_tokens"][0] == 3 and clean["invalid_tokens"][0] == 0, msg
    for name in ("expert_load", "dropped_assignments", "dropped_tokens"):
        np.testing.assert_array_equal(stats[name], clean[name], err_msg=f"{name} {msg}")
    np.testing.assert_allclose(stats["importance_loss"], clean["importance_loss"], rtol=1e-6)


@pytest.mark.parametrize("kind, options", SPARSE_ROUTERS)
def test_invalid_tokens_get_nan_outputs(rs, kind, options):
    rng, msg = rs
    S, E, d = 10, 4, 3
    l, valid = poison(rng, S, E)
    plan = route(kind, options, l)
    y = rng.normal(size=(E, plan.capacity, d)).astype(np.float32)
    out = ref.combine(y, plan)
    assert np.isnan(out[0, ~valid]).all(), msg
    assert np.isfinite(out[0, valid]).all(), msg


def test_a_group_of_invalid_tokens_only(rs):
    rng, msg = rs
    l = np.full((1, 5, 3), np.nan, dtype=np.float32)
    for kind, options in SPARSE_ROUTERS:
        plan = route(kind, options, l)
        assert (plan.token == -1).all(), f"{kind} {options} {msg}"
        assert ref.route_stats(l, plan, k=options.get("k"))["invalid_tokens"][0] == 5
    soft = ref.soft_route(l, 3, 1)
    assert (soft.dispatch == 0).all() and np.isnan(soft.combine).all()


def test_minus_inf_is_a_mask():
    """-Inf alone is a valid logit: probability 0 for that expert."""
    l = np.array([[[0.0, -np.inf, 1.0], [-np.inf, -np.inf, 0.0]]], dtype=np.float32)
    assert ref.valid_tokens(l).all()
    plan = ref.token_choice(l, 2, capacity=None)
    assert plan.token[0, 2, :2].tolist() == [0, 1]  # both tokens' first choice: expert 2
    # Token 1's second choice ties at probability 0 between experts 0 and 1: lower index.
    assert plan.token[0, 0, :2].tolist() == [0, 1]


def test_per_image_invalid_items(rs):
    rng, msg = rs
    T, items, E = 2, 5, 4
    l = rng.normal(size=(1, T * items, E)).astype(np.float32)
    l[0, 1, 0] = np.nan  # a non-CLS token: item 0 is invalid even with cls pooling
    l[0, 6, :2] = -np.inf  # item 3: both tokens valid, but their mean is -Inf everywhere
    l[0, 7, 2:] = -np.inf
    for pooling in ("cls", "mean"):
        plan = ref.per_image(l, T, 1, pooling=pooling)
        valid = plan.valid_mask()[0]
        bad_items = {0, 3} if pooling == "mean" else {0}
        assert [i for i in range(items) if not valid[i * T]] == sorted(bad_items), msg
        assert not np.isin(plan.token, np.flatnonzero(~valid)).any(), msg


def test_soft_invalid_tokens(rs):
    """Soft MoE: the dispatch softmax runs over the valid tokens only, an invalid token's
    features (NaN) never reach a slot, and its output is NaN."""
    rng, msg = rs
    G, S, E, p, d = 1, 6, 3, 2, 4
    L = rng.normal(size=(G, S, E * p)).astype(np.float32)
    L[0, 2, 3] = np.nan
    x = rng.normal(size=(G, S, d)).astype(np.float32)
    x[0, 2, 1] = np.nan
    plan = ref.soft_route(L, E, p)
    keep = np.array([0, 1, 3, 4, 5])
    clean = ref.soft_route(L[:, keep], E, p)
    np.testing.assert_allclose(plan.dispatch[:, keep], clean.dispatch, rtol=1e-6, err_msg=msg)
    assert (plan.dispatch[0, 2] == 0).all() and np.isnan(plan.combine[0, 2]).all(), msg
    slots = ref.dispatch(x, plan)
    np.testing.assert_allclose(slots, ref.dispatch(x[:, keep], clean), rtol=1e-6, err_msg=msg)
    out = ref.combine(slots, plan)
    assert np.isnan(out[0, 2]).all() and np.isfinite(out[0, keep]).all(), msg


def test_sinkhorn_marginals_over_valid_tokens(rs):
    rng, msg = rs
    l, valid = poison(rng, 10, 4)
    P = ref.sinkhorn_plan(l[0], iterations=200, epsilon=1.0)
    assert (P[~valid] == 0).all(), msg
    np.testing.assert_allclose(P.sum(axis=0), valid.sum() / 4, rtol=1e-5, err_msg=msg)


# --------------------------------------------------------------------------------------------
# Ranking as exact arithmetic ranks (4.1, 4.3)
# --------------------------------------------------------------------------------------------


def exact_sinkhorn(l, iterations, eps, digits=60):
    """P of 4.3 in decimal arithmetic with ``digits`` significant digits: exact for ranking."""
    import decimal

    ctx = decimal.Context(prec=digits)
    S, E = l.shape
    D = ctx.create_decimal
    K = [[ctx.exp(D(float(l[s, e])) / D(eps)) for e in range(E)] for s in range(S)]
    b = D(S) / D(E)
    v = [D(1)] * E
    for _ in range(iterations):
        u = [D(1) / sum(K[s][e] * v[e] for e in range(E)) for s in range(S)]
        v = [b / sum(K[s][e] * u[s] for s in range(S)) for e in range(E)]
    return [[u[s] * K[s][e] * v[e] for e in range(E)] for s in range(S)]


def exact_choices(P, k):
    return [sorted(range(len(row)), key=lambda e: (-row[e], e))[:k] for row in P]


def test_sinkhorn_one_token_ties_to_the_lower_experts(rs):
    """S = 1: every P[0, e] is exactly 1/E, so the top-k are experts 0..k-1."""
    rng, msg = rs
    for _ in range(5):
        l = rng.normal(size=(4, 1, 7)).astype(np.float32) * 3
        plan = ref.token_choice(l, 3, capacity=None, score=("sinkhorn", 20, 0.1))
        for g in range(4):
            chosen = sorted(e for e in range(7) if (plan.token[g, e] == 0).any())
            assert chosen == [0, 1, 2], msg


@pytest.mark.parametrize("S, E, eps", [(2, 8, 0.1), (3, 16, 0.1), (4, 12, 0.05)])
def test_sinkhorn_saturated_ranks_as_exact_arithmetic(rs, S, E, eps):
    """Few tokens, many experts, small eps: P saturates in floating point, the ranking must
    still be the exact one (compared with 60-digit decimal arithmetic)."""
    rng, msg = rs
    for _ in range(4):
        l = rng.normal(size=(1, S, E)).astype(np.float32)
        k = 2
        plan = ref.token_choice(l, k, capacity=None, priority="bpr", score=("sinkhorn", 20, eps))
        P = exact_sinkhorn(l[0], 20, eps)
        want = exact_choices(P, k)
        got = [[e for e in range(E) if (plan.token[0, e] == s).any()] for s in range(S)]
        assert [sorted(c) for c in want] == got, f"{msg} S={S} E={E} eps={eps}"
        # Expert choice ranks the tokens of each column of P.
        ec = ref.expert_choice(l, 1, score=("sinkhorn", 20, eps))
        for e in range(E):
            best = sorted(range(S), key=lambda s: (-P[s][e], s))[0]
            assert ec.token[0, e, 0] == best, f"{msg} expert {e}"


def test_sigmoid_ranks_beyond_saturation():
    """sigmoid(40) and sigmoid(50) are both 1.0 in float64; exact arithmetic ranks 50 first."""
    l = np.array([[[40.0, 50.0, -3.0]]], dtype=np.float32)
    plan = ref.token_choice(l, 1, capacity=None, score="sigmoid")
    assert plan.token[0, 1, 0] == 0 and plan.token[0, 0, 0] == -1


def test_renormalize_never_divides_zero_by_zero():
    # f32 sigmoid(-89) is a denormal and sigmoid(-104) is 0; the weights are 1/2 each.
    l = np.array([[[-89, -89, -89], [-104, -104, -104]]], dtype=np.float32)
    plan = ref.token_choice(l, 2, capacity=None, score="sigmoid", renormalize=True)
    np.testing.assert_allclose(plan.weight[0, :2, :2], 0.5, rtol=1e-6)
    # Sinkhorn k = 1 balances the two tokens over the two experts (token 1 takes expert 1,
    # whose softmax gate underflows to 0); the renormalised weight is 1 for both.
    l = np.array([[[200, 0], [199, 0]]], dtype=np.float32)
    plan = ref.token_choice(l, 1, capacity=None, score=("sinkhorn", 20, 1.0), renormalize=True)
    assert plan.token[0, :, 0].tolist() == [0, 1]
    np.testing.assert_array_equal(plan.weight[0, :, 0], [1.0, 1.0])
