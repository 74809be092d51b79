#!/usr/bin/env python3
"""Random data and NumPy-reference outputs for a level-1 moe layer.

    python3 test/reference/make_example_data.py examples/L1.mlir --out-dir DIR
        [--seed N] [--scale S] [--route-only]

reads the layer with ``moe_ir`` and writes

    DIR/weights.safetensors      every weight argument, by tensor name
    DIR/inputs/<name>.npy        every input argument
    DIR/expected/<name>.npy      every result, computed by moe_reference.py

then prints a one-line summary.  With ``--route-only`` (sparse routers) the layer output is not
computed: ``expected/`` holds ``slot_token.npy`` (int64 [G, E, C], the token of each slot or
-1) and ``slot_weight.npy`` (float32 [G, E, C]), the plan that execution tests compare with
the compiled slot assignment, plus the results that need no expert (route_stats, logits,
dispatched slots).

The data is deterministic for a seed: each argument has its own stream,
``default_rng([seed, crc32(name)])``, drawn in float64 and cast to the argument's type.

- Tokens (the gate input): N(0, 1), clipped to +-4 and rounded to multiples of 2^-5.
- Plain gate weight [d, E]: N(0, S^2/d), so logits are about N(0, S^2) (S = --scale), clipped
  to +-4 std and rounded to a power-of-two grid chosen so that every product and every partial
  sum of the gate's dot products is a float32 integer multiple of the grid: the float32 logits
  are then exact whatever the summation order, and a compiled gate computes bit-identical
  logits.  The router's own float32 rounding (softmax, Sinkhorn) can still break a near-tie
  differently from float64: with BPR over the 1576 top-1 gates of L1, in about one seed in
  ten to twenty.
- Soft MoE: phi ~ N(0, 1) and scale = S * sqrt(d), so the logits are again about N(0, S^2).
- Experts: up ~ N(0, 1/d), down ~ N(0, 1/h), biases ~ N(0, 0.5^2): hidden and outputs O(1).
- Any other argument: N(0, 1).

The reference reads these float32 values, computes in float64 and returns float32 results
(int64 statistics), which are cast to the declared result types.
"""

from __future__ import annotations

import argparse
import math
import sys
import zlib
from pathlib import Path

import numpy as np

import moe_ir
import moe_reference as ref
from moe_ir import MoEFunction, MoEIRError
from safetensors_io import write_safetensors

__all__ = [
    "plan_capacity",
    "generate_arguments",
    "reference_plan",
    "reference_outputs",
    "write_example",
    "main",
]

TOKEN_STEP_BITS = 5  # tokens are multiples of 2^-5
GATE_STEPS_PER_STD_BITS = 7  # the gate weight grid has 2^7 steps per standard deviation
BIAS_STD = 0.5
_FLOAT_DTYPES = {"f16": np.float16, "f32": np.float32, "f64": np.float64}
_RESULT_DTYPES = {**_FLOAT_DTYPES, "i32": np.int32, "i64": np.int64}


# --------------------------------------------------------------------------------------------
# The router, as the reference runs it
# --------------------------------------------------------------------------------------------


def _score(score: moe_ir.Score):
    if score.kind == "sinkhorn":
        return ("sinkhorn", score.iterations, score.epsilon)
    if score.kind == "ksparse_ot":
        return ("ksparse_ot", score.iterations, score.learning_rate)
    return score.kind


def _capacity(router: moe_ir.Router, num_tokens: int, num_experts: int) -> int:
    """A fixed capacity, or docs/routers.md 2 from the capacity factor."""
    if router.capacity is not None:
        return router.capacity
    return ref.capacity(num_tokens, num_experts, router.capacity_factor, router.rounding,
                        router.multiple_of)


