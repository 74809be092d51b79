"""Execution test of the region form of moe.experts, compiled for the CPU and
checked against a NumPy reference on fresh random inputs.

The router matrix (router_matrix.py) only executes the named MLP form. Here
each case is a small level-1 layer whose moe.experts has a region body that
depends on the expert index and on per-expert weights captured from above
(tensor.extract_slice of [E, ...] weights at the expert index, linalg.matmul,
elementwise linalg.generic). For each case the layer is written, random
weights and inputs are drawn (a new seed per run, printed, or --seed to
replay) and saved as weights.safetensors and inputs/x.npy, the expected output
is computed with moe_reference.py (router, dispatch, combine) and a NumPy
version of the body, the layer is compiled with moe-compile and run with
moe-run --check: fp32 output within 1e-4 relative error.

usage: region_experts.py --build BUILD_DIR --work DIR [--seed N] [--filter TEXT]
"""
import math
import os
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)

import case_driver  # noqa: E402
import moe_reference as ref  # noqa: E402
from safetensors_io import write_safetensors  # noqa: E402

# (name, router text, G, S, d, E, h, d_out, body, reference router). Shapes
# are not multiples of 4 or 8. The capacities are tight: token choice (C = 12
# for 74 assignments over 7 experts) drops assignments for every seed,
# sometimes a whole token; expert choice leaves a few tokens to no expert
# (their output is 0).
#
# Bodies (x: the expert's [M, d] slots, e: the expert index):
#   tanh_mlp:  (tanh(x w_up[e] + b_up[e]) * (1 + e/4)) w_down[e]        -> [M, d]
#   silu_proj: silu(x w_up[e] + b_up[e]) - e/2                         -> [M, d_out]
#   tanh_gate: tanh(x) * x, written as whole-tensor math/arith ops (the form of the
#              moe.experts documentation example)                      -> [M, d]
# The reference router takes logits [G, S, E] and returns (SlotPlan, C); it
# must be the router of the text (docs/routers.md 4.1 and 4.2).


def _tc_bpr(logits):
    _, s, e = logits.shape
    c = ref.capacity(s * 2, e, 1.0)
    return ref.token_choice(logits, 2, capacity=c, priority="bpr"), c


def _tc_top1(logits):
    _, s, e = logits.shape
    c = ref.capacity(s, e, 1.0, multiple_of=1)
    return ref.token_choice(logits, 1, capacity=c), c


def _ec_round(logits):
    _, s, e = logits.shape
    c = ref.capacity(s, e, 1.0, rounding="round", multiple_of=1)
    return ref.expert_choice(logits, c), c


CASES = [
    ("tc_bpr_region", "token_choice<k = 2, capacity_factor = 1.0, priority = bpr>",
     2, 37, 10, 7, 14, 10, "tanh_mlp", _tc_bpr),
    ("ec_region", "expert_choice<capacity_factor = 1.0, rounding = round, multiple_of = 1>",
     3, 23, 9, 4, 0, 7, "silu_proj", _ec_round),
    ("tc_tensor_ops_region", "token_choice<k = 1, capacity_factor = 1.0, multiple_of = 1>",
     1, 29, 6, 5, 0, 6, "tanh_gate", _tc_top1),
]

# Also run these through moe-run's JIT (the .mlir file directly).
JIT_CASES = ("tc_bpr_region",)

TOKEN_STEP_BITS = 5  # tokens are multiples of 2^-5 in [-4, 4]
GATE_BITS = 12  # gate weights are multiples of 2^-12


# --------------------------------------------------------------------------------------------
# The layers
# --------------------------------------------------------------------------------------------


def _elementwise(ins, out_type, rank_maps, body):
    """A linalg.generic over a 2-D iteration space; rank_maps: affine map results per input."""
    maps = ", ".join(f"affine_map<(i, j) -> ({m})>" for m in rank_maps + ["i, j"])
    args = ", ".join(f"%a{i}: f32" for i in range(len(ins))) + ", %o: f32"
    return [
        f"linalg.generic {{indexing_maps = [{maps}], iterator_types = [\"parallel\", \"parallel\"]}}",
        f"        ins({', '.join(v for v, _ in ins)} : {', '.join(t for _, t in ins)})",
        f"        outs(%empty_{out_type[1]} : {out_type[0]}) {{",
        f"    ^bb0({args}):",
        *[f"      {line}" for line in body],
        f"    }} -> {out_type[0]}",
    ]


