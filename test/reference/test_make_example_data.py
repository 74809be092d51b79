"""Tests of moe_ir.py (reading level-1 layers) and make_example_data.py (data + reference).

The examples/L*.mlir layers are only parsed here (their reference outputs take seconds to
minutes); data generation and the reference outputs are tested end to end on small synthetic
layers with G = 2, written below, against moe_reference called directly.
"""

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import make_example_data as med
import moe_ir
import moe_reference as ref
from moe_ir import MoEIRError, Router, Score
from safetensors_io import read_safetensors, write_safetensors

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent.parent / "examples"
STAT_NAMES = ("imp", "load", "dropped_a", "dropped_t")


# --------------------------------------------------------------------------------------------
# IR helpers
# --------------------------------------------------------------------------------------------


def strip_names(text):
    """The IR without moe.input / moe.weight / moe.output attributes."""
    return re.sub(r'\s*\{moe\.(?:input|weight|output)\s*=\s*"[^"]*"\}', "", text)


def annotate(text):
    """Names every argument and result with attributes that differ from the SSA names:
    the first argument is input "tokens", the others weights "layer.<ssa>"; results are
    "y" then STAT_NAMES."""
    text = strip_names(text)
    head_end = re.search(r"^\s*%\w+ = moe\.", text, re.M).start()
    head, body = text[:head_end], text[head_end:]
    arrow = head.index("->")
    args, results = head[:arrow], head[arrow:]
    first = [True]

    def name_arg(m):
        attr = 'moe.input = "tokens"' if first[0] else f'moe.weight = "layer.{m.group(1)}"'
        first[0] = False
        return f"{m.group(0)} {{{attr}}}"

    args = re.sub(r"%(\w+): tensor<[^>]*>", name_arg, args)
    names = iter(("y",) + STAT_NAMES)
    results = re.sub(r"tensor<[^>]*>", lambda m: f'{m.group(0)} {{moe.output = "{next(names)}"}}',
                     results)
    return args + results + body


def layer_ir(router, C, *, G=2, S=12, d=8, E=4, h=16, act="gelu", biases=True, stats=True,
             soft_p=None, d_out=None):
    """A small level-1 layer with the attribute names of the examples."""
    d_out = d_out or d
    up = 2 * h if act == "swiglu" else h
    plan = f"!moe.plan<groups = {G}, tokens = {S}, experts = {E}, capacity = {C}>"
    x_t, slots_t = f"tensor<{G}x{S}x{d}xf32>", f"tensor<{E}x{G * C}x{d}xf32>"
    y_t, out_t = f"tensor<{E}x{G * C}x{d_out}xf32>", f"tensor<{G}x{S}x{d_out}xf32>"
    w = {"x": x_t, "w_up": f"tensor<{E}x{d}x{up}xf32>", "w_down": f"tensor<{E}x{h}x{d_out}xf32>"}
    if soft_p:
        w["phi"], w["scale"] = f"tensor<{d}x{E}x{soft_p}xf32>", "tensor<f32>"
        logits_t = f"tensor<{G}x{S}x{E * soft_p}xf32>"
        gate = (f"%logits = moe.gate %x, %phi scale %scale : {x_t}, {w['phi']}, tensor<f32> "
                f"-> {logits_t}")
        stats = False
    else:
        w["w_gate"] = f"tensor<{d}x{E}xf32>"
        logits_t = f"tensor<{G}x{S}x{E}xf32>"
        gate = f"%logits = moe.gate %x, %w_gate : {x_t}, {w['w_gate']} -> {logits_t}"
    if biases:
        w["b_up"], w["b_down"] = f"tensor<{E}x{up}xf32>", f"tensor<{E}x{d_out}xf32>"
    order = ["x", "w_gate", "phi", "scale", "w_up", "b_up", "w_down", "b_down"]
    args = ",\n    ".join(
        f'%{n}: {w[n]} {{moe.{"input" if n == "x" else "weight"} = "{n}"}}' for n in order if n in w
    )
    mlp = "up %w_up" + (" up_bias %b_up" if biases else "") + " down %w_down"
    mlp += " down_bias %b_down" if biases else ""
    mlp_types = ", ".join(w[n] for n in ("w_up", "b_up", "w_down", "b_down") if n in w)
    res_types = [out_t]
    res_names = ["out"]
    lines = [
        gate,
        f"%plan = moe.route %logits {router}\n      : {logits_t} -> {plan}",
        f"%slots = moe.dispatch %x, %plan : {x_t}, {plan} -> {slots_t}",
        f"%y = moe.experts %slots mlp({act}) {mlp}\n      : ({slots_t}, {mlp_types}) -> {y_t}",
        f"%out = moe.combine %y, %plan : {y_t}, {plan} -> {out_t}",
    ]
    rets = ["%out"]
    if stats:
        st = [f"tensor<{G}xf32>", f"tensor<{G}x{E}xi64>", f"tensor<{G}xi64>", f"tensor<{G}xi64>"]
        lines.append(f"%imp, %load, %da, %dt = moe.route_stats %logits, %plan\n"
                     f"      : {logits_t}, {plan}\n      -> {', '.join(st)}")
        res_types += st
        res_names += list(moe_ir.STATS)
        rets += ["%imp", "%load", "%da", "%dt"]
    results = ",\n       ".join(f'{t} {{moe.output = "{n}"}}' for t, n in zip(res_types, res_names))
    lines.append(f"return {', '.join(rets)} : {', '.join(res_types)}")
    body = "\n  ".join(lines)
    return (f"// A small test layer.\nfunc.func @small(\n    {args})\n    -> ({results}) {{\n"
            f"  {body}\n}}\n")


