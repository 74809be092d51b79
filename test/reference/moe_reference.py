"""Independent NumPy reference implementation of the MoE routers of docs/routers.md.

Written from the routing semantics alone (never from the compiler's C++), so that execution
tests can compare compiled output against it.  Conventions:

* Inputs may be float32 (or anything array-like); everything is computed in float64 and the
  public functions return float32 arrays (index arrays are int64).
* Tensors are grouped: tokens ``[G, S, d]``, logits ``[G, S, E]``; each group is routed on its own.
* Inference mode only: no router noise, no training-only losses.
* Sparse plans use the capacity-padded layout of DESIGN.md: ``SlotPlan.token[g, e, c]`` is the
  token (index within group g) held by slot c of expert e, or -1 if the slot is empty, and
  ``SlotPlan.weight[g, e, c]`` its combine weight (0 for an empty slot).  After ``dispatch`` the
  slots of expert e are rows ``g*C + c`` of ``[E, G*C, d]``.
* Non-finite logits (docs/routers.md 7): a token whose logits hold a NaN or +Inf, or are -Inf
  everywhere, is invalid.  Every router runs on the group's valid tokens only, as if the
  others were absent; an invalid token holds no slot and its layer output is NaN
  (``SlotPlan.valid`` / ``SoftPlan.valid``).

Choices made where docs/routers.md is silent are listed in README.md next to this file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "capacity",
    "valid_tokens",
    "gate",
    "soft_gate",
    "SlotPlan",
    "SoftPlan",
    "token_choice",
    "expert_choice",
    "sinkhorn_plan",
    "ksparse_ot_plan",
    "soft_route",
    "per_image",
    "dispatch",
    "combine",
    "experts_mlp",
    "moe_layer",
    "route_stats",
]


# --------------------------------------------------------------------------------------------
# Plans
# --------------------------------------------------------------------------------------------


@dataclass
class SlotPlan:
    """A sparse routing plan in the capacity-padded ``[G, E, C]`` slot layout.

    token:      int64 [G, E, C]; token index within its group, -1 for an empty slot.
    weight:     float32 [G, E, C]; combine weight, 0 for an empty slot.
    num_tokens: S, tokens per group (needed by ``combine`` to size its output).
    valid:      bool [G, S]; the tokens the router routed (docs/routers.md 7), or None: all.
    """

    token: np.ndarray
    weight: np.ndarray
    num_tokens: int
    valid: np.ndarray | None = None

    def valid_mask(self) -> np.ndarray:
        if self.valid is None:
            return np.ones((self.num_groups, self.num_tokens), dtype=bool)
        return self.valid

    @property
    def num_groups(self) -> int:
        return self.token.shape[0]

    @property
    def num_experts(self) -> int:
        return self.token.shape[1]

    @property
    def capacity(self) -> int:
        return self.token.shape[2]


@dataclass
class SoftPlan:
    """A Soft MoE plan (docs/routers.md 4.5); slot index within the last axis is ``e*p + q``.

    dispatch: float32 [G, S, E*p]; softmax over the valid tokens (axis 1), 0 for the others.
    combine:  float32 [G, S, E*p]; softmax over slots (axis 2), NaN for invalid tokens.
    valid:    bool [G, S]; the valid tokens, or None: all.
    """

    dispatch: np.ndarray
    combine: np.ndarray
    num_experts: int
    slots_per_expert: int
    valid: np.ndarray | None = None


# --------------------------------------------------------------------------------------------
# Small numerical helpers (float64 in, float64 out)
# --------------------------------------------------------------------------------------------


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _softmax(a: np.ndarray, axis: int) -> np.ndarray:
    # Max-shifted; -inf entries (e.g. log(0) in fixtures) give exactly 0.
    z = np.exp(a - np.max(a, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def _sigmoid(a: np.ndarray) -> np.ndarray:
    # Written so that neither branch overflows: exp of a non-positive number only.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _log_sigmoid(a: np.ndarray) -> np.ndarray:
    """log sigmoid(a) = -log(1 + exp(-a)), stable for any a."""
    return np.minimum(a, 0.0) - np.log1p(np.exp(-np.abs(a)))


def valid_tokens(logits) -> np.ndarray:
    """bool [G, S]: the tokens a router routes (docs/routers.md 7).  A token is invalid when
    one of its logits is NaN or +Inf, or when all of them are -Inf (-Inf alone is a mask)."""
    l = _check_logits(logits)
    bad = np.isnan(l) | (l == np.inf)
    return ~bad.any(axis=2) & (l > -np.inf).any(axis=2)


_erf = np.frompyfunc(math.erf, 1, 1)


def _gelu(a: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), with libm's erf (double accuracy)."""
    return 0.5 * a * (1.0 + _erf(a / math.sqrt(2.0)).astype(np.float64))