def body_text(body, m, d, e, h, dout):
    """The region of moe.experts (without the braces) and the weight arguments it captures."""
    rows = f"tensor<{m}x{d}xf32>"
    lines = [f"  ^bb0(%e: index, %rows: {rows}):",
             "    %zero = arith.constant 0.0 : f32",
             "    %e_i64 = arith.index_cast %e : index to i64",
             "    %e_f32 = arith.sitofp %e_i64 : i64 to f32"]
    if body == "tanh_mlp":
        weights = [("w_up", f"tensor<{e}x{d}x{h}xf32>"), ("b_up", f"tensor<{e}x{h}xf32>"),
                   ("w_down", f"tensor<{e}x{h}x{d}xf32>")]
        mh, md = f"tensor<{m}x{h}xf32>", f"tensor<{m}x{d}xf32>"
        lines += [
            f"    %w1 = tensor.extract_slice %w_up[%e, 0, 0] [1, {d}, {h}] [1, 1, 1] : tensor<{e}x{d}x{h}xf32> to tensor<{d}x{h}xf32>",
            f"    %b1 = tensor.extract_slice %b_up[%e, 0] [1, {h}] [1, 1] : tensor<{e}x{h}xf32> to tensor<{h}xf32>",
            f"    %w2 = tensor.extract_slice %w_down[%e, 0, 0] [1, {h}, {d}] [1, 1, 1] : tensor<{e}x{h}x{d}xf32> to tensor<{h}x{d}xf32>",
            f"    %empty_h = tensor.empty() : {mh}",
            f"    %zh = linalg.fill ins(%zero : f32) outs(%empty_h : {mh}) -> {mh}",
            f"    %up = linalg.matmul ins(%rows, %w1 : {rows}, tensor<{d}x{h}xf32>) outs(%zh : {mh}) -> {mh}",
            "    %quarter = arith.constant 0.25 : f32",
            "    %one = arith.constant 1.0 : f32",
            "    %e_q = arith.mulf %e_f32, %quarter : f32",
            "    %scale = arith.addf %e_q, %one : f32",
            "    %act = " + "\n".join(_elementwise(
                [("%up", mh), ("%b1", f"tensor<{h}xf32>")], (mh, "h"), ["i, j", "j"],
                ["%s = arith.addf %a0, %a1 : f32", "%t = math.tanh %s : f32",
                 "%v = arith.mulf %t, %scale : f32", "linalg.yield %v : f32"])),
            f"    %empty_d = tensor.empty() : {md}",
            f"    %zd = linalg.fill ins(%zero : f32) outs(%empty_d : {md}) -> {md}",
            f"    %r = linalg.matmul ins(%act, %w2 : {mh}, tensor<{h}x{d}xf32>) outs(%zd : {md}) -> {md}",
            f"    moe.yield %r : {md}",
        ]
    elif body == "silu_proj":
        weights = [("w_up", f"tensor<{e}x{d}x{dout}xf32>"), ("b_up", f"tensor<{e}x{dout}xf32>")]
        mo = f"tensor<{m}x{dout}xf32>"
        lines += [
            f"    %w1 = tensor.extract_slice %w_up[%e, 0, 0] [1, {d}, {dout}] [1, 1, 1] : tensor<{e}x{d}x{dout}xf32> to tensor<{d}x{dout}xf32>",
            f"    %b1 = tensor.extract_slice %b_up[%e, 0] [1, {dout}] [1, 1] : tensor<{e}x{dout}xf32> to tensor<{dout}xf32>",
            f"    %empty_o = tensor.empty() : {mo}",
            f"    %zo = linalg.fill ins(%zero : f32) outs(%empty_o : {mo}) -> {mo}",
            f"    %up = linalg.matmul ins(%rows, %w1 : {rows}, tensor<{d}x{dout}xf32>) outs(%zo : {mo}) -> {mo}",
            "    %half = arith.constant 0.5 : f32",
            "    %one = arith.constant 1.0 : f32",
            "    %shift = arith.mulf %e_f32, %half : f32",
            "    %r = " + "\n".join(_elementwise(
                [("%up", mo), ("%b1", f"tensor<{dout}xf32>")], (mo, "o"), ["i, j", "j"],
                ["%z = arith.addf %a0, %a1 : f32", "%nz = arith.negf %z : f32",
                 "%ex = math.exp %nz : f32", "%den = arith.addf %ex, %one : f32",
                 "%silu = arith.divf %z, %den : f32", "%v = arith.subf %silu, %shift : f32",
                 "linalg.yield %v : f32"])),
            f"    moe.yield %r : {mo}",
        ]
    elif body == "tanh_gate":
        weights = []
        lines += [
            f"    %t = math.tanh %rows : {rows}",
            f"    %r = arith.mulf %t, %rows : {rows}",
            f"    moe.yield %r : {rows}",
        ]
    else:
        raise ValueError(f"unknown body {body!r}")
    return lines, weights


def layer_text(name, router_text, g, s, d, e, h, dout, body, c):
    """The layer of one case with plan capacity c; the signature style of router_matrix.py."""
    x, lg = f"tensor<{g}x{s}x{d}xf32>", f"tensor<{g}x{s}x{e}xf32>"
    out = f"tensor<{g}x{s}x{dout}xf32>"
    plan = f"!moe.plan<groups = {g}, tokens = {s}, experts = {e}, capacity = {c}>"
    m = g * c
    sl, yl = f"tensor<{e}x{m}x{d}xf32>", f"tensor<{e}x{m}x{dout}xf32>"
    region, weights = body_text(body, m, d, e, h, dout)
    args = [f'%x: {x} {{moe.input = "x"}}', f'%w_gate: tensor<{d}x{e}xf32> {{moe.weight = "w_gate"}}']
    args += [f'%{n}: {t} {{moe.weight = "{n}"}}' for n, t in weights]
    lines = [
        f"func.func @{name}({', '.join(args)})",
        f'    -> ({out} {{moe.output = "out"}}) {{',
        f"  %logits = moe.gate %x, %w_gate : {x}, tensor<{d}x{e}xf32> -> {lg}",
        f"  %plan = moe.route %logits {router_text} : {lg} -> {plan}",
        f"  %slots = moe.dispatch %x, %plan : {x}, {plan} -> {sl}",
        f"  %y = moe.experts %slots : ({sl}) -> {yl} {{",
        *region,
        "  }",
        f"  %out = moe.combine %y, %plan : {yl}, {plan} -> {out}",
        f"  return %out : {out}",
        "}",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Data and the reference
# --------------------------------------------------------------------------------------------


def _sigmoid(a):
    ex = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + ex), ex / (1.0 + ex))