def write(tmp_path, text, name="layer.mlir"):
    path = tmp_path / name
    path.write_text(text)
    return path


def load_dir(out_dir):
    out_dir = Path(out_dir)
    weights, metadata = read_safetensors(out_dir / "weights.safetensors")
    inputs = {p.stem: np.load(p) for p in (out_dir / "inputs").glob("*.npy")}
    expected = {p.stem: np.load(p) for p in (out_dir / "expected").glob("*.npy")}
    return weights, inputs, expected, metadata


# --------------------------------------------------------------------------------------------
# Parsing the examples
# --------------------------------------------------------------------------------------------

TC = "token_choice"
EXAMPLE_FACTS = {
    # name: (router, (G, S, E, C), d, activation, has biases, has route_stats)
    "L1": (Router(TC, k=2, capacity_factor=1.05, priority="bpr"), (1, 1576, 8, 416), 768,
           "gelu", True, True),
    "L2": (Router(TC, k=2, capacity_factor=4.0), (1, 400, 8, 400), 512, "gelu", True, True),
    "L3": (Router("soft", slots_per_expert=1), (8, 196, 128, 1), 768, "gelu", True, False),
    "L4": (Router("expert_choice", capacity_factor=1.0), (1, 1568, 32, 52), 768, "gelu", True,
           True),
    "L5": (Router(TC, k=2, capacity_factor=1.05, priority="bpr",
                  score=Score("sinkhorn", iterations=20, epsilon=1.0)),
           (1, 1576, 8, 416), 768, "gelu", True, True),
    "L6": (Router("per_image", k=1, tokens_per_item=50, pooling="mean", dropless=True),
           (1, 3200, 10, 3200), 192, "gelu", True, True),
    "L7": (Router(TC, k=2, dropless=True, renormalize=True), (1, 512, 8, 512), 1024, "swiglu",
           False, True),
}


def test_every_example_is_covered():
    assert sorted(p.stem for p in EXAMPLES.glob("L*.mlir")) == sorted(EXAMPLE_FACTS)