def _gelu_tanh(a: np.ndarray) -> np.ndarray:
    """GELU's tanh approximation (JAX/Flax's default): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    return 0.5 * a * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (a + 0.044715 * a**3)))


def _silu(a: np.ndarray) -> np.ndarray:
    return a * _sigmoid(a)


def _descending_order(a: np.ndarray, axis: int) -> np.ndarray:
    """Indices sorting ``a`` descending along ``axis``; ties keep the lower index first."""
    return np.argsort(-a, axis=axis, kind="stable")


def _check_logits(logits) -> np.ndarray:
    l = _f64(logits)
    if l.ndim != 3:
        raise ValueError(f"logits must be [G, S, E], got shape {l.shape}")
    return l


def _check_capacity(c, name="capacity") -> int:
    if int(c) != c or c < 1:
        raise ValueError(f"{name} must be a positive integer, got {c!r}")
    return int(c)


# --------------------------------------------------------------------------------------------
# 2. Capacity
# --------------------------------------------------------------------------------------------


def capacity(num_tokens, num_experts, capacity_factor, rounding="ceil", multiple_of=4) -> int:
    """Slots per expert per group (docs/routers.md 2).

    ``num_tokens`` is S*k for token choice, S for expert choice and Soft MoE.  The raw value is
    computed in double precision in exactly the order ``num_tokens * cf / E``.
    """
    if num_experts < 1:
        raise ValueError(f"num_experts must be >= 1, got {num_experts}")
    if multiple_of < 1:
        raise ValueError(f"multiple_of must be >= 1, got {multiple_of}")
    raw = num_tokens * capacity_factor / num_experts
    if rounding == "ceil":
        c = math.ceil(raw)
    elif rounding == "round":
        c = round(raw)  # Python's round() is round-half-to-even
    else:
        raise ValueError(f"rounding must be 'ceil' or 'round', got {rounding!r}")
    if c < 1:
        raise ValueError(
            f"capacity {c} < 1 (num_tokens={num_tokens}, E={num_experts}, cf={capacity_factor})"
        )
    return -(-c // multiple_of) * multiple_of


# --------------------------------------------------------------------------------------------
# Gates
# --------------------------------------------------------------------------------------------


def gate(x, w) -> np.ndarray:
    """Router logits ``X W`` (no bias): x [G,S,d], w [d,E] -> [G,S,E]."""
    return np.einsum("gsd,de->gse", _f64(x), _f64(w)).astype(np.float32)


def soft_gate(x, phi, scale) -> np.ndarray:
    """Soft MoE logits (docs/routers.md 4.5): x [G,S,d], phi [d,E,p] -> L [G,S,E*p], slot e*p+q."""
    x = _f64(x)
    phi = _f64(phi)
    d, num_experts, p = phi.shape
    phi = phi.reshape(d, num_experts * p)  # column e*p + q is slot (e, q)
    xn = x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True) + 1e-6)
    phin = phi / np.sqrt(np.sum(phi * phi, axis=0, keepdims=True) + 1e-6)
    return (float(scale) * np.einsum("gsd,dk->gsk", xn, phin)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# 4.3 / 4.4 Transport plans
# --------------------------------------------------------------------------------------------


def _sinkhorn_log(l: np.ndarray, iterations: int, epsilon: float):
    """(log u [S], log K [S, E]) of the Sinkhorn plan of one group's valid tokens, float64.

    K = exp(l / eps), a = 1_S, b = (S/E) 1_E, v = 1, then exactly ``iterations`` times
    u = a / (K v); v = b / (K^T u), as log-sum-exps.  An expert no token can reach (its logits
    -Inf throughout) keeps v = 1: it gets no mass either way.
    """
    if iterations < 1:
        raise ValueError(f"sinkhorn iterations must be >= 1, got {iterations}")
    if not epsilon > 0:
        raise ValueError(f"sinkhorn epsilon must be > 0, got {epsilon}")
    num_tokens, num_experts = l.shape
    log_k = l / epsilon
    log_b = math.log(num_tokens / num_experts) if num_tokens else -math.inf
    log_v = np.zeros(num_experts)
    log_u = np.zeros(num_tokens)
    with np.errstate(invalid="ignore", divide="ignore"):
        for _ in range(iterations):
            log_u = -_logsumexp_safe(log_k + log_v[None, :], axis=1)
            column = _logsumexp_safe(log_k + log_u[:, None], axis=0)
            log_v = np.where(column == -np.inf, 0.0, log_b - column)
    return log_u, log_k, log_v


def _logsumexp_safe(a: np.ndarray, axis: int) -> np.ndarray:
    """log sum exp along ``axis``; -inf for an empty or all -inf slice."""
    if a.shape[axis] == 0:
        return np.full(np.delete(a.shape, axis), -np.inf)
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(m == -np.inf, 0.0, m)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def sinkhorn_plan(logits_2d, iterations, epsilon) -> np.ndarray:
    """Entropic OT plan of docs/routers.md 4.3 for one group: logits [S,E] -> P [S,E].

    Exactly ``iterations`` (u, v) updates from v = 1, with a = 1_S and b = (S/E) 1_E, over the
    valid tokens (invalid rows are 0).  Computed in log space, so logits of any magnitude (e.g.
    +-1e4) do not overflow.
    """
    l = _f64(logits_2d)
    valid = valid_tokens(l[None])[0]
    log_u, log_k, log_v = _sinkhorn_log(l[valid], int(iterations), float(epsilon))
    P = np.zeros_like(l)
    with np.errstate(invalid="ignore"):
        P[valid] = np.exp(log_u[:, None] + log_k + log_v[None, :])
    return np.nan_to_num(P, nan=0.0).astype(np.float32)


def _sinkhorn_token_scores(l: np.ndarray, iterations: int, epsilon: float) -> np.ndarray:
    """[Sv, E] ranking scores of Sinkhorn token choice for one group's valid tokens.

    Every iteration ends with the v update, so each column of P sums to b exactly and
    P[s,e] = b / (1 + R[s,e]) with R[s,e] = sum_{s' != s} exp(x[s',e] - x[s,e]),
    x = log u + l / eps.  The score is -log R (pairwise differences, float64): it ranks P
    exactly as exact arithmetic does, ties included (an empty sum: +inf).
    """
    log_u, log_k, _ = _sinkhorn_log(l, iterations, epsilon)
    x = log_u[:, None] + log_k  # [Sv, E]
    n = x.shape[0]
    with np.errstate(invalid="ignore"):
        diff = x[None, :, :] - x[:, None, :]  # diff[s, s', e] = x[s', e] - x[s, e]
    diff[np.arange(n), np.arange(n), :] = -np.inf  # leave s itself out
    diff = np.where(np.isnan(diff), -np.inf, diff)
    log_r = _logsumexp_safe(diff, axis=1)
    return np.where(x == -np.inf, -np.inf, -log_r)


def _sinkhorn_expert_scores(l: np.ndarray, iterations: int, epsilon: float) -> np.ndarray:
    """[Sv, E] ranking scores of Sinkhorn expert choice: log u_s + l[s,e] / eps, which ranks a
    column of P (b and v are constant along it)."""
    log_u, log_k, _ = _sinkhorn_log(l, iterations, epsilon)
    return log_u[:, None] + log_k


def _project_sparse_simplex(v: np.ndarray, c: int) -> np.ndarray:
    """Column-wise projection of v [S,E] onto the c-sparse probability simplex.

    Per column: keep the c largest entries (ties -> lower token index), project them onto the
    probability simplex with the sort-based algorithm (Held et al. / Duchi et al.), zero the rest.
    """
    num_tokens = v.shape[0]
    c = min(c, num_tokens)
    keep = _descending_order(v, axis=0)[:c]  # [c, E]; rows already sorted descending
    u = np.take_along_axis(v, keep, axis=0)
    # rho = the largest j (1-based) with u_j - (sum_{i<=j} u_i - 1) / j > 0; j = 1 always holds.
    cssv = np.cumsum(u, axis=0) - 1.0
    j = np.arange(1, c + 1, dtype=np.float64)[:, None]
    rho = np.sum(u - cssv / j > 0, axis=0)  # condition holds on a prefix, so count = rho
    theta = np.take_along_axis(cssv, (rho - 1)[None, :], axis=0) / rho
    out = np.zeros_like(v)
    np.put_along_axis(out, keep, np.maximum(u - theta, 0.0), axis=0)
    return out


def _ksparse_ot_f64(l: np.ndarray, c: int, iterations: int, learning_rate: float) -> np.ndarray:
    """k-sparse OT plan for one group, float64 (see ``ksparse_ot_plan``)."""
    if iterations < 0:
        raise ValueError(f"ksparse_ot iterations must be >= 0, got {iterations}")
    c = _check_capacity(c)
    num_tokens, num_experts = l.shape
    if num_tokens == 0:
        return np.zeros_like(l)
    gamma = 1.0
    b = num_tokens / num_experts  # b_e, identical for every expert
    sim = _softmax(l, axis=1)  # cost = -sim
    beta1, beta2, adam_eps = 0.9, 0.999, 1e-8

    def best_response(alpha):
        # p*_e = proj_C((alpha - cost[:, e]) / (gamma * b_e)), all experts at once
        return _project_sparse_simplex((alpha[:, None] + sim) / (gamma * b), c)

    alpha = np.zeros(num_tokens)
    m = np.zeros(num_tokens)
    s = np.zeros(num_tokens)
    for t in range(1, iterations + 1):
        grad = b * np.sum(best_response(alpha), axis=1) - 1.0  # sum_e b_e p*_e - a
        m = beta1 * m + (1.0 - beta1) * grad
        s = beta2 * s + (1.0 - beta2) * grad * grad
        m_hat = m / (1.0 - beta1**t)
        s_hat = s / (1.0 - beta2**t)
        alpha = alpha - learning_rate * m_hat / (np.sqrt(s_hat) + adam_eps)
    return b * best_response(alpha)


def ksparse_ot_plan(logits_2d, capacity, iterations, learning_rate) -> np.ndarray:
    """Sparsity-constrained OT plan of docs/routers.md 4.4 for one group: logits [S,E] -> P [S,E].

    Semi-dual over token potentials alpha (start 0), ``iterations`` bias-corrected Adam steps
    (betas 0.9/0.999, eps 1e-8), gamma = 1, over the valid tokens (invalid rows are 0).  Each
    column of P has at most ``capacity`` non-zeros and sums to S_valid/E.
    """
    l = _f64(logits_2d)
    valid = valid_tokens(l[None])[0]
    P = np.zeros_like(l)
    P[valid] = _ksparse_ot_f64(l[valid], capacity, int(iterations), float(learning_rate))
    return P.astype(np.float32)


# --------------------------------------------------------------------------------------------
# 4.1 Token choice
# --------------------------------------------------------------------------------------------


def _token_scores(l: np.ndarray, score, valid: np.ndarray):
    """(selection scores, combine weights, log weights) [G,S,E] for a token-choice ``score``;
    the rows of invalid tokens are meaningless (those tokens take no slot).

    The selection scores rank the experts of a token as exact arithmetic ranks the score:
    softmax gates, the logits for the sigmoid (it increases with them, and float64 sigmoid
    values saturate to 1.0 past |l| ~ 37), the Sinkhorn ranking -log R.  The log weights give
    renormalised weights as exp(log w_i - logsumexp_j log w_j), which cannot be 0/0.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        if score == "softmax":
            p = _softmax(l, axis=2)
            return p, p, l
        if score == "sigmoid":
            return l, _sigmoid(l), _log_sigmoid(l)
        if score == "given":
            with np.errstate(divide="ignore"):
                return l, l, np.log(l)
        if isinstance(score, tuple) and len(score) == 3 and score[0] == "sinkhorn":
            _, iterations, epsilon = score
            ranks = np.full_like(l, -np.inf)
            for g in range(l.shape[0]):
                ranks[g, valid[g]] = _sinkhorn_token_scores(
                    l[g, valid[g]], int(iterations), float(epsilon))
            return ranks, _softmax(l, axis=2), l
    raise ValueError(f"unknown token-choice score {score!r}")