def reference_body(body, slots, w):
    """NumPy version of a region body, per expert, in float64: [E, M, d] -> [E, M, d_out]."""
    out = []
    for i, rows in enumerate(slots.astype(np.float64)):
        if body == "tanh_mlp":
            up = rows @ w["w_up"][i].astype(np.float64) + w["b_up"][i].astype(np.float64)
            act = np.tanh(up) * (1.0 + 0.25 * i)
            out.append(act @ w["w_down"][i].astype(np.float64))
        elif body == "silu_proj":
            z = rows @ w["w_up"][i].astype(np.float64) + w["b_up"][i].astype(np.float64)
            out.append(z * _sigmoid(z) - 0.5 * i)
        elif body == "tanh_gate":
            out.append(np.tanh(rows) * rows)
        else:
            raise ValueError(f"unknown body {body!r}")
    return np.stack(out).astype(np.float32)


def draw(name, g, s, d, e, h, dout, body, seed):
    """(x, {weight name: array}) for a case: float32, deterministic for (seed, case name).

    Tokens are multiples of 2^-5 in [-4, 4] and gate weights multiples of 2^-12 in +-4 std,
    so that every partial sum of the gate's dot products is exact in float32: the compiled
    logits equal the reference's bit for bit, whatever the summation order.
    """
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    x = np.round(np.clip(rng.standard_normal((g, s, d)), -4, 4) * 2**TOKEN_STEP_BITS) / 2**TOKEN_STEP_BITS
    std = 1 / math.sqrt(d)
    w_gate = np.clip(rng.standard_normal((d, e)) * std, -4 * std, 4 * std)
    w_gate = np.round(w_gate * 2**GATE_BITS) / 2**GATE_BITS
    assert d * 4 * 4 * std * 2 ** (TOKEN_STEP_BITS + GATE_BITS) < 2**24
    weights = {"w_gate": w_gate}
    if body == "tanh_mlp":
        weights["w_up"] = rng.standard_normal((e, d, h)) / math.sqrt(d)
        weights["b_up"] = rng.standard_normal((e, h)) * 0.5
        weights["w_down"] = rng.standard_normal((e, h, d)) / math.sqrt(h)
    elif body == "silu_proj":
        weights["w_up"] = rng.standard_normal((e, d, dout)) / math.sqrt(d)
        weights["b_up"] = rng.standard_normal((e, dout)) * 0.5
    return x.astype(np.float32), {k: v.astype(np.float32) for k, v in weights.items()}


# --------------------------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------------------------


def run_case(case, build, work, seed):
    name, router_text, g, s, d, e, h, dout, body, reference_router = case
    x, weights = draw(name, g, s, d, e, h, dout, body, seed)
    logits = ref.gate(x, weights["w_gate"])
    plan, c = reference_router(logits)
    slots = ref.dispatch(x, plan)
    expected = ref.combine(reference_body(body, slots, weights), plan)

    case_dir = os.path.join(work, name)
    os.makedirs(os.path.join(case_dir, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(case_dir, "expected"), exist_ok=True)
    mlir = os.path.join(case_dir, f"{name}.mlir")
    with open(mlir, "w") as f:
        f.write(layer_text(name, router_text, g, s, d, e, h, dout, body, c))
    weights_path = os.path.join(case_dir, "weights.safetensors")
    write_safetensors(weights_path, weights, metadata={"case": name, "seed": seed})
    x_path = os.path.join(case_dir, "inputs", "x.npy")
    np.save(x_path, x)
    expected_path = os.path.join(case_dir, "expected", "out.npy")
    np.save(expected_path, expected)

    kept = plan.token >= 0
    served = sum(np.unique(t[t >= 0]).size for t in plan.token)
    summary = (f"C={c}: {int(kept.sum())} of {kept.size} slots filled, "
               f"{g * s - served} of {g * s} tokens served by no expert")
    so = os.path.join(case_dir, f"{name}.so")
    run_args = ["--weights", weights_path, "--inputs", f"x={x_path}",
                "--check", f"out={expected_path}"]
    ok, log = case_driver.compile_and_run(build, mlir, so, run_args, jit=name in JIT_CASES)
    return ok, f"{router_text}, body {body}; {summary}", log


if __name__ == "__main__":
    sys.exit(case_driver.main(CASES, run_case, "region_experts.py"))