@pytest.mark.parametrize("name", sorted(EXAMPLE_FACTS))
def test_parse_example(name, tmp_path):
    router, (G, S, E, C), d, act, biases, stats = EXAMPLE_FACTS[name]
    fn = moe_ir.parse_moe_file(write(tmp_path, annotate((EXAMPLES / f"{name}.mlir").read_text())))

    assert fn.name == name.lower()
    assert fn.router == router
    assert fn.plan == moe_ir.PlanType(G, S, E, C)
    assert med.plan_capacity(fn.router, S, E) == C
    assert fn.gate.input.name == "tokens" and fn.gate.input.role == "input"
    assert fn.gate.input.type == moe_ir.TensorType((G, S, d), "f32")
    assert fn.dispatch_input == fn.gate.input
    assert [a.name for a in fn.inputs] == ["tokens"]
    assert all(a.name == f"layer.{a.ssa[1:]}" for a in fn.weights)
    if router.kind == "soft":
        assert fn.gate.weight.type.shape == (d, E, 1) and fn.gate.scale.type.shape == ()
    else:
        assert fn.gate.weight.type.shape == (d, E) and fn.gate.scale is None
    ex = fn.experts
    assert ex.activation == act
    assert (ex.up_bias is not None, ex.down_bias is not None) == (biases, biases)
    h = ex.down.type.shape[1]
    assert ex.up.type.shape == (E, d, 2 * h if act == "swiglu" else h)
    assert fn.has_route_stats == stats
    quantities = ["output"] + (list(moe_ir.STATS) if stats else [])
    assert [r.quantity for r in fn.results] == quantities
    assert [r.name for r in fn.results] == ["y", *STAT_NAMES][: len(quantities)]
    assert fn.results[0].type.shape == (G, S, d)
    if stats:
        assert [r.type for r in fn.results[1:]] == [
            moe_ir.TensorType((G,), "f32"), moe_ir.TensorType((G, E), "i64"),
            moe_ir.TensorType((G,), "i64"), moe_ir.TensorType((G,), "i64"),
        ]


def test_unnamed_arguments_and_results_fall_back_to_ssa_names():
    fn = moe_ir.parse_moe_function(strip_names((EXAMPLES / "L7.mlir").read_text()))
    assert [(a.name, a.role) for a in fn.arguments] == [
        ("x", "input"), ("w_gate", "weight"), ("w_up", "weight"), ("w_down", "weight")]
    assert [r.name for r in fn.results] == [f"result{i}" for i in range(5)]


@pytest.mark.parametrize("text, router", [
    ("token_choice<k = 1, capacity = 8, score = sigmoid, renormalize>",
     Router(TC, k=1, capacity=8, score=Score("sigmoid"), renormalize=True)),
    ("token_choice<k = 2, capacity_factor = 1.5, rounding = round, multiple_of = 1, "
     "score = sinkhorn>",
     Router(TC, k=2, capacity_factor=1.5, rounding="round", multiple_of=1,
            score=Score("sinkhorn", iterations=20, epsilon=1.0))),
    ("token_choice<k = 1, capacity = 4, score = sinkhorn<epsilon = 0.00001, iterations = 3>>",
     Router(TC, k=1, capacity=4, score=Score("sinkhorn", iterations=3, epsilon=1e-5))),
    ("expert_choice<capacity_factor = 2, score = ksparse_ot>",
     Router("expert_choice", capacity_factor=2.0,
            score=Score("ksparse_ot", iterations=20, learning_rate=0.01))),
    ("expert_choice<score = ksparse_ot<iterations = 50, learning_rate = 1.0e-03>, capacity = 3>",
     Router("expert_choice", capacity=3,
            score=Score("ksparse_ot", iterations=50, learning_rate=1e-3))),
    ("#moe.soft<slots_per_expert = 2>", Router("soft", slots_per_expert=2)),
    ("per_image<tokens_per_item = 4, k = 2, pooling = cls, capacity_factor = 1.0>",
     Router("per_image", k=2, tokens_per_item=4, pooling="cls", capacity_factor=1.0)),
    ("per_image<tokens_per_item = 4, k = 1, pooling = mean, capacity = 3>",
     Router("per_image", k=1, tokens_per_item=4, pooling="mean", capacity=3)),
    ("per_image<dropless, tokens_per_item = 4, k = 1, pooling = mean>",
     Router("per_image", k=1, tokens_per_item=4, pooling="mean", dropless=True)),
])
def test_parse_router(text, router):
    assert moe_ir.parse_router(text) == router