def _occurrence_rank(keys: np.ndarray) -> np.ndarray:
    """For each position i, the number of j < i with keys[j] == keys[i]."""
    n = keys.shape[0]
    by_key = np.argsort(keys, kind="stable")  # equal keys stay in sequence order
    sorted_keys = keys[by_key]
    run_start = np.r_[0, np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1]
    run_len = np.diff(np.r_[run_start, n])
    rank = np.empty(n, dtype=np.int64)
    rank[by_key] = np.arange(n) - np.repeat(run_start, run_len)
    return rank


def token_choice(
    logits, k, capacity=None, priority="position", score="softmax", renormalize=False
) -> SlotPlan:
    """Token-choice routing (docs/routers.md 4.1, and 4.3 with a Sinkhorn score).

    logits:      [G, S, E] router logits.
    k:           experts per token (distinct experts, 1 <= k <= E).
    capacity:    slots per expert per group (an int, e.g. from ``capacity(S*k, E, cf)``), or
                 None for dropless: C = S, every assignment is kept.
    priority:    "position" (token order) or "bpr" (stable argsort of -top-1 score).
    score:       "softmax" (gates = softmax(logits)); "sigmoid" (scores = weights = sigmoid);
                 ("sinkhorn", iterations, epsilon) (top-k and BPR on the Sinkhorn plan P,
                 combine weights softmax(logits)); or "given": ``logits`` already holds the
                 scores, used for selection and as weights unchanged (spec fixtures).
    renormalize: divide each token's k selected weights by their sum (dropped ones included).

    Fill order: every token's r-th choice before anyone's (r+1)-th; within a round tokens in
    priority order; slot c of expert e is the c-th assignment to e in that order.
    """
    l = _check_logits(logits)
    num_groups, num_tokens, num_experts = l.shape
    if int(k) != k or not 1 <= k <= num_experts:
        raise ValueError(f"k must be an integer in [1, E={num_experts}], got {k!r}")
    k = int(k)
    cap = num_tokens if capacity is None else _check_capacity(capacity)
    if priority not in ("position", "bpr"):
        raise ValueError(f"priority must be 'position' or 'bpr', got {priority!r}")

    valid = valid_tokens(l)
    scores, weights, log_weights = _token_scores(l, score, valid)
    choice = _descending_order(scores, axis=2)[:, :, :k]  # [G,S,k]; ties -> lower expert
    w = np.take_along_axis(weights, choice, axis=2)  # [G,S,k]
    if renormalize:
        chosen = np.take_along_axis(log_weights, choice, axis=2)
        with np.errstate(invalid="ignore"):
            w = np.exp(chosen - _logsumexp_safe(chosen, axis=2)[..., None])

    token = np.full((num_groups, num_experts, cap), -1, dtype=np.int64)
    weight = np.zeros((num_groups, num_experts, cap), dtype=np.float32)
    for g in range(num_groups):
        if priority == "bpr":
            top1 = np.take_along_axis(scores[g], choice[g, :, :1], axis=1)[:, 0]
            order = _descending_order(top1, axis=0)  # stable: ties keep token order
        else:
            order = np.arange(num_tokens)
        order = order[valid[g, order]]  # invalid tokens take no slot
        # The fill sequence: round r = 0..k-1, and within a round the tokens in `order`.
        seq_token = np.tile(order, k)
        seq_round = np.repeat(np.arange(k), order.size)
        seq_expert = choice[g, seq_token, seq_round]
        pos = _occurrence_rank(seq_expert)  # fill[e]++ of the spec's loop
        kept = pos < cap
        token[g, seq_expert[kept], pos[kept]] = seq_token[kept]
        weight[g, seq_expert[kept], pos[kept]] = w[g, seq_token[kept], seq_round[kept]]
    return SlotPlan(token=token, weight=weight, num_tokens=num_tokens, valid=valid)