def plan_capacity(router: moe_ir.Router, tokens: int, experts: int) -> int:
    """The plan capacity C the router gives for S tokens and E experts (slots per expert)."""
    if router.kind == "soft":
        if router.slots_per_expert is not None:
            return router.slots_per_expert
        # docs/routers.md 4.5: p = round(S * cf / E), multiple 1.
        return ref.capacity(tokens, experts, router.capacity_factor, "round", 1)
    if router.kind in ("token_choice", "per_image") and not 1 <= router.k <= experts:
        raise MoEIRError(f"{router.kind}: k = {router.k} must be in [1, E = {experts}]")
    if router.kind == "token_choice":
        return tokens if router.dropless else _capacity(router, tokens * router.k, experts)
    if router.kind == "expert_choice":
        return _capacity(router, tokens, experts)
    t = router.tokens_per_item
    if tokens % t:
        raise MoEIRError(f"per_image: tokens_per_item = {t} does not divide S = {tokens}")
    if router.dropless:
        return tokens
    return _capacity(router, tokens // t * router.k, experts) * t


def _check(fn: MoEFunction) -> None:
    expected = plan_capacity(fn.router, fn.plan.tokens, fn.plan.experts)
    if expected != fn.plan.capacity:
        raise MoEIRError(f"@{fn.name}: the {fn.router.kind} router gives capacity {expected} "
                         f"for S = {fn.plan.tokens}, E = {fn.plan.experts}, but the plan type "
                         f"says capacity = {fn.plan.capacity}")
    for a in fn.arguments:
        if a.type.element not in _FLOAT_DTYPES:
            raise MoEIRError(f"@{fn.name}: argument {a.ssa} has element type {a.type.element}; "
                             f"only {', '.join(_FLOAT_DTYPES)} can be generated")
    for r in fn.results:
        if r.type.element not in _RESULT_DTYPES:
            raise MoEIRError(f"@{fn.name}: result #{r.index} has element type {r.type.element}; "
                             f"expected one of {', '.join(_RESULT_DTYPES)}")
    for what, items in (("input", fn.inputs), ("result", fn.results)):
        for item in items:
            if item.name in (".", "..") or any(c in item.name for c in "/\\\0"):
                raise MoEIRError(f"@{fn.name}: {what} name '{item.name}' cannot be a file name")


def reference_plan(fn: MoEFunction, logits):
    """The reference's plan (SlotPlan, or SoftPlan for the soft router) for float32 logits."""
    r, S, E = fn.router, fn.plan.tokens, fn.plan.experts
    if r.kind == "soft":
        return ref.soft_route(logits, E, fn.plan.capacity)
    if r.kind == "token_choice":
        return ref.token_choice(
            logits, r.k, capacity=None if r.dropless else _capacity(r, S * r.k, E),
            priority=r.priority, score=_score(r.score), renormalize=r.renormalize,
        )
    if r.kind == "expert_choice":
        return ref.expert_choice(logits, _capacity(r, S, E), score=_score(r.score))
    items = S // r.tokens_per_item
    return ref.per_image(logits, r.tokens_per_item, r.k, pooling=r.pooling,
                         capacity=None if r.dropless else _capacity(r, items * r.k, E))


# --------------------------------------------------------------------------------------------
# Random arguments
# --------------------------------------------------------------------------------------------


def _rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def _normal(rng: np.random.Generator, shape: tuple, std: float, dtype) -> np.ndarray:
    """N(0, std^2) drawn in float64 and cast to ``dtype``, one leading slice at a time (so
    that float64 memory stays small for expert weights)."""
    if len(shape) < 2:
        return (rng.standard_normal(shape) * std).astype(dtype)
    out = np.empty(shape, dtype=dtype)
    for i in range(shape[0]):
        out[i] = rng.standard_normal(shape[1:]) * std
    return out


def _on_grid(a: np.ndarray, bits: int) -> np.ndarray:
    return np.round(a * 2.0**bits) / 2.0**bits


def _gate_weight(rng, x: np.ndarray, shape: tuple, scale: float) -> np.ndarray:
    """[d, E] weights on a grid that makes every float32 partial sum of x @ w exact."""
    d = shape[0]
    std = scale / math.sqrt(d)
    w = np.clip(rng.standard_normal(shape) * std, -4 * std, 4 * std)
    bits = GATE_STEPS_PER_STD_BITS - math.floor(math.log2(std))
    # Every partial sum is an integer multiple of 2^-(x bits + w bits) bounded by
    # sum_i |x_i w_i|; exact in float32 while that integer stays below 2^24.
    abs_x = np.abs(x.reshape(-1, d).astype(np.float64))
    while True:
        wq = _on_grid(w, bits)
        bound = np.max(abs_x @ np.abs(wq), initial=0.0) * 2.0 ** (TOKEN_STEP_BITS + bits)
        if bound < 2.0**24:
            return wq
        bits -= 1


def generate_arguments(fn: MoEFunction, seed: int = 0, scale: float = 1.0) -> dict:
    """{tensor name: array} for every argument of ``fn``, in its declared element type."""
    _check(fn)
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    gate, experts = fn.gate, fn.experts
    d = gate.input.type.shape[-1]
    hidden = experts.down.type.shape[1]
    out = {}

    def dtype(arg):
        return _FLOAT_DTYPES[arg.type.element]

    def put(arg, values):
        out[arg.name] = np.asarray(values).astype(dtype(arg))

    # Tokens first: the plain gate weight's grid depends on them.
    for arg in (gate.input, fn.dispatch_input):
        if arg.name not in out:
            tokens = _normal(_rng(seed, arg.name), arg.type.shape, 1.0, np.float64)
            put(arg, _on_grid(np.clip(tokens, -4, 4), TOKEN_STEP_BITS))
    if gate.scale is None:
        put(gate.weight, _gate_weight(_rng(seed, gate.weight.name), out[gate.input.name],
                                      gate.weight.type.shape, scale))
    else:
        put(gate.weight, _normal(_rng(seed, gate.weight.name), gate.weight.type.shape, 1.0,
                                 dtype(gate.weight)))
        put(gate.scale, np.float64(scale * math.sqrt(d)))
    stds = {experts.up: 1 / math.sqrt(d), experts.down: 1 / math.sqrt(hidden),
            experts.up_bias: BIAS_STD, experts.down_bias: BIAS_STD}
    for arg in fn.arguments:
        if arg.name not in out:
            put(arg, _normal(_rng(seed, arg.name), arg.type.shape, stds.get(arg, 1.0),
                             dtype(arg)))
    return out


# --------------------------------------------------------------------------------------------
# Reference outputs
# --------------------------------------------------------------------------------------------


def _experts_mlp(fn: MoEFunction, slots: np.ndarray, arrays: dict) -> np.ndarray:
    """ref.experts_mlp, a few experts at a time so that float64 weights stay near 1 GiB."""
    e = fn.experts
    w1, w2 = arrays[e.up.name], arrays[e.down.name]
    b1 = arrays[e.up_bias.name] if e.up_bias else None
    b2 = arrays[e.down_bias.name] if e.down_bias else None
    step = max(1, 2**27 // (w1[0].size + w2[0].size))
    parts = [
        ref.experts_mlp(slots[i:i + step], w1[i:i + step], w2[i:i + step],
                        None if b1 is None else b1[i:i + step],
                        None if b2 is None else b2[i:i + step], e.activation)
        for i in range(0, w1.shape[0], step)
    ]
    return np.concatenate(parts)


def _route_stats_k(fn: MoEFunction):
    return None if fn.router.kind == "expert_choice" else fn.router.k


def reference_outputs(fn: MoEFunction, arrays: dict, route_only: bool = False) -> tuple:
    """({result name: array}, plan) computed by moe_reference from the argument arrays.

    ``route_only`` skips the experts: results that need them (the layer output, the expert
    output) are left out.
    """
    _check(fn)
    gate = fn.gate
    x = arrays[gate.input.name]
    if gate.scale is None:
        logits = ref.gate(x, arrays[gate.weight.name])
    else:
        logits = ref.soft_gate(x, arrays[gate.weight.name], arrays[gate.scale.name])
    plan = reference_plan(fn, logits)
    values = {"logits": logits}
    if fn.router.sparse:
        values["slot_token"], values["slot_weight"] = plan.token, plan.weight
    if fn.has_route_stats:
        values.update(ref.route_stats(logits, plan, k=_route_stats_k(fn)))
    wanted = {r.quantity for r in fn.results}
    needs_experts = not route_only and bool(wanted & {"expert_output", "output"})
    if needs_experts or "slots" in wanted:
        values["slots"] = ref.dispatch(arrays[fn.dispatch_input.name], plan)
    if needs_experts:
        values["expert_output"] = _experts_mlp(fn, values["slots"], arrays)
        values["output"] = ref.combine(values["expert_output"], plan)
    expected = {}
    for r in fn.results:
        if r.quantity in values:
            expected[r.name] = values[r.quantity].astype(_RESULT_DTYPES[r.type.element])
            assert expected[r.name].shape == r.type.shape, (r, expected[r.name].shape)
    return expected, plan


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def write_example(mlir_path, out_dir, seed: int = 0, scale: float = 1.0,
                  route_only: bool = False) -> str:
    """Writes weights, inputs and expected outputs of the layer in ``mlir_path`` to
    ``out_dir``; returns the one-line summary."""
    fn = moe_ir.parse_moe_file(mlir_path)
    if route_only and not fn.router.sparse:
        raise MoEIRError(f"@{fn.name}: --route-only needs a sparse router, not "
                         f"{fn.router.kind} (a soft plan has no slot assignment)")
    arrays = generate_arguments(fn, seed, scale)
    expected, plan = reference_outputs(fn, arrays, route_only)
    if route_only:
        clash = {r.name for r in fn.results
                 if r.name in ("slot_token", "slot_weight") and r.quantity != r.name}
        if clash:
            raise MoEIRError(f"@{fn.name}: a result is named '{sorted(clash)[0]}', which "
                             "--route-only writes the plan to")
        expected["slot_token"], expected["slot_weight"] = plan.token, plan.weight

    out_dir = Path(out_dir)
    (out_dir / "inputs").mkdir(parents=True, exist_ok=True)
    (out_dir / "expected").mkdir(parents=True, exist_ok=True)
    write_safetensors(
        out_dir / "weights.safetensors",
        {a.name: arrays[a.name] for a in fn.weights},
        metadata={"source": Path(mlir_path).name, "function": fn.name, "seed": seed,
                  "scale": scale},
    )
    for a in fn.inputs:
        np.save(out_dir / "inputs" / f"{a.name}.npy", arrays[a.name])
    for name, value in expected.items():
        np.save(out_dir / "expected" / f"{name}.npy", value)

    G, S, E, C = fn.plan.groups, fn.plan.tokens, fn.plan.experts, fn.plan.capacity
    routing = ""
    if fn.router.sparse:
        served = sum(np.unique(t[t >= 0]).size for t in plan.token)
        routing = (f"; {int((plan.token >= 0).sum())} slots filled, {G * S - served} tokens "
                   "dropped")
    skipped = [r.name for r in fn.results if r.name not in expected]
    return (
        f"@{fn.name} {fn.router.kind} G={G} S={S} E={E} C={C} seed={seed} scale={scale}: "
        f"{_count(len(fn.weights), 'weight')}, {_count(len(fn.inputs), 'input')}, "
        f"{len(expected)} expected"
        + (f" (skipped {', '.join(skipped)})" if skipped else "")
        + f"{routing} -> {out_dir}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Random weights and inputs for a level-1 moe layer, and the NumPy "
                    "reference's outputs for them.")
    parser.add_argument("mlir", help="a .mlir file with one func.func (moe level 1)")
    parser.add_argument("--out-dir", required=True,
                        help="writes weights.safetensors, inputs/*.npy, expected/*.npy here")
    parser.add_argument("--seed", type=int, default=0, help="random seed >= 0 (default 0)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="standard deviation of the router logits (default 1.0)")
    parser.add_argument("--route-only", action="store_true",
                        help="write the plan (expected/slot_token.npy, slot_weight.npy) and "
                             "skip the experts (sparse routers)")
    args = parser.parse_args(argv)
    try:
        print(write_example(args.mlir, args.out_dir, args.seed, args.scale, args.route_only))
    except (MoEIRError, ValueError, OSError) as e:
        print(f"make_example_data.py: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
