"""The routing part of a standard layer as a function of its own, to time the routing share.

    python3 bench/route_ir.py examples/L1.mlir      # prints the truncated function

``route_only(path)`` reads a level-1 layer (test/reference/moe_ir.py) and returns the text of
a function ``@<name>_route`` that keeps the layer's ``moe.gate`` and ``moe.route`` and returns
the plan's slot table (``moe.plan_slots``) and, when the layer has them, its
``moe.route_stats``, instead of the layer output: gate, routing and statistics, with no
dispatch, experts or combine.  Its arguments are the gate's (the tokens and the gate weight),
under the layer's tensor names, so the layer's weights file and inputs run it.  A Soft MoE
layer has no slot table and its routing is its dense dispatch and combine: ``route_only``
returns None for it (the routing share is then n/a).
"""
from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "test", "reference"))
import moe_ir  # noqa: E402

_STATEMENT = re.compile(r"^\s*(?:%[\w$.-]+(?:\s*,\s*%[\w$.-]+)*\s*=\s*([\w.]+)|return\b)")


def _statements(text: str) -> list:
    """[(op, text)] of the function body: each statement with its continuation lines."""
    body = text[text.index(") {") + 3 if ") {" in text else 0:]
    out = []
    for line in body.split("\n"):
        code = line.split("//", 1)[0]
        m = _STATEMENT.match(code)
        if m:
            out.append([m.group(1) or "return", code.rstrip()])
        elif code.strip() and out and code.strip() != "}":
            out[-1][1] += "\n" + code.rstrip()
    return [tuple(s) for s in out]


def route_only(path) -> str | None:
    fn = moe_ir.parse_moe_file(path)
    if not fn.router.sparse:
        return None
    with open(path) as f:
        text = f.read()
    ops = {}
    for op, statement in _statements(text):
        ops.setdefault(op, statement)
    if "moe.gate" not in ops or "moe.route" not in ops:
        return None
    plan_ssa = re.match(r"\s*(%[\w$.-]+)", ops["moe.route"]).group(1)
    p = fn.plan
    plan_type = (f"!moe.plan<groups = {p.groups}, tokens = {p.tokens}, experts = {p.experts}, "
                 f"capacity = {p.capacity}>")
    shape = f"{p.groups}x{p.experts}x{p.capacity}"
    results = [("%route_slot_token", f"tensor<{shape}xi64>", "slot_token"),
               ("%route_slot_weight", f"tensor<{shape}xf32>", "slot_weight")]
    body = [ops["moe.gate"], ops["moe.route"],
            f"  %route_slot_token, %route_slot_weight = moe.plan_slots {plan_ssa}\n"
            f"      : {plan_type} -> tensor<{shape}xi64>, tensor<{shape}xf32>"]
    stats = [r for r in fn.results if r.quantity in moe_ir.STATS + (moe_ir.INVALID_TOKENS,)]
    if stats and "moe.route_stats" in ops:
        body.append(ops["moe.route_stats"])
        results += [(r.value, str(r.type), r.name) for r in stats]
    args = [a for a in (fn.gate.input, fn.gate.weight, fn.gate.scale) if a is not None]
    signature = ",\n    ".join(f'{a.ssa}: {a.type} {{moe.{a.role} = "{a.name}"}}'
                               for a in args)
    outs = ",\n       ".join(f'{t} {{moe.output = "{n}"}}' for _, t, n in results)
    ret = (f"  return {', '.join(v for v, _, _ in results)} : "
           f"{', '.join(t for _, t, _ in results)}")
    return (f"// The gate and routing of @{fn.name} ({os.path.basename(str(path))}): its slot "
            "table and statistics, no experts.\n"
            f"func.func @{fn.name}_route(\n    {signature})\n    -> ({outs}) {{\n"
            + "\n".join(body) + "\n" + ret + "\n}\n")


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(route_only(path) or f"// {path}: no slot table (Soft MoE): no routing-only form")