# --------------------------------------------------------------------------------------------
# 4.2 Expert choice
# --------------------------------------------------------------------------------------------


def expert_choice(logits, capacity, score="softmax") -> SlotPlan:
    """Expert-choice routing (docs/routers.md 4.2; 4.3 and 4.4 with transport-plan scores).

    logits:   [G, S, E].
    capacity: C, tokens per expert per group (e.g. ``capacity(S, E, cf)``).  If C > S the
              slots past S stay empty.
    score:    "softmax"; ("sinkhorn", iterations, epsilon); ("ksparse_ot", iterations,
              learning_rate) (its sparsity C is ``capacity``); or "given" (``logits`` already
              holds the scores, also used as weights; spec fixtures).

    Per expert: the top-C tokens of its score column, descending, ties -> lower token index;
    slot c holds the c-th best.  Combine weight: softmax(logits)[s, e] (the score for "given").
    """
    l = _check_logits(logits)
    num_groups, num_tokens, num_experts = l.shape
    cap = _check_capacity(capacity)
    valid = valid_tokens(l)

    with np.errstate(invalid="ignore", over="ignore"):
        weights = l if score == "given" else _softmax(l, axis=2)
    # Per group, the scores of the valid tokens only (the plans couple tokens).
    scores = np.full_like(l, np.nan)
    for g in range(num_groups):
        lv = l[g, valid[g]]
        if score in ("given", "softmax"):
            sg = weights[g, valid[g]]
        elif isinstance(score, tuple) and len(score) == 3 and score[0] == "sinkhorn":
            _, iterations, epsilon = score
            sg = _sinkhorn_expert_scores(lv, int(iterations), float(epsilon))
        elif isinstance(score, tuple) and len(score) == 3 and score[0] == "ksparse_ot":
            _, iterations, learning_rate = score
            sg = _ksparse_ot_f64(lv, cap, int(iterations), float(learning_rate))
        else:
            raise ValueError(f"unknown expert-choice score {score!r}")
        scores[g, valid[g]] = sg

    token = np.full((num_groups, num_experts, cap), -1, dtype=np.int64)
    weight = np.zeros((num_groups, num_experts, cap), dtype=np.float32)
    for g in range(num_groups):
        # Each expert's top-C valid tokens; fewer valid tokens than C leave slots empty.
        filled = min(cap, int(valid[g].sum()))
        order = np.flatnonzero(valid[g])
        best = order[_descending_order(scores[g, order], axis=0)[:filled]]  # [filled, E]
        token[g, :, :filled] = best.T
        weight[g, :, :filled] = np.take_along_axis(weights[g], best, axis=0).T
    return SlotPlan(token=token, weight=weight, num_tokens=num_tokens, valid=valid)


