"""Execution tests: every router and option, compiled for the CPU and checked
against the NumPy reference of docs/routers.md on fresh random inputs.

For each case a small level-1 layer is written, compiled with moe-compile,
given random weights and inputs by make_example_data.py (a new seed per run,
printed, or --seed to replay), run with moe-run, and every result is
compared: the layer output within 1e-4 relative error (fp32), the slot
table of sparse routers (moe.plan_slots: the token in each slot exactly,
its combine weight within 1e-4) and the routing statistics exactly.

With --dynamic-groups every layer is written for any number of groups (``tensor<?x...>``,
``groups = ?``): compiled once for one group and run on the case's groups.

With --target opencl every layer is compiled to a GPU artifact (moe-compile --target=opencl:
the portable SPIR-V variant of the kernels) and run by moe-run on the CPU's OpenCL device
(PoCL), checked the same way;
with --target ptx compiled for sm_80 and sm_90a and assembled by ptxas (no spills).

usage: router_matrix.py --build BUILD_DIR --work DIR [--seed N] [--filter TEXT]
                        [--target-cpu CPU] [--dynamic-groups] [--target cpu|opencl|ptx]
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)

import case_driver  # noqa: E402
import make_example_data  # noqa: E402
import moe_ir  # noqa: E402

# (name, router, G, S, d, E, h, activation, biases, stats[, plan layout])
# Shapes are deliberately not multiples of tile sizes; E spans 2 to 128. The plan layout
# (moe-compile --plan-layout) is "auto" unless given: dropless token choice then takes the
# sorted layout, the others the capacity-padded slot table; the *_sorted / *_padded cases
# force the other layout on the same routers, which must give the same results.
CASES = [
    ("tc_vanilla", "token_choice<k = 2, capacity_factor = 1.0>", 1, 37, 12, 4, 20, "gelu", True, True),
    ("tc_bpr", "token_choice<k = 2, capacity_factor = 1.05, priority = bpr>", 2, 45, 16, 8, 24, "gelu", True, True),
    ("tc_top1_tight", "token_choice<k = 1, capacity = 3, priority = bpr>", 3, 29, 8, 5, 12, "relu", False, True),
    ("tc_round_multiple", "token_choice<k = 2, capacity_factor = 0.7, rounding = round, multiple_of = 1>", 2, 33, 8, 6, 16, "silu", True, True),
    ("tc_renormalize", "token_choice<k = 2, capacity_factor = 1.25, renormalize>", 1, 50, 12, 8, 20, "gelu", True, True),
    ("tc_sigmoid", "token_choice<k = 2, capacity_factor = 1.0, score = sigmoid>", 2, 31, 10, 4, 16, "gelu", True, True),
    ("tc_gelu_tanh", "token_choice<k = 2, capacity_factor = 1.25>", 2, 35, 12, 6, 20, "gelu_tanh", True, True),
    ("tc_dropless_swiglu", "token_choice<k = 2, dropless, renormalize>", 1, 40, 16, 8, 12, "swiglu", False, True),
    ("tc_sinkhorn", "token_choice<k = 2, capacity_factor = 1.05, priority = bpr, score = sinkhorn<iterations = 10, epsilon = 1.0>>", 2, 36, 12, 4, 16, "gelu", True, True),
    ("tc_two_experts", "token_choice<k = 1, capacity_factor = 1.0>", 4, 19, 6, 2, 10, "relu", True, True),
    ("tc_many_experts", "token_choice<k = 2, capacity_factor = 2.0>", 1, 70, 8, 128, 8, "gelu", True, True),
    ("tc_dropless_groups", "token_choice<k = 2, dropless>", 3, 27, 10, 16, 12, "gelu", True, True),
    ("tc_dropless_padded", "token_choice<k = 2, dropless, renormalize>", 1, 40, 16, 8, 12, "swiglu", False, True, "padded"),
    ("tc_bpr_sorted", "token_choice<k = 2, capacity_factor = 1.05, priority = bpr>", 2, 45, 16, 8, 24, "gelu", True, True, "sorted"),
    ("tc_top1_tight_sorted", "token_choice<k = 1, capacity = 3, priority = bpr>", 3, 29, 8, 5, 12, "relu", False, True, "sorted"),
    ("ec_softmax", "expert_choice<capacity_factor = 1.0>", 2, 41, 12, 8, 16, "gelu", True, True),
    ("ec_fixed", "expert_choice<capacity = 5>", 1, 23, 8, 3, 12, "silu", False, True),
    ("ec_sinkhorn", "expert_choice<capacity_factor = 2.0, score = sinkhorn<iterations = 8, epsilon = 0.5>>", 1, 30, 8, 4, 12, "gelu", True, True),
    ("ec_many_experts", "expert_choice<capacity_factor = 2.0, rounding = round, multiple_of = 1>", 1, 96, 8, 64, 8, "gelu", True, True),
    ("ec_ksparse", "expert_choice<capacity_factor = 1.0, score = ksparse_ot<iterations = 20, learning_rate = 0.01>>", 2, 43, 12, 8, 16, "gelu", True, True),
    ("ec_ksparse_fast", "expert_choice<capacity = 3, score = ksparse_ot<iterations = 7, learning_rate = 0.5>>", 1, 26, 8, 5, 12, "relu", False, True),
    # S/E small against C: columns keep fewer than C non-zeros, so the last slots tie at 0.
    ("ec_ksparse_zeros", "expert_choice<capacity = 8, score = ksparse_ot<iterations = 20, learning_rate = 0.05>>", 2, 21, 8, 16, 8, "gelu", True, True),
    ("ec_sorted", "expert_choice<capacity_factor = 1.0>", 2, 41, 12, 8, 16, "silu", True, True, "sorted"),
    ("soft_p1", "soft<slots_per_expert = 1>", 3, 17, 12, 8, 16, "gelu", True, False),
    ("soft_p2", "soft<slots_per_expert = 2>", 2, 21, 8, 5, 12, "relu", True, False),
    # p = round(S * cf / E) = round(19 * 0.9 / 6) = round(2.85) = 3.
    ("soft_cf", "soft<capacity_factor = 0.9>", 2, 19, 8, 6, 12, "gelu", True, False),
    # Sinkhorn where a float32 evaluation of P saturates and exact arithmetic decides
    # (docs/routers.md 4.3): one token per group (every expert ties at P = 1/E, so the lower
    # index wins), far fewer tokens than experts with a small epsilon.
    # Groups, depths and widths over several GPU tiles (64 rows x 64 columns, k steps of 16),
    # none a multiple: several row tiles per expert (uniform and ragged), several k steps and
    # column tiles, partial ones at every edge.
    ("tc_large_tiles", "token_choice<k = 2, capacity_factor = 1.25>", 1, 300, 40, 4, 136, "gelu", True, True),
    ("tc_large_sorted", "token_choice<k = 2, dropless>", 1, 260, 36, 3, 70, "swiglu", False, True),
    ("ec_large", "expert_choice<capacity_factor = 1.0>", 2, 150, 24, 2, 80, "silu", True, True),
    ("tc_sinkhorn_one_token", "token_choice<k = 2, dropless, score = sinkhorn<epsilon = 0.1>>", 5, 1, 8, 6, 12, "gelu", True, True),
    ("tc_sinkhorn_few_tokens", "token_choice<k = 2, capacity_factor = 2.0, priority = bpr, score = sinkhorn<epsilon = 0.1>>", 3, 3, 8, 16, 12, "gelu", True, True),
    ("ec_sinkhorn_few_tokens", "expert_choice<capacity = 2, score = sinkhorn<epsilon = 0.1>>", 3, 4, 8, 16, 12, "relu", True, True),
    ("tc_sigmoid_renormalize", "token_choice<k = 3, capacity_factor = 1.5, score = sigmoid, renormalize, priority = bpr>", 2, 30, 10, 6, 16, "silu", True, True),
    ("per_image_mean", "per_image<tokens_per_item = 5, k = 1, pooling = mean>", 1, 60, 8, 4, 12, "gelu", True, True),
    ("per_image_dropless", "per_image<tokens_per_item = 6, k = 2, pooling = mean>", 1, 42, 8, 6, 12, "gelu", True, True),
    ("per_image_cls_cap", "per_image<tokens_per_item = 7, k = 2, pooling = cls, capacity_factor = 1.0, multiple_of = 1>", 2, 49, 8, 5, 12, "gelu", True, True),
]


# Also run through moe-run's JIT (the .mlir file directly; plan layout auto).
JIT_CASES = ("tc_bpr", "tc_dropless_swiglu")


def layer_text(name, router_text, g, s, d, e, h, act, biases, stats, layout="auto",
               dynamic=False):
    """The layer of a case; ``dynamic``: with the number of groups written ``?``."""
    router = moe_ir.parse_router(router_text)
    c = make_example_data.plan_capacity(router, s, e)
    soft = router.kind == "soft"
    p = c if soft else 1
    n = e * p if soft else e
    m = "?" if dynamic else g * c
    g = "?" if dynamic else g
    x, lg = f"tensor<{g}x{s}x{d}xf32>", f"tensor<{g}x{s}x{n}xf32>"
    plan = f"!moe.plan<groups = {g}, tokens = {s}, experts = {e}, capacity = {c}>"
    h1 = 2 * h if act == "swiglu" else h
    sl = f"tensor<{e}x{m}x{d}xf32>"
    w1, b1 = f"tensor<{e}x{d}x{h1}xf32>", f"tensor<{e}x{h1}xf32>"
    w2, b2 = f"tensor<{e}x{h}x{d}xf32>", f"tensor<{e}x{d}xf32>"
    args = [f'%x: {x} {{moe.input = "x"}}']
    if soft:
        args += [f'%phi: tensor<{d}x{e}x{p}xf32> {{moe.weight = "phi"}}',
                 '%scale: tensor<f32> {moe.weight = "scale"}']
        gate = f"moe.gate %x, %phi scale %scale : {x}, tensor<{d}x{e}x{p}xf32>, tensor<f32> -> {lg}"
    else:
        args += [f'%w_gate: tensor<{d}x{e}xf32> {{moe.weight = "w_gate"}}']
        gate = f"moe.gate %x, %w_gate : {x}, tensor<{d}x{e}xf32> -> {lg}"
    args += [f'%w_up: {w1} {{moe.weight = "w_up"}}']
    if biases:
        args += [f'%b_up: {b1} {{moe.weight = "b_up"}}']
    args += [f'%w_down: {w2} {{moe.weight = "w_down"}}']
    if biases:
        args += [f'%b_down: {b2} {{moe.weight = "b_down"}}']
    results = [(x, "out")]
    if stats:
        results += [(f"tensor<{g}xf32>", "importance_loss"), (f"tensor<{g}x{e}xi64>", "expert_load"),
                    (f"tensor<{g}xi64>", "dropped_assignments"), (f"tensor<{g}xi64>", "dropped_tokens")]
    # Sparse plans are compared slot by slot: the token in each slot and its weight.
    slots = not soft
    if slots:
        results += [(f"tensor<{g}x{e}x{c}xi64>", "slot_token"), (f"tensor<{g}x{e}x{c}xf32>", "slot_weight")]
    if biases:
        mlp = f"mlp({act}) up %w_up up_bias %b_up down %w_down down_bias %b_down : ({sl}, {w1}, {b1}, {w2}, {b2}) -> {sl}"
    else:
        mlp = f"mlp({act}) up %w_up down %w_down : ({sl}, {w1}, {w2}) -> {sl}"
    lines = [
        f"func.func @{name}({', '.join(args)})",
        f"    -> ({', '.join(f'{t} {{moe.output = {chr(34)}{n}{chr(34)}}}' for t, n in results)}) {{",
        f"  %logits = {gate}",
        f"  %plan = moe.route %logits {router_text} : {lg} -> {plan}",
        f"  %slots = moe.dispatch %x, %plan : {x}, {plan} -> {sl}",
        f"  %y = moe.experts %slots {mlp}",
        f"  %out = moe.combine %y, %plan : {sl}, {plan} -> {x}",
    ]
    returned = ["%out"]
    if stats:
        lines.append(f"  %imp, %load, %dropped, %lost = moe.route_stats %logits, %plan : {lg}, {plan} -> "
                     + ", ".join(t for t, _ in results[1:5]))
        returned += ["%imp", "%load", "%dropped", "%lost"]
    if slots:
        lines.append(f"  %slot_token, %slot_weight = moe.plan_slots %plan : {plan} -> "
                     + ", ".join(t for t, _ in results[-2:]))
        returned += ["%slot_token", "%slot_weight"]
    lines.append(f"  return {', '.join(returned)} : {', '.join(t for t, _ in results)}")
    lines.append("}")
    return "\n".join(lines) + "\n", [n for _, n in results]


# GPU targets, f32, static groups: the cases also compiled with other threads per block, whose
# results must be bitwise the same (case_driver.GPU_BLOCK_SIZES): one of each routing path
# (top-k with BPR and capacity, the sorted layout, Sinkhorn, expert choice's k-sparse OT and
# large tiles, Soft MoE, per-image routing, 128 experts).
BLOCK_SIZE_CASES = {"tc_bpr", "tc_dropless_groups", "tc_sinkhorn", "tc_many_experts",
                    "ec_ksparse", "ec_large", "soft_p1", "per_image_cls_cap"}


def run_case(case, build, work, seed):
    name = case[0]
    text, results = layer_text(*case)
    case_dir = os.path.join(work, name)
    os.makedirs(case_dir, exist_ok=True)
    mlir = os.path.join(case_dir, f"{name}.mlir")
    with open(mlir, "w") as f:
        f.write(text)
    # The data and reference results of the case's groups, made from the static layer.
    make_example_data.write_example(mlir, case_dir, seed=seed)
    if case_driver.DYNAMIC_GROUPS:
        with open(mlir, "w") as f:
            f.write(layer_text(*case, dynamic=True)[0])
    so = os.path.join(case_dir, f"{name}.so")
    layout = case[10] if len(case) > 10 else "auto"
    check = ",".join(f"{r}={os.path.join(case_dir, 'expected', r + '.npy')}" for r in results)
    run_args = ["--weights", os.path.join(case_dir, "weights.safetensors"),
                "--inputs", os.path.join(case_dir, "inputs", "x.npy"), "--check", check]
    if case_driver.TARGET == "ptx":
        ok, log = case_driver.compile_for_cuda(build, mlir, layout)
    else:
        jit = name in JIT_CASES and case_driver.TARGET == "cpu"
        vary_blocks = (name in BLOCK_SIZE_CASES and case_driver.PRECISION == "f32"
                       and not case_driver.DYNAMIC_GROUPS)
        ok, log = case_driver.compile_and_run(build, mlir, so, run_args, jit=jit,
                                              layout=layout, vary_blocks=vary_blocks)
    label = case[1] if layout == "auto" else f"{case[1]}, {layout} layout"
    return ok, label, log


if __name__ == "__main__":
    sys.exit(case_driver.main(CASES, run_case, "router_matrix.py"))