@pytest.mark.parametrize("text, message", [
    ("token_choice<capacity_factor = 1.0>", "missing 'k'"),
    ("token_choice<k = 2>", "missing the capacity"),
    ("token_choice<k = 2, dropless, capacity = 4>", "only one of capacity_factor"),
    ("token_choice<k = 2, dropless, foo = 1>", "unknown parameter 'foo'"),
    ("token_choice<k = 2, dropless, k = 1>", "'k' is given twice"),
    ("token_choice<k = 2, dropless, score = ksparse_ot>", "score must be one of"),
    ("token_choice<k = 2.5, dropless>", "'k' takes an integer"),
    ("token_choice<k = 2, dropless, priority = fifo>", "priority must be position or bpr"),
    ("token_choice<k = 2, dropless", "expected ',' or '>'"),
    ("token_choice<k = 2, capacity_factor = 1.0, score = sinkhorn<eps = 1.0>>",
     "unknown sinkhorn parameter 'eps'"),
    ("expert_choice<capacity = 4, rounding = round>", "apply only with capacity_factor"),
    ("expert_choice<score = softmax>", "missing the capacity"),
    ("soft<slots = 1>", "unknown parameter 'slots'"),
    ("per_image<tokens_per_item = 4, k = 1>", "missing 'pooling'"),
    ("top_k<k = 2>", "unknown router 'top_k'"),
])
def test_router_errors(text, message):
    with pytest.raises(MoEIRError, match=re.escape(message)):
        moe_ir.parse_router(text)


# --------------------------------------------------------------------------------------------
# Malformed layers
# --------------------------------------------------------------------------------------------

GOOD = layer_ir("token_choice<k = 2, capacity_factor = 1.0>", 8)
PLAN = "!moe.plan<groups = 2, tokens = 12, experts = 4, capacity = 8>"


def test_good_layer_parses():
    fn = moe_ir.parse_moe_function(GOOD)
    assert fn.plan == moe_ir.PlanType(2, 12, 4, 8)


# What build/bin/moe-opt prints for GOOD: a module, %argN and %N names, one line per op.
PRINTED_GOOD = """\
module {
  func.func @small(%arg0: tensor<2x12x8xf32> {moe.input = "x"}, %arg1: tensor<8x4xf32> {moe.weight = "w_gate"}, %arg2: tensor<4x8x16xf32> {moe.weight = "w_up"}, %arg3: tensor<4x16xf32> {moe.weight = "b_up"}, %arg4: tensor<4x16x8xf32> {moe.weight = "w_down"}, %arg5: tensor<4x8xf32> {moe.weight = "b_down"}) -> (tensor<2x12x8xf32> {moe.output = "out"}, tensor<2xf32> {moe.output = "importance_loss"}, tensor<2x4xi64> {moe.output = "expert_load"}, tensor<2xi64> {moe.output = "dropped_assignments"}, tensor<2xi64> {moe.output = "dropped_tokens"}) {
    %0 = moe.gate %arg0, %arg1 : tensor<2x12x8xf32>, tensor<8x4xf32> -> tensor<2x12x4xf32>
    %1 = moe.route %0 token_choice<k = 2, capacity_factor = 1.0> : tensor<2x12x4xf32> -> !moe.plan<groups = 2, tokens = 12, experts = 4, capacity = 8>
    %2 = moe.dispatch %arg0, %1 : tensor<2x12x8xf32>, !moe.plan<groups = 2, tokens = 12, experts = 4, capacity = 8> -> tensor<4x16x8xf32>
    %3 = moe.experts %2 mlp(gelu) up %arg2 up_bias %arg3 down %arg4 down_bias %arg5 : (tensor<4x16x8xf32>, tensor<4x8x16xf32>, tensor<4x16xf32>, tensor<4x16x8xf32>, tensor<4x8xf32>) -> tensor<4x16x8xf32>
    %4 = moe.combine %3, %1 : tensor<4x16x8xf32>, !moe.plan<groups = 2, tokens = 12, experts = 4, capacity = 8> -> tensor<2x12x8xf32>
    %importance_loss, %expert_load, %dropped_assignments, %dropped_tokens = moe.route_stats %0, %1 : tensor<2x12x4xf32>, !moe.plan<groups = 2, tokens = 12, experts = 4, capacity = 8> -> tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>
    return %4, %importance_loss, %expert_load, %dropped_assignments, %dropped_tokens : tensor<2x12x8xf32>, tensor<2xf32>, tensor<2x4xi64>, tensor<2xi64>, tensor<2xi64>
  }
}
"""