# --------------------------------------------------------------------------------------------
# 4.5 Soft MoE
# --------------------------------------------------------------------------------------------


def soft_route(L, num_experts, slots_per_expert) -> SoftPlan:
    """Soft MoE plan from logits L [G, S, E*p] (slot index e*p + q), docs/routers.md 4.5."""
    l = _check_logits(L)
    if l.shape[2] != num_experts * slots_per_expert:
        raise ValueError(
            f"L has {l.shape[2]} slots, expected E*p = {num_experts}*{slots_per_expert}"
        )
    valid = valid_tokens(l)
    dispatch = np.zeros_like(l)
    with np.errstate(invalid="ignore", over="ignore"):
        combine = _softmax(l, axis=2)  # over slots, per token
        for g in range(l.shape[0]):
            if valid[g].any():  # over the group's valid tokens, per slot
                dispatch[g, valid[g]] = _softmax(l[g, valid[g]], axis=0)
    combine[~valid] = np.nan
    return SoftPlan(
        dispatch=dispatch.astype(np.float32),
        combine=combine.astype(np.float32),
        num_experts=int(num_experts),
        slots_per_expert=int(slots_per_expert),
        valid=valid,
    )


# --------------------------------------------------------------------------------------------
# 4.6 Per-image routing
# --------------------------------------------------------------------------------------------


def per_image(logits, tokens_per_item, k, pooling="cls", capacity=None) -> SlotPlan:
    """Per-image (per-item) routing, docs/routers.md 4.6.

    Items are consecutive runs of ``tokens_per_item`` (T) tokens of a group.  One softmax
    token-choice decision per item (k choices, position priority, no renormalisation) on pooled
    logits: "cls" = the item's first token's logits, "mean" = the mean of its tokens' logits
    (= the logits of the mean token, the gate being linear).  ``capacity`` counts items
    (None = dropless).  The returned token-level plan has C = C_items * T: item slot c of
    expert e becomes token slots c*T .. c*T+T-1, holding the item's tokens in order, each with
    the item's gate weight.  An item with an invalid token, or whose pooled logits are invalid,
    is invalid as a whole (docs/routers.md 7).
    """
    l = _check_logits(logits)
    num_groups, num_tokens, num_experts = l.shape
    t = int(tokens_per_item)
    if t < 1 or num_tokens % t:
        raise ValueError(f"tokens_per_item={tokens_per_item} must divide S={num_tokens}")
    items = l.reshape(num_groups, num_tokens // t, t, num_experts)
    if pooling == "cls":
        pooled = items[:, :, 0, :]
    elif pooling == "mean":
        pooled = items.mean(axis=2)
    else:
        raise ValueError(f"pooling must be 'cls' or 'mean', got {pooling!r}")

    token_ok = valid_tokens(l).reshape(num_groups, num_tokens // t, t).all(axis=2)
    pooled = np.where(token_ok[..., None], pooled, np.nan)
    item_plan = token_choice(pooled, k, capacity=capacity)
    item = item_plan.token[..., None]  # [G, E, C_items, 1]
    offsets = np.arange(t)
    token = np.where(item >= 0, item * t + offsets, -1)
    weight = np.broadcast_to(item_plan.weight[..., None], token.shape)
    shape = (num_groups, num_experts, item_plan.capacity * t)
    return SlotPlan(
        token=token.reshape(shape).astype(np.int64),
        weight=weight.reshape(shape).astype(np.float32),
        num_tokens=num_tokens,
        valid=np.repeat(item_plan.valid_mask(), t, axis=1),
    )


# --------------------------------------------------------------------------------------------
# Dispatch, experts, combine
# --------------------------------------------------------------------------------------------


def dispatch(x, plan) -> np.ndarray:
    """Tokens -> expert slots: x [G,S,d] -> [E, G*C, d] (row g*C + c of expert e).

    SlotPlan: a slot's row is its token's row, or zeros for an empty slot.
    SoftPlan: X~[e, g*p + q] = sum_s D[g, s, e*p + q] X[g, s]  (C = p).
    """
    x = _f64(x)
    num_groups, num_tokens, d = x.shape
    if isinstance(plan, SoftPlan):
        if plan.valid is not None:  # invalid tokens' features are left out (may be NaN)
            x = np.where(plan.valid[..., None], x, 0.0)
        slots = np.einsum("gsk,gsd->gkd", _f64(plan.dispatch), x)  # [G, E*p, d]
        num_experts, p = plan.num_experts, plan.slots_per_expert
        slots = slots.reshape(num_groups, num_experts, p, d)
    else:
        if plan.token.shape[0] != num_groups or plan.num_tokens != num_tokens:
            raise ValueError("plan does not match x's groups/tokens")
        num_experts, p = plan.num_experts, plan.capacity
        g_idx = np.arange(num_groups)[:, None, None]
        slots = x[g_idx, np.maximum(plan.token, 0)]  # [G, E, C, d]
        slots = np.where((plan.token >= 0)[..., None], slots, 0.0)
    return slots.transpose(1, 0, 2, 3).reshape(num_experts, num_groups * p, d).astype(np.float32)


def combine(y, plan) -> np.ndarray:
    """Expert slots -> tokens: y [E, G*C, dout] -> [G, S, dout].

    SlotPlan: Y[g, s] = sum over kept slots (e, c) holding s of weight * y[e, g*C + c],
    accumulated in float64 in (e, c) order; a token with no kept slot gets 0, an invalid
    token NaN (docs/routers.md 7).
    SoftPlan: Y[g, s] = sum_{e,q} W[g, s, e*p + q] y[e, g*p + q].
    """
    y = _f64(y)
    num_experts, rows, dout = y.shape
    if isinstance(plan, SoftPlan):
        p = plan.slots_per_expert
        num_groups = plan.combine.shape[0]
        if num_experts != plan.num_experts or rows != num_groups * p:
            raise ValueError(f"y shape {y.shape} does not match the soft plan")
        slots = y.reshape(num_experts, num_groups, p, dout).transpose(1, 0, 2, 3)
        slots = slots.reshape(num_groups, num_experts * p, dout)
        return np.einsum("gsk,gkd->gsd", _f64(plan.combine), slots).astype(np.float32)

    num_groups, cap = plan.num_groups, plan.capacity
    if num_experts != plan.num_experts or rows != num_groups * cap:
        raise ValueError(f"y shape {y.shape} does not match the slot plan")
    slots = y.reshape(num_experts, num_groups, cap, dout).transpose(1, 0, 2, 3)  # [G,E,C,dout]
    out = np.zeros((num_groups, plan.num_tokens, dout))
    g, e, c = np.nonzero(plan.token >= 0)  # row-major: per group, (e, c) ascending
    contrib = _f64(plan.weight)[g, e, c][:, None] * slots[g, e, c]
    np.add.at(out, (g, plan.token[g, e, c]), contrib)  # unbuffered, applied in index order
    out[~plan.valid_mask()] = np.nan
    return out.astype(np.float32)


def experts_mlp(xs, w1, w2, b1=None, b2=None, activation="gelu") -> np.ndarray:
    """Per-expert MLP: xs [E,M,d] -> [E,M,dout].

    w1 [E,d,h] (swiglu: [E,d,2h]; columns [0,h) are the gate branch through silu, [h,2h) the
    linear branch), w2 [E,h,dout], b1 [E,h] or [E,2h], b2 [E,dout].  gelu is the exact erf form,
    gelu_tanh its tanh approximation.
    """
    hidden = np.einsum("emd,edh->emh", _f64(xs), _f64(w1))
    if b1 is not None:
        hidden = hidden + _f64(b1)[:, None, :]
    if activation == "gelu":
        hidden = _gelu(hidden)
    elif activation == "gelu_tanh":
        hidden = _gelu_tanh(hidden)
    elif activation == "relu":
        hidden = np.maximum(hidden, 0.0)
    elif activation == "silu":
        hidden = _silu(hidden)
    elif activation == "swiglu":
        h = hidden.shape[2] // 2
        hidden = _silu(hidden[..., :h]) * hidden[..., h:]
    else:
        raise ValueError(f"unknown activation {activation!r}")
    out = np.einsum("emh,eho->emo", hidden, _f64(w2))
    if b2 is not None:
        out = out + _f64(b2)[:, None, :]
    return out.astype(np.float32)


def moe_layer(x, plan, w1, w2, b1=None, b2=None, activation="gelu") -> np.ndarray:
    """dispatch -> experts_mlp -> combine: the MoE layer output for x [G,S,d] (no residual)."""
    slots = dispatch(x, plan)
    return combine(experts_mlp(slots, w1, w2, b1, b2, activation), plan)


# --------------------------------------------------------------------------------------------
# 5. Statistics
# --------------------------------------------------------------------------------------------


def route_stats(logits, plan: SlotPlan, k=None) -> dict:
    """Per-group routing statistics for a sparse plan (docs/routers.md 5), over the plan's
    valid tokens (docs/routers.md 7).

    importance_loss     float32 [G]: CV(Imp)^2, Imp_e = sum_s softmax(logits)[s, e], population std.
    expert_load         int64 [G, E]: kept slots per expert.
    dropped_assignments int64 [G]: k*S_valid - kept slots for token choice (pass k); 0 when k
                        is None.
    dropped_tokens      int64 [G]: valid tokens held by no slot (token choice: all k choices
                        dropped).
    invalid_tokens      int64 [G]: tokens the router did not route.
    """
    if not isinstance(plan, SlotPlan):
        raise TypeError("route_stats needs a SlotPlan")
    l = _check_logits(logits)
    valid = plan.valid_mask()
    with np.errstate(invalid="ignore", over="ignore"):
        gates = np.where(valid[..., None], _softmax(l, axis=2), 0.0)
    imp = np.sum(gates, axis=1)  # [G, E]
    with np.errstate(invalid="ignore", divide="ignore"):
        importance_loss = np.var(imp, axis=1) / np.mean(imp, axis=1) ** 2

    kept = plan.token >= 0
    expert_load = kept.sum(axis=2).astype(np.int64)
    num_valid = valid.sum(axis=1)
    if k is None:
        dropped_assignments = np.zeros(plan.num_groups, dtype=np.int64)
    else:
        dropped_assignments = (int(k) * num_valid - expert_load.sum(axis=1)).astype(np.int64)
    served = np.zeros((plan.num_groups, plan.num_tokens), dtype=bool)
    g, e, c = np.nonzero(kept)
    served[g, plan.token[g, e, c]] = True
    dropped_tokens = (num_valid - served.sum(axis=1)).astype(np.int64)
    return {
        "importance_loss": importance_loss.astype(np.float32),
        "expert_load": expert_load,
        "dropped_assignments": dropped_assignments,
        "dropped_tokens": dropped_tokens,
        "invalid_tokens": (plan.num_tokens - num_valid).astype(np.int64),
    }