def test_moe_opt_printed_form_reads_the_same():
    a, b = moe_ir.parse_moe_function(GOOD), moe_ir.parse_moe_function(PRINTED_GOOD)
    assert (a.router, a.plan, a.experts.activation) == (b.router, b.plan, b.experts.activation)
    assert [(x.name, x.role, x.type) for x in a.arguments] == [
        (x.name, x.role, x.type) for x in b.arguments]
    assert [(r.name, r.quantity, r.type) for r in a.results] == [
        (r.name, r.quantity, r.type) for r in b.results]
    da, db = med.generate_arguments(a, seed=4), med.generate_arguments(b, seed=4)
    assert all(np.array_equal(da[n], db[n]) for n in da) and da.keys() == db.keys()


@pytest.mark.parametrize("old, new, message", [
    (re.search(r"  %plan = .*\n.*\n", GOOD).group(0), "", "no moe.route"),
    ("  %out = moe.combine", "  %out = moe.combinex", "unsupported op 'moe.combinex'"),
    ("k = 2, ", "", "missing 'k'"),
    (" down %w_down", "", "expected '%slots mlp(act) up %w1"),
    ("mlp(gelu)", "mlp(tanh)", "unknown activation 'tanh'"),
    ("moe.gate %x,", "moe.gate %z,", "input %z is not a function argument"),
    ("moe.combine %y,", "moe.combine %slots,", "slots %slots is not the result of moe.experts"),
    ("return %out,", "return %logits2,", "%logits2 is not a value of the moe chain"),
    ("return %out,", "return %plan,", "is the plan %plan, which is not a tensor"),
    ("return %out, %imp", "return %imp", "returns 4 value(s) but @small declares 5"),
    ("%x: tensor<2x12x8xf32>", "%x: tensor<2x?x8xf32>", "dynamic shapes are not supported"),
    ("%w_gate: tensor<8x4xf32>", "%w_gate: tensor<8x5xf32>",
     "weight %w_gate has type tensor<8x5xf32>, expected shape [8x4]"),
    ("func.func @small", "func.func @small(%a: tensor<f32>) { return }\nfunc.func @other",
     "expected exactly one func.func, found 2"),
    ("func.func @small", "func.fun @small", "expected exactly one func.func, found 0"),
    ("  return", "  %r = arith.addf %x, %out : tensor<2x12x8xf32>\n  return",
     "unsupported op 'arith.addf'"),
    ('{moe.input = "x"}', '{moe.input = "x", moe.weight = "x"}', "has both moe.input and"),
    ('{moe.weight = "w_up"}', '{moe.weight = "w_gate"}', "argument name 'w_gate' is used twice"),
])
def test_malformed_layer(old, new, message):
    assert old in GOOD
    with pytest.raises(MoEIRError, match=re.escape(message)) as info:
        moe_ir.parse_moe_function(GOOD.replace(old, new, 1), source="bad.mlir")
    assert str(info.value).startswith("bad.mlir: ")


def test_region_form_experts_is_rejected():
    region = re.sub(r"mlp\(gelu\)[^\n]*\n[^\n]*\n",
                    ": (tensor<4x16x8xf32>) -> tensor<4x16x8xf32> {\n"
                    "  ^bb0(%e: index, %v: tensor<16x8xf32>):\n"
                    "    %t = math.tanh %v : tensor<16x8xf32>\n"
                    "    moe.yield %t : tensor<16x8xf32>\n  }\n", GOOD)
    with pytest.raises(MoEIRError, match="only the named MLP form"):
        moe_ir.parse_moe_function(region)


def test_capacity_that_disagrees_with_the_router(tmp_path):
    bad = GOOD.replace("capacity_factor = 1.0", "capacity_factor = 2.0")
    with pytest.raises(MoEIRError, match=re.escape(
            "the token_choice router gives capacity 12 for S = 12, E = 4, but the plan type "
            "says capacity = 8")):
        med.write_example(write(tmp_path, bad), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_cli_reports_errors(tmp_path, capsys):
    assert med.main([str(tmp_path / "missing.mlir"), "--out-dir", str(tmp_path)]) == 1
    assert "missing.mlir" in capsys.readouterr().err
    bad = write(tmp_path, GOOD.replace("k = 2, ", ""))
    assert med.main([str(bad), "--out-dir", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("make_example_data.py: error: ") and "missing 'k'" in err


def test_route_only_needs_a_sparse_router(tmp_path):
    soft = write(tmp_path, layer_ir("soft<slots_per_expert = 2>", 2, soft_p=2))
    with pytest.raises(MoEIRError, match="--route-only needs a sparse router"):
        med.write_example(soft, tmp_path / "out", route_only=True)


# --------------------------------------------------------------------------------------------
# End to end on small layers
# --------------------------------------------------------------------------------------------

# (router attribute, C, extra layer_ir arguments, plan from logits via moe_reference, stats k)
CASES = {
    "tc_bpr": ("token_choice<k = 2, capacity_factor = 1.0, priority = bpr>", 8, {},
               lambda l: ref.token_choice(l, 2, capacity=8, priority="bpr"), 2),
    "tc_sigmoid": ("token_choice<k = 2, capacity = 3, score = sigmoid, renormalize>", 3,
                   dict(act="relu", biases=False),
                   lambda l: ref.token_choice(l, 2, capacity=3, score="sigmoid",
                                              renormalize=True), 2),
    "tc_dropless_swiglu": ("token_choice<k = 2, dropless, renormalize>", 12,
                           dict(act="swiglu", biases=False, d_out=6),
                           lambda l: ref.token_choice(l, 2, renormalize=True), 2),
    "tc_sinkhorn": ("token_choice<k = 1, capacity_factor = 1.0, rounding = round, "
                    "multiple_of = 1, score = sinkhorn<iterations = 5, epsilon = 0.5>>", 3,
                    dict(act="silu"),
                    lambda l: ref.token_choice(l, 1, capacity=3, score=("sinkhorn", 5, 0.5)),
                    1),
    "ec": ("expert_choice<capacity_factor = 1.0>", 4, {},
           lambda l: ref.expert_choice(l, 4), None),
    "ec_sinkhorn": ("expert_choice<capacity_factor = 1.0, rounding = round, multiple_of = 1, "
                    "score = sinkhorn>", 3, {},
                    lambda l: ref.expert_choice(l, 3, score=("sinkhorn", 20, 1.0)), None),
    "ec_ksparse": ("expert_choice<capacity = 3, score = ksparse_ot<iterations = 10>>", 3, {},
                   lambda l: ref.expert_choice(l, 3, score=("ksparse_ot", 10, 0.01)), None),
    "soft": ("soft<slots_per_expert = 2>", 2, dict(soft_p=2), None, None),
    "per_image_mean": ("per_image<tokens_per_item = 3, k = 1, pooling = mean>", 12, {},
                       lambda l: ref.per_image(l, 3, 1, pooling="mean"), 1),
    "per_image_cls": ("per_image<tokens_per_item = 3, k = 2, pooling = cls, capacity = 1>", 3,
                      {}, lambda l: ref.per_image(l, 3, 2, pooling="cls", capacity=1), 2),
    "per_image_cf": ("per_image<tokens_per_item = 3, k = 1, pooling = mean, "
                     "capacity_factor = 1.0>", 12, {},
                     lambda l: ref.per_image(l, 3, 1, pooling="mean", capacity=4), 1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_end_to_end_matches_moe_reference(case, tmp_path):
    router, C, extra, plan_of, k = CASES[case]
    ir = write(tmp_path, layer_ir(router, C, **extra))
    assert med.main([str(ir), "--out-dir", str(tmp_path / "out"), "--seed", "7"]) == 0
    weights, inputs, expected, metadata = load_dir(tmp_path / "out")
    fn = moe_ir.parse_moe_file(ir)

    # Every argument and result, by name, with its declared shape and type.
    assert set(weights) == {a.name for a in fn.weights}
    assert set(inputs) == {a.name for a in fn.inputs} == {"x"}
    assert set(expected) == {r.name for r in fn.results}
    for a in fn.arguments:
        got = (weights if a.role == "weight" else inputs)[a.name]
        assert got.shape == a.type.shape and got.dtype == np.float32, a
    for r in fn.results:
        assert expected[r.name].shape == r.type.shape, r
        assert expected[r.name].dtype == (np.int64 if r.type.element == "i64" else np.float32)
    assert metadata == {"source": "layer.mlir", "function": "small", "seed": "7", "scale": "1.0"}

    # The same numbers from moe_reference directly.
    x, w = inputs["x"], weights
    act = extra.get("act", "gelu")
    if plan_of is None:
        logits = ref.soft_gate(x, w["phi"], w["scale"])
        plan = ref.soft_route(logits, 4, 2)
    else:
        logits = ref.gate(x, w["w_gate"])
        plan = plan_of(logits)
    out = ref.moe_layer(x, plan, w["w_up"], w["w_down"], w.get("b_up"), w.get("b_down"), act)
    np.testing.assert_array_equal(expected["out"], out)
    assert np.isfinite(out).all() and 0.01 < np.abs(out).mean() < 10
    if fn.has_route_stats:
        stats = ref.route_stats(logits, plan, k=k)
        for name in moe_ir.STATS:
            np.testing.assert_array_equal(expected[name], stats[name], err_msg=name)


def test_route_only_writes_the_plan(tmp_path):
    router, C, extra, plan_of, k = CASES["tc_bpr"]
    ir = write(tmp_path, layer_ir(router, C, **extra))
    summary = med.write_example(ir, tmp_path / "out", seed=3, route_only=True)
    assert "skipped out" in summary
    weights, inputs, expected, _ = load_dir(tmp_path / "out")
    assert set(expected) == {"slot_token", "slot_weight", *moe_ir.STATS}
    plan = plan_of(ref.gate(inputs["x"], weights["w_gate"]))
    assert expected["slot_token"].dtype == np.int64 and expected["slot_token"].shape == (2, 4, 8)
    assert expected["slot_weight"].dtype == np.float32
    np.testing.assert_array_equal(expected["slot_token"], plan.token)
    np.testing.assert_array_equal(expected["slot_weight"], plan.weight)
    np.testing.assert_array_equal(expected["expert_load"], ref.route_stats(
        ref.gate(inputs["x"], weights["w_gate"]), plan, k=k)["expert_load"])


def with_plan_slots(text, G, E, C, S=12):
    """``text`` (from layer_ir) with the plan's slot table as two more results."""
    table = f"tensor<{G}x{E}x{C}xi64>, tensor<{G}x{E}x{C}xf32>"
    plan_t = f"!moe.plan<groups = {G}, tokens = {S}, experts = {E}, capacity = {C}>"
    text = text.replace("  return ", f"  %st, %sw = moe.plan_slots %plan : {plan_t} -> {table}\n"
                        "  return ", 1)
    text = text.replace(") {\n", f',\n       tensor<{G}x{E}x{C}xi64> {{moe.output = "slot_token"}}, '
                        f'tensor<{G}x{E}x{C}xf32> {{moe.output = "slot_weight"}}) {{\n', 1)
    return re.sub(r"(return .*) : (.*)\n",
                  lambda m: f"{m.group(1)}, %st, %sw : {m.group(2)}, {table}\n", text)


def test_plan_slots_results_are_the_reference_plan(tmp_path):
    router, C, extra, plan_of, _ = CASES["tc_bpr"]
    text = with_plan_slots(layer_ir(router, C, **extra), 2, 4, C)
    fn = moe_ir.parse_moe_function(text)
    assert [r.quantity for r in fn.results][-2:] == ["slot_token", "slot_weight"]
    med.write_example(write(tmp_path, text), tmp_path / "out", seed=2)
    weights, inputs, expected, _ = load_dir(tmp_path / "out")
    plan = plan_of(ref.gate(inputs["x"], weights["w_gate"]))
    assert expected["slot_token"].dtype == np.int64
    np.testing.assert_array_equal(expected["slot_token"], plan.token)
    np.testing.assert_array_equal(expected["slot_weight"], plan.weight)
    # The same names under --route-only are no clash: they are the plan.
    med.write_example(write(tmp_path, text), tmp_path / "route", seed=2, route_only=True)


def test_plan_slots_needs_a_sparse_router():
    soft = with_plan_slots(layer_ir("soft<slots_per_expert = 2>", 2, soft_p=2), 2, 4, 2)
    with pytest.raises(MoEIRError, match="plan_slots needs a sparse router, not soft"):
        moe_ir.parse_moe_function(soft)


def test_deterministic_per_seed(tmp_path):
    ir = write(tmp_path, layer_ir(*CASES["tc_bpr"][:2]))
    dirs = {}
    for tag, seed in (("a", 5), ("b", 5), ("c", 6)):
        med.write_example(ir, tmp_path / tag, seed=seed)
        dirs[tag] = {p.relative_to(tmp_path / tag): p.read_bytes()
                     for p in sorted((tmp_path / tag).rglob("*")) if p.is_file()}
    assert dirs["a"] == dirs["b"]
    assert dirs["a"].keys() == dirs["c"].keys()
    a, c = load_dir(tmp_path / "a"), load_dir(tmp_path / "c")
    assert not np.array_equal(a[1]["x"], c[1]["x"])
    assert all(not np.array_equal(a[0][n], c[0][n]) for n in a[0])


def test_arguments_do_not_depend_on_each_other(tmp_path):
    """Each argument has its own stream: dropping the biases leaves the other weights alone."""
    with_b = moe_ir.parse_moe_function(layer_ir(*CASES["ec"][:2]))
    without_b = moe_ir.parse_moe_function(layer_ir(*CASES["ec"][:2], biases=False))
    a, b = med.generate_arguments(with_b, 1), med.generate_arguments(without_b, 1)
    assert set(a) - set(b) == {"b_up", "b_down"}
    for name in b:
        np.testing.assert_array_equal(a[name], b[name])


@pytest.mark.parametrize("scale", [1.0, 3.0])
def test_logits_scale_and_exact_float32_gate(scale):
    fn = moe_ir.parse_moe_function(
        layer_ir("expert_choice<capacity_factor = 1.0>", 32, G=2, S=256, d=512, E=8, h=8))
    args = med.generate_arguments(fn, seed=2, scale=scale)
    x, w = args["x"], args["w_gate"]
    logits = ref.gate(x, w)
    assert 0.85 * scale < logits.std() < 1.15 * scale
    # float32 sums in two different orders give the float64-computed logits exactly.
    np.testing.assert_array_equal(np.matmul(x, w), logits)
    reverse = np.zeros(logits.shape, np.float32)
    for i in reversed(range(x.shape[-1])):
        reverse += x[..., i, None] * w[i]
    np.testing.assert_array_equal(reverse, logits)


def test_soft_logits_are_order_one():
    fn = moe_ir.parse_moe_function(layer_ir("soft<slots_per_expert = 2>", 2, S=64, d=256,
                                            soft_p=2))
    args = med.generate_arguments(fn, seed=0, scale=2.0)
    logits = ref.soft_gate(args["x"], args["phi"], args["scale"])
    assert args["scale"].shape == () and 1.6 < logits.std() < 2.4


def test_command_line(tmp_path):
    ir = write(tmp_path, layer_ir(*CASES["per_image_mean"][:2]))
    run = subprocess.run(
        [sys.executable, str(HERE / "make_example_data.py"), str(ir), "--out-dir",
         str(tmp_path / "out"), "--seed", "1", "--scale", "0.5"],
        capture_output=True, text=True, check=True)
    lines = run.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("@small per_image G=2 S=12 E=4 C=12 seed=1")
    assert (tmp_path / "out" / "expected" / "out.npy").exists()


# --------------------------------------------------------------------------------------------
# safetensors
# --------------------------------------------------------------------------------------------


def test_safetensors_layout_and_round_trip(tmp_path):
    tensors = {
        "b": np.arange(3, dtype=np.float32),
        "a.w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "i": np.array([1, -2], dtype=np.int64),
        "h": np.ones((1, 3), dtype=np.float16),
        "s": np.float32(2.5),
    }
    path = tmp_path / "t.safetensors"
    write_safetensors(path, tensors, metadata={"seed": 3})
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0
    header = json.loads(data[8: 8 + n])
    assert header.pop("__metadata__") == {"seed": "3"}
    spans = sorted((e["data_offsets"], name) for name, e in header.items())
    assert [name for _, name in spans] == ["i", "a.w", "b", "s", "h"]  # by size, then name
    assert spans[0][0][0] == 0 and spans[-1][0][1] == len(data) - 8 - n
    assert all(p[0][1] == q[0][0] for p, q in zip(spans, spans[1:]))
    got, metadata = read_safetensors(path)
    assert metadata == {"seed": "3"}
    for name, value in tensors.items():
        assert got[name].dtype == value.dtype and got[name].shape == np.shape(value)
        np.testing.assert_array_equal(got[name], value)
