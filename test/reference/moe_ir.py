"""Reads a level-1 moe layer from .mlir text: the facts a test needs to feed and check it.

Handles one ``func.func`` whose body is the chain

    %l    = moe.gate %x, %w_gate               (or %x, %phi scale %scale: Soft MoE)
    %plan = moe.route %l <router>
    %s    = moe.dispatch %x, %plan
    %y    = moe.experts %s mlp(act) up %w1 [up_bias %b1] down %w2 [down_bias %b2]
    %out  = moe.combine %y, %plan
    %a, %b, %c, %d[, %e] = moe.route_stats %l, %plan   (optional; %e: invalid tokens)
    %t, %w = moe.plan_slots %plan                 (optional)
    return ...

and returns a ``MoEFunction``: the arguments with their tensor names and roles, the results
with their names and what each one is, the router configuration, the plan type and which
argument plays which part.  Operands are matched by following SSA names.  This is not an MLIR
parser: it knows exactly this chain (in the printed form of docs/reference/MoEDialect.md) and
raises ``MoEIRError`` with a message naming what is missing or wrong for anything else.

Tensor names: an argument's ``{moe.input = "x"}`` or ``{moe.weight = "w_gate"}``, a result's
``{moe.output = "out"}``.  An unnamed argument is named after its SSA value (without ``%``) and
is an input if it is the first argument, a weight otherwise; an unnamed result i is
``result<i>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MoEIRError",
    "TensorType",
    "PlanType",
    "Score",
    "Router",
    "Argument",
    "Result",
    "Gate",
    "Route",
    "Experts",
    "MoEFunction",
    "parse_router",
    "parse_moe_function",
    "parse_moe_file",
]

ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "silu", "swiglu")
STATS = ("importance_loss", "expert_load", "dropped_assignments", "dropped_tokens")
INVALID_TOKENS = "invalid_tokens"  # the optional fifth result of moe.route_stats
PLAN_SLOTS = ("slot_token", "slot_weight")


class MoEIRError(ValueError):
    """The IR is not a level-1 moe layer this module can read; the message says why."""


# --------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorType:
    """A static ranked tensor type: ``tensor<1x400x512xf32>`` -> shape (1, 400, 512), "f32"."""

    shape: tuple
    element: str

    def __str__(self) -> str:
        return "tensor<" + "".join(f"{n}x" for n in self.shape) + self.element + ">"


@dataclass(frozen=True)
class PlanType:
    """``!moe.plan<groups = G, tokens = S, experts = E, capacity = C>``."""

    groups: int
    tokens: int
    experts: int
    capacity: int


_TENSOR_TYPE = re.compile(r"tensor<((?:[0-9?]+x)*)([a-z][a-z0-9]*)>")
_PLAN_TYPE = re.compile(
    r"!moe\.plan<\s*groups\s*=\s*(\d+)\s*,\s*tokens\s*=\s*(\d+)\s*,"
    r"\s*experts\s*=\s*(\d+)\s*,\s*capacity\s*=\s*(\d+)\s*>"
)


def _tensor_type(text: str, what: str) -> TensorType:
    m = _TENSOR_TYPE.fullmatch(text.strip())
    if not m:
        raise MoEIRError(f"{what}: expected a ranked tensor type, got '{text.strip()}'")
    dims = [d for d in m.group(1).split("x") if d]
    if "?" in dims:
        raise MoEIRError(f"{what}: dynamic shapes are not supported, got '{text.strip()}'")
    return TensorType(tuple(int(d) for d in dims), m.group(2))


def _plan_type(text: str, what: str) -> PlanType:
    m = _PLAN_TYPE.fullmatch(text.strip())
    if not m:
        raise MoEIRError(f"{what}: expected !moe.plan<groups = .., tokens = .., experts = .., "
                         f"capacity = ..>, got '{text.strip()}'")
    return PlanType(*(int(v) for v in m.groups()))


# --------------------------------------------------------------------------------------------
# Router attributes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """A token/expert-choice score: softmax, sigmoid, sinkhorn<..> or ksparse_ot<..>."""

    kind: str = "softmax"
    iterations: int | None = None  # sinkhorn, ksparse_ot (default 20)
    epsilon: float | None = None  # sinkhorn (default 1.0)
    learning_rate: float | None = None  # ksparse_ot (default 0.01)


@dataclass(frozen=True)
class Router:
    """A router attribute with every default filled in.

    kind: "token_choice", "expert_choice", "soft" or "per_image".  Capacity: exactly one of
    ``capacity_factor``, ``capacity`` (a fixed count; items for per_image) or ``dropless``
    (per_image is dropless when given neither).  ``rounding``/``multiple_of`` shape a capacity
    computed from ``capacity_factor``.
    """

    kind: str
    k: int | None = None
    capacity_factor: float | None = None
    capacity: int | None = None
    dropless: bool = False
    rounding: str = "ceil"
    multiple_of: int = 4
    priority: str = "position"
    score: Score = Score()
    renormalize: bool = False
    slots_per_expert: int | None = None
    tokens_per_item: int | None = None
    pooling: str | None = None

    @property
    def sparse(self) -> bool:
        return self.kind != "soft"


_ROUTER_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)|(?P<id>[A-Za-z_]\w*)"
    r"|(?P<punct>[<>=,]))"
)

_ROUTER_KEYS = {
    "token_choice": ("k", "capacity_factor", "capacity", "dropless", "rounding", "multiple_of",
                     "priority", "score", "renormalize"),
    "expert_choice": ("capacity_factor", "capacity", "rounding", "multiple_of", "score"),
    "soft": ("slots_per_expert", "capacity_factor"),
    "per_image": ("tokens_per_item", "k", "pooling", "capacity_factor", "capacity", "dropless",
                  "rounding", "multiple_of"),
}
_SCORES = {"token_choice": ("softmax", "sigmoid", "sinkhorn"),
           "expert_choice": ("softmax", "sinkhorn", "ksparse_ot")}


class _RouterParser:
    """Recursive descent over ``name<key [= value], ...>`` with nested ``word<...>`` values."""

    def __init__(self, text: str):
        self.text = text
        self.tokens = []
        pos, text = 0, text.rstrip()
        while pos < len(text):
            m = _ROUTER_TOKEN.match(text, pos)
            if not m:
                raise self.error(f"unexpected text '{text[pos:].strip()[:20]}'")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.pos = 0

    def error(self, message: str) -> MoEIRError:
        return MoEIRError(f"router '{self.text.strip()}': {message}")

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else (None, None)

    def take(self, kind, value=None, what=None):
        k, v = self.peek()
        if k != kind or (value is not None and v != value):
            found = "the end" if k is None else f"'{v}'"
            raise self.error(f"expected {what or repr(value)}, found {found}")
        self.pos += 1
        return v

    def entries(self, optional: bool) -> dict:
        """``<key [= value], ...>`` -> {key: value}; value None (a flag), number, (word, dict)."""
        if self.peek() != ("punct", "<"):
            if optional:
                return {}
            self.take("punct", "<")
        self.take("punct", "<")
        out = {}
        while True:
            key = self.take("id", what="a parameter name")
            if key in out:
                raise self.error(f"'{key}' is given twice")
            value = None
            if self.peek() == ("punct", "="):
                self.pos += 1
                kind, v = self.peek()
                if kind == "num":
                    self.pos += 1
                    value = float(v) if re.search(r"[.eE]", v) else int(v)
                elif kind == "id":
                    self.pos += 1
                    value = (v, self.entries(optional=True))
                else:
                    raise self.error(f"expected a value after '{key} ='")
            out[key] = value
            if self.peek() == ("punct", ","):
                self.pos += 1
                continue
            self.take("punct", ">", what="',' or '>'")
            return out


def _value(router: str, entries: dict, key: str, kind: str):
    """entries[key] checked to be an int, a number, a bare word or a flag."""
    v = entries[key]
    ok = {
        "int": isinstance(v, int),
        "float": isinstance(v, (int, float)),
        "word": isinstance(v, tuple) and not v[1],
        "flag": v is None,
    }[kind]
    if not ok:
        expected = {"int": "an integer", "float": "a number", "word": "a keyword",
                    "flag": "no value"}[kind]
        raise MoEIRError(f"router {router}: '{key}' takes {expected}")
    if kind == "word":
        return v[0]
    return float(v) if kind == "float" else v


def _enum(router: str, entries: dict, key: str, allowed: tuple, default: str) -> str:
    if key not in entries:
        return default
    word = _value(router, entries, key, "word")
    if word not in allowed:
        raise MoEIRError(f"router {router}: {key} must be {' or '.join(allowed)}, got '{word}'")
    return word


def _score(router: str, entries: dict) -> Score:
    if "score" not in entries:
        return Score()
    v = entries["score"]
    if not isinstance(v, tuple):
        raise MoEIRError(f"router {router}: score must be one of {', '.join(_SCORES[router])}")
    name, params = v
    if name not in _SCORES[router]:
        raise MoEIRError(f"router {router}: score must be one of {', '.join(_SCORES[router])}, "
                         f"got '{name}'")
    allowed = {"sinkhorn": ("iterations", "epsilon"),
               "ksparse_ot": ("iterations", "learning_rate")}.get(name, ())
    for key in params:
        if key not in allowed:
            raise MoEIRError(f"router {router}: unknown {name} parameter '{key}'")
    if name == "sinkhorn":
        return Score(
            "sinkhorn",
            iterations=_value(name, params, "iterations", "int") if "iterations" in params else 20,
            epsilon=_value(name, params, "epsilon", "float") if "epsilon" in params else 1.0,
        )
    if name == "ksparse_ot":
        return Score(
            "ksparse_ot",
            iterations=_value(name, params, "iterations", "int") if "iterations" in params else 20,
            learning_rate=(_value(name, params, "learning_rate", "float")
                           if "learning_rate" in params else 0.01),
        )
    return Score(name)


def parse_router(text: str) -> Router:
    """Parses the router of a ``moe.route`` (``token_choice<k = 2, ...>``; ``#moe.`` optional)."""
    text = text.strip()
    if text.startswith("#moe."):
        text = text[len("#moe."):]
    p = _RouterParser(text)
    kind = p.take("id", what="a router name")
    if kind not in _ROUTER_KEYS:
        raise p.error(f"unknown router '{kind}', expected one of {', '.join(_ROUTER_KEYS)}")
    entries = p.entries(optional=False)
    if p.peek()[0] is not None:
        raise p.error(f"unexpected '{p.peek()[1]}' after the router")
    for key in entries:
        if key not in _ROUTER_KEYS[kind]:
            raise MoEIRError(f"router {kind}: unknown parameter '{key}', expected one of "
                             f"{', '.join(_ROUTER_KEYS[kind])}")

    def get(key, vkind, default=None):
        return _value(kind, entries, key, vkind) if key in entries else default

    if kind == "soft":
        if ("slots_per_expert" in entries) == ("capacity_factor" in entries):
            raise MoEIRError("router soft: give exactly one of 'slots_per_expert' and "
                             "'capacity_factor'")
        return Router("soft", slots_per_expert=get("slots_per_expert", "int"),
                      capacity_factor=get("capacity_factor", "float"))

    fields = dict(
        capacity_factor=get("capacity_factor", "float"),
        capacity=get("capacity", "int"),
        dropless=get("dropless", "flag", False) is None,
        rounding=_enum(kind, entries, "rounding", ("ceil", "round"), "ceil"),
        multiple_of=get("multiple_of", "int", 4),
    )
    forms = [f for f in ("capacity_factor", "capacity", "dropless") if f in entries]
    if len(forms) > 1:
        raise MoEIRError(f"router {kind}: give only one of capacity_factor, capacity, dropless; "
                         f"got {', '.join(forms)}")
    if ("rounding" in entries or "multiple_of" in entries) and "capacity_factor" not in entries:
        raise MoEIRError(f"router {kind}: rounding and multiple_of apply only with "
                         "capacity_factor")

    if kind == "token_choice":
        if "k" not in entries:
            raise MoEIRError("router token_choice: missing 'k'")
        if not forms:
            raise MoEIRError("router token_choice: missing the capacity: give capacity_factor, "
                             "capacity or dropless")
        return Router(kind, k=get("k", "int"),
                      priority=_enum(kind, entries, "priority", ("position", "bpr"), "position"),
                      score=_score(kind, entries),
                      renormalize=get("renormalize", "flag", False) is None, **fields)
    if kind == "expert_choice":
        if not forms:
            raise MoEIRError("router expert_choice: missing the capacity: give capacity_factor "
                             "or capacity")
        return Router(kind, score=_score(kind, entries), **fields)
    missing = [key for key in ("tokens_per_item", "k", "pooling") if key not in entries]
    if missing:
        raise MoEIRError(f"router per_image: missing {', '.join(repr(m) for m in missing)}")
    fields["dropless"] = not (fields["capacity_factor"] or fields["capacity"])
    return Router(kind, k=get("k", "int"), tokens_per_item=get("tokens_per_item", "int"),
                  pooling=_enum(kind, entries, "pooling", ("cls", "mean"), "cls"), **fields)


# --------------------------------------------------------------------------------------------
# The function
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Argument:
    """A function argument: SSA name (with %), tensor name, role "input" or "weight", type."""

    ssa: str
    name: str
    role: str
    type: TensorType


@dataclass(frozen=True)
class Result:
    """A function result.

    quantity says which value it is: "output" (moe.combine), "logits" (moe.gate), "slots"
    (moe.dispatch), "expert_output" (moe.experts), a route_stats output ("importance_loss",
    "expert_load", "dropped_assignments", "dropped_tokens") or a plan_slots output
    ("slot_token", "slot_weight").
    """

    index: int
    name: str
    type: TensorType
    value: str
    quantity: str


@dataclass(frozen=True)
class Gate:
    input: Argument
    weight: Argument  # w_gate [d, E], or phi [d, E, p] with a scale
    scale: Argument | None
    logits_type: TensorType


@dataclass(frozen=True)
class Route:
    router: Router
    plan: PlanType


@dataclass(frozen=True)
class Experts:
    activation: str
    up: Argument
    up_bias: Argument | None
    down: Argument
    down_bias: Argument | None


@dataclass(frozen=True)
class MoEFunction:
    """One level-1 moe layer, as read by ``parse_moe_function``."""

    name: str
    arguments: tuple
    results: tuple
    gate: Gate
    route: Route
    dispatch_input: Argument  # the tokens moe.dispatch reads (normally gate.input)
    experts: Experts
    has_route_stats: bool

    @property
    def router(self) -> Router:
        return self.route.router

    @property
    def plan(self) -> PlanType:
        return self.route.plan

    @property
    def inputs(self) -> tuple:
        return tuple(a for a in self.arguments if a.role == "input")

    @property
    def weights(self) -> tuple:
        return tuple(a for a in self.arguments if a.role == "weight")


_STRING_OR_COMMENT = re.compile(r'"(?:[^"\\\n]|\\.)*"|//[^\n]*')
_SSA = r"%[\w$.-]+"
_STATEMENT_START = re.compile(
    rf"^\s*(?:({_SSA}(?:\s*,\s*{_SSA})*)\s*=\s*([\w.]+)|((?:func\.)?return)\b|([a-z_]\w*\.[\w.]+))"
)
_NAME_ATTR = re.compile(r'\bmoe\.(input|weight|output)\s*=\s*("(?:[^"\\]|\\.)*"|[^,}\s]+)')


def _strip_comments(text: str) -> str:
    return _STRING_OR_COMMENT.sub(lambda m: m.group(0) if m.group(0)[0] == '"' else "", text)


def _matching(text: str, start: int) -> int:
    """Index of the bracket closing text[start] (one of ( { [ <), skipping strings and '->'."""
    pairs = {"(": ")", "{": "}", "[": "]", "<": ">"}
    stack, i = [], start
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _matching_quote(text, i)
        elif c in pairs:
            stack.append(pairs[c])
        elif c in ")}]" or (c == ">" and text[i - 1] != "-"):
            if not stack or stack[-1] != c:
                break
            stack.pop()
            if not stack:
                return i
        i += 1
    raise MoEIRError(f"unbalanced '{text[start]}' in '{text[start:start + 40].strip()}...'")


def _split_top(text: str, sep: str = ",") -> list:
    """Splits at ``sep`` outside brackets and strings; drops empty trailing parts."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _matching_quote(text, i)
        elif c in "({[<":
            depth += 1
        elif c in ")}]" or (c == ">" and text[i - 1] != "-"):
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _matching_quote(text: str, i: int) -> int:
    j = i + 1
    while j < len(text) and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j


def _name_attrs(attr_text: str, what: str) -> dict:
    out = {}
    for m in _NAME_ATTR.finditer(attr_text):
        key, value = m.groups()
        if not (value.startswith('"') and len(value) > 2):
            raise MoEIRError(f"{what}: moe.{key} must be a non-empty string, got {value}")
        out[key] = re.sub(r"\\([0-9a-fA-F]{2}|.)",
                          lambda e: chr(int(e.group(1), 16)) if len(e.group(1)) == 2
                          else e.group(1), value[1:-1])
    return out


def _split_type_and_attrs(text: str, what: str):
    """'tensor<...> {attrs}' -> (TensorType, {moe.* name attrs})."""
    brace = text.find("{")
    type_text, attrs = (text, "") if brace < 0 else (text[:brace], text[brace:])
    return _tensor_type(type_text, what), _name_attrs(attrs, what)


def _parse_arguments(text: str) -> list:
    args = []
    for i, part in enumerate(_split_top(text)):
        m = re.fullmatch(rf"({_SSA})\s*:\s*(.*)", part, re.S)
        if not m:
            raise MoEIRError(f"argument #{i}: expected '%name: type', got '{part}'")
        ssa = m.group(1)
        ttype, attrs = _split_type_and_attrs(m.group(2), f"argument #{i} ({ssa})")
        if "output" in attrs:
            raise MoEIRError(f"argument #{i} ({ssa}): moe.output names a result; use "
                             "moe.input or moe.weight")
        if "input" in attrs and "weight" in attrs:
            raise MoEIRError(f"argument #{i} ({ssa}) has both moe.input and moe.weight")
        if "input" in attrs or "weight" in attrs:
            role = "input" if "input" in attrs else "weight"
            name = attrs[role]
        else:
            role, name = ("input" if i == 0 else "weight"), ssa[1:]
        args.append(Argument(ssa, name, role, ttype))
    return args


def _parse_result_types(text: str) -> list:
    """The text after '->': '(T {attrs}, T)' or 'T' -> [(TensorType, name or None)]."""
    text = text.strip()
    parts = _split_top(text[1:-1]) if text.startswith("(") else [text]
    out = []
    for i, part in enumerate(parts):
        ttype, attrs = _split_type_and_attrs(part, f"result #{i}")
        if "input" in attrs or "weight" in attrs:
            raise MoEIRError(f"result #{i}: moe.input/moe.weight name arguments; use moe.output")
        out.append((ttype, attrs.get("output")))
    return out


@dataclass
class _Statement:
    results: list
    op: str
    body: str  # everything after the op name
    line: int


def _statements(body: str, first_line: int) -> list:
    out = []
    for n, line in enumerate(body.split("\n")):
        m = _STATEMENT_START.match(line)
        if m:
            results = re.findall(_SSA, m.group(1)) if m.group(1) else []
            op = m.group(2) or m.group(3) or m.group(4)
            out.append(_Statement(results, op, line[m.end():], first_line + n))
        elif line.strip():
            if not out:
                raise MoEIRError(f"line {first_line + n}: expected an operation, got "
                                 f"'{line.strip()}'")
            out[-1].body += "\n" + line
    return out


def _operands_and_types(st: _Statement, where: str):
    """'%a, %b : T1, T2 -> R' -> ('%a, %b', ['T1', 'T2'], 'R')."""
    parts = _split_top(st.body, ":")
    if len(parts) != 2:
        raise MoEIRError(f"{where}: expected '<operands> : <types>'")
    operands, types = parts
    arrow = _split_top(types, "->")
    if len(arrow) != 2:
        raise MoEIRError(f"{where}: expected '<operand types> -> <result types>'")
    ins = arrow[0].strip()
    if ins.startswith("(") and ins.endswith(")"):
        ins = ins[1:-1]
    return operands.strip(), _split_top(ins), arrow[1].strip()


def _ssa_list(text: str, count: int, where: str, form: str) -> list:
    names = [p.strip() for p in text.split(",")]
    if len(names) != count or not all(re.fullmatch(_SSA, n) for n in names):
        raise MoEIRError(f"{where}: expected operands '{form}', got '{text}'")
    return names


def _expect_shape(where: str, what: str, ttype: TensorType, shape: tuple) -> None:
    if len(ttype.shape) != len(shape) or any(
        e is not None and a != e for a, e in zip(ttype.shape, shape)
    ):
        want = "x".join("?" if e is None else str(e) for e in shape) or "a 0-d tensor"
        raise MoEIRError(f"{where}: {what} has type {ttype}, expected shape [{want}]")


def parse_moe_function(text: str, source: str = "<string>") -> MoEFunction:
    """Reads the one ``func.func`` of ``text``; ``source`` prefixes error messages."""
    try:
        return _parse(_strip_comments(text))
    except MoEIRError as e:
        raise MoEIRError(f"{source}: {e}") from None


def parse_moe_file(path) -> MoEFunction:
    path = Path(path)
    return parse_moe_function(path.read_text(), source=str(path))


def _signature(text: str) -> tuple:
    """(name, arguments, [(result type, name)], body statements) of the one func.func."""
    funcs = list(re.finditer(r"\bfunc\.func\b", text))
    if len(funcs) != 1:
        raise MoEIRError(f"expected exactly one func.func, found {len(funcs)}")
    m = re.compile(r"func\.func\s+(?:(?:public|private|nested)\s+)?@([\w$.-]+)\s*\(").search(
        text, funcs[0].start()
    )
    if not m:
        raise MoEIRError("func.func: expected '@name(' after func.func")
    fname = m.group(1)
    close = _matching(text, m.end() - 1)
    arguments = _parse_arguments(text[m.end():close])
    pos, result_decls = close + 1, []
    arrow = re.compile(r"\s*->\s*").match(text, pos)
    if arrow:
        pos = arrow.end()
        if text.startswith("(", pos):
            end = _matching(text, pos) + 1
        else:  # one result type, up to 'attributes' or the body
            end = re.compile(r".*?(?=\s*(?:\battributes\b|\{))", re.S).match(text, pos).end()
        result_decls = _parse_result_types(text[pos:end])
        pos = end
    attributes = re.compile(r"\s*attributes\s*(?=\{)").match(text, pos)
    if attributes:
        pos = _matching(text, attributes.end()) + 1
    body_open = re.compile(r"\s*").match(text, pos).end()
    if not text.startswith("{", body_open):
        raise MoEIRError(f"@{fname}: expected the function body '{{' after the signature")
    body_close = _matching(text, body_open)
    statements = _statements(text[body_open + 1: body_close],
                             text.count("\n", 0, body_open) + 1)
    return fname, arguments, result_decls, statements


def _collect_ops(fname: str, statements: list) -> tuple:
    """({op name: (statement, where)}, return statement), checking there is one of each."""
    ops = {}
    ret = None
    for st in statements:
        where = f"line {st.line}: {st.op}"
        if st.op in ("return", "func.return"):
            ret = st
            continue
        if st.op == "moe.experts" and not re.match(rf"\s*{_SSA}\s+mlp\b", st.body):
            raise MoEIRError(f"{where}: only the named MLP form 'mlp(act) up %w1 [up_bias %b1] "
                             "down %w2 [down_bias %b2]' is supported, not the region form")
        if st.op not in ("moe.gate", "moe.route", "moe.dispatch", "moe.experts", "moe.combine",
                         "moe.route_stats", "moe.plan_slots"):
            raise MoEIRError(f"line {st.line}: unsupported op '{st.op}'; expected only moe.gate, "
                             "moe.route, moe.dispatch, moe.experts, moe.combine, "
                             "moe.route_stats, moe.plan_slots and return")
        if st.op in ops:
            raise MoEIRError(f"{where}: expected one {st.op}, found a second one")
        expected_results = {"moe.route_stats": (4, 5), "moe.plan_slots": (2,)}.get(st.op, (1,))
        if len(st.results) not in expected_results:
            raise MoEIRError(f"{where}: expected {' or '.join(map(str, expected_results))} "
                             f"result(s), got {len(st.results)}")
        ops[st.op] = (st, where)
    for op in ("moe.gate", "moe.route", "moe.dispatch", "moe.experts", "moe.combine"):
        if op not in ops:
            raise MoEIRError(f"@{fname}: no {op} (expected the chain moe.gate -> moe.route -> "
                             "moe.dispatch -> moe.experts -> moe.combine)")
    if ret is None:
        raise MoEIRError(f"@{fname}: no return")
    return ops, ret


def _check_shapes(fn: MoEFunction, slots_type, y_type, out_type, stats_types,
                  plan_slots_types) -> None:
    """The shapes the generator relies on, consistent with the plan type."""
    router, plan, experts = fn.router, fn.plan, fn.experts
    gate_input, gate_weight, gate_scale = fn.gate.input, fn.gate.weight, fn.gate.scale
    logits_type, dispatch_input = fn.gate.logits_type, fn.dispatch_input
    G, S, E, C = plan.groups, plan.tokens, plan.experts, plan.capacity
    d = gate_input.type.shape[-1] if gate_input.type.shape else None
    where = "moe.gate"
    _expect_shape(where, f"input {gate_input.ssa}", gate_input.type, (G, S, d))
    if gate_scale is None:
        if router.kind == "soft":
            raise MoEIRError("moe.gate: the soft router needs the normalised gate "
                             "'moe.gate %x, %phi scale %s'")
        _expect_shape(where, f"weight {gate_weight.ssa}", gate_weight.type, (d, E))
        _expect_shape(where, "result", logits_type, (G, S, E))
    else:
        if router.kind != "soft":
            raise MoEIRError(f"moe.gate: the scale form is for the soft router, not "
                             f"{router.kind}")
        p = C  # slots per expert: given, or round(S * cf / E)
        if router.slots_per_expert is not None and C != router.slots_per_expert:
            raise MoEIRError(f"moe.route: plan capacity {C} != slots_per_expert "
                             f"{router.slots_per_expert}")
        _expect_shape(where, f"phi {gate_weight.ssa}", gate_weight.type, (d, E, p))
        _expect_shape(where, f"scale {gate_scale.ssa}", gate_scale.type, ())
        _expect_shape(where, "result", logits_type, (G, S, E * p))
    _expect_shape("moe.dispatch", f"input {dispatch_input.ssa}", dispatch_input.type, (G, S, d))
    _expect_shape("moe.dispatch", "result", slots_type, (E, G * C, d))
    up_cols = experts.up.type.shape[-1] if experts.up.type.shape else None
    _expect_shape("moe.experts", f"up {experts.up.ssa}", experts.up.type, (E, d, up_cols))
    hidden = up_cols // 2 if experts.activation == "swiglu" else up_cols
    if experts.activation == "swiglu" and up_cols % 2:
        raise MoEIRError(f"moe.experts: swiglu needs an even up width, got {up_cols}")
    if experts.up_bias is not None:
        _expect_shape("moe.experts", f"up_bias {experts.up_bias.ssa}", experts.up_bias.type,
                      (E, up_cols))
    d_out = experts.down.type.shape[-1] if experts.down.type.shape else None
    _expect_shape("moe.experts", f"down {experts.down.ssa}", experts.down.type,
                  (E, hidden, d_out))
    if experts.down_bias is not None:
        _expect_shape("moe.experts", f"down_bias {experts.down_bias.ssa}",
                      experts.down_bias.type, (E, d_out))
    _expect_shape("moe.experts", "result", y_type, (E, G * C, d_out))
    _expect_shape("moe.combine", "result", out_type, (G, S, d_out))
    if stats_types:
        for stat, ttype, shape in zip(STATS + (INVALID_TOKENS,), stats_types,
                                      ((G,), (G, E), (G,), (G,), (G,))):
            _expect_shape("moe.route_stats", stat, ttype, shape)
    for what, ttype in zip(PLAN_SLOTS, plan_slots_types):
        _expect_shape("moe.plan_slots", what, ttype, (G, E, C))


def _results(fname: str, ret: _Statement, result_decls: list, values: dict,
             plan_ssa: str) -> tuple:
    """The function results; ``values`` maps a chain value to (quantity, type)."""
    where = f"line {ret.line}: return"
    ret_operands = _split_top(ret.body, ":")[0] if ret.body.strip() else ""
    ret_values = [v.strip() for v in ret_operands.split(",") if v.strip()]
    if len(ret_values) != len(result_decls):
        raise MoEIRError(f"{where}: returns {len(ret_values)} value(s) but @{fname} declares "
                         f"{len(result_decls)} result(s)")
    results = []
    for i, (value, (ttype, name)) in enumerate(zip(ret_values, result_decls)):
        if value == plan_ssa:
            raise MoEIRError(f"{where}: result #{i} is the plan {value}, which is not a tensor")
        if value not in values:
            raise MoEIRError(f"{where}: result #{i} {value} is not a value of the moe chain "
                             "(moe.combine, moe.route_stats, moe.plan_slots, moe.gate, "
                             "moe.dispatch or "
                             "moe.experts)")
        quantity, vtype = values[value]
        if vtype != ttype:
            raise MoEIRError(f"{where}: result #{i} {value} has type {vtype} but @{fname} "
                             f"declares {ttype}")
        results.append(Result(i, name if name is not None else f"result{i}", ttype, value,
                              quantity))
    rnames = [r.name for r in results]
    dup = sorted({n for n in rnames if rnames.count(n) > 1})
    if dup:
        raise MoEIRError(f"@{fname}: result name '{dup[0]}' is used twice")
    return tuple(results)


def _parse(text: str) -> MoEFunction:
    fname, arguments, result_decls, statements = _signature(text)
    by_ssa = {a.ssa: a for a in arguments}
    if len(by_ssa) != len(arguments):
        raise MoEIRError(f"@{fname}: two arguments have the same SSA name")
    names = [a.name for a in arguments]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise MoEIRError(f"@{fname}: argument name '{dup[0]}' is used twice")

    ops, ret = _collect_ops(fname, statements)

    def argument(ssa: str, where: str, what: str) -> Argument:
        if ssa not in by_ssa:
            raise MoEIRError(f"{where}: {what} {ssa} is not a function argument")
        return by_ssa[ssa]

    def produced_by(ssa: str, op: str, where: str, what: str) -> None:
        if ops[op][0].results[0] != ssa:
            raise MoEIRError(f"{where}: {what} {ssa} is not the result of {op} "
                             f"({ops[op][0].results[0]})")

    # moe.gate
    st, where = ops["moe.gate"]
    operands, _, out_type = _operands_and_types(st, where)
    gm = re.fullmatch(rf"({_SSA})\s*,\s*({_SSA})(?:\s+scale\s+({_SSA}))?", operands)
    if not gm:
        raise MoEIRError(f"{where}: expected operands '%x, %w' or '%x, %phi scale %s', "
                         f"got '{operands}'")
    gate_input = argument(gm.group(1), where, "input")
    gate_weight = argument(gm.group(2), where, "weight")
    gate_scale = argument(gm.group(3), where, "scale") if gm.group(3) else None
    logits_type = _tensor_type(out_type, f"{where}: result")

    # moe.route
    st, where = ops["moe.route"]
    parts = _split_top(st.body, ":")
    if len(parts) != 2:
        raise MoEIRError(f"{where}: expected '%logits <router> : <type> -> <plan type>'")
    rm = re.fullmatch(rf"\s*({_SSA})\s+(.*)", parts[0], re.S)
    if not rm:
        raise MoEIRError(f"{where}: expected '%logits <router>', got '{parts[0].strip()}'")
    produced_by(rm.group(1), "moe.gate", where, "logits")
    try:
        router = parse_router(rm.group(2))
    except MoEIRError as e:
        raise MoEIRError(f"{where}: {e}") from None
    arrow = _split_top(parts[1], "->")
    if len(arrow) != 2:
        raise MoEIRError(f"{where}: expected '<logits type> -> <plan type>'")
    plan = _plan_type(arrow[1], f"{where}: result")
    plan_ssa = st.results[0]

    # moe.dispatch
    st, where = ops["moe.dispatch"]
    operands, _, out_type = _operands_and_types(st, where)
    x_ssa, p_ssa = _ssa_list(operands, 2, where, "%x, %plan")
    dispatch_input = argument(x_ssa, where, "input")
    if p_ssa != plan_ssa:
        raise MoEIRError(f"{where}: plan {p_ssa} is not the result of moe.route ({plan_ssa})")
    slots_type = _tensor_type(out_type, f"{where}: result")

    # moe.experts
    st, where = ops["moe.experts"]
    operands, _, out_type = _operands_and_types(st, where)
    em = re.fullmatch(
        rf"({_SSA})\s+mlp\s*\(\s*(\w+)\s*\)\s+up\s+({_SSA})(?:\s+up_bias\s+({_SSA}))?"
        rf"\s+down\s+({_SSA})(?:\s+down_bias\s+({_SSA}))?",
        operands,
    )
    if not em:
        raise MoEIRError(f"{where}: expected '%slots mlp(act) up %w1 [up_bias %b1] down %w2 "
                         f"[down_bias %b2]', got '{operands}'")
    produced_by(em.group(1), "moe.dispatch", where, "input")
    if em.group(2) not in ACTIVATIONS:
        raise MoEIRError(f"{where}: unknown activation '{em.group(2)}', expected one of "
                         f"{', '.join(ACTIVATIONS)}")
    experts = Experts(
        em.group(2),
        argument(em.group(3), where, "up"),
        argument(em.group(4), where, "up_bias") if em.group(4) else None,
        argument(em.group(5), where, "down"),
        argument(em.group(6), where, "down_bias") if em.group(6) else None,
    )
    y_type = _tensor_type(out_type, f"{where}: result")

    # moe.combine
    st, where = ops["moe.combine"]
    operands, _, out_type = _operands_and_types(st, where)
    y_ssa, p_ssa = _ssa_list(operands, 2, where, "%y, %plan")
    produced_by(y_ssa, "moe.experts", where, "slots")
    if p_ssa != plan_ssa:
        raise MoEIRError(f"{where}: plan {p_ssa} is not the result of moe.route ({plan_ssa})")
    out_type = _tensor_type(out_type, f"{where}: result")

    def plan_user_types(op: str, operand_form: str, counts: tuple) -> list:
        """The result types of the optional ``op`` reading the plan (and, for route_stats, the
        logits); [] if the layer has none."""
        if op not in ops:
            return []
        st, where = ops[op]
        operands, _, out_types = _operands_and_types(st, where)
        names = _ssa_list(operands, len(operand_form.split(",")), where, operand_form)
        if len(names) == 2:
            produced_by(names[0], "moe.gate", where, "logits")
        if names[-1] != plan_ssa:
            raise MoEIRError(f"{where}: plan {names[-1]} is not the result of moe.route "
                             f"({plan_ssa})")
        if not router.sparse:
            raise MoEIRError(f"{where}: {op.removeprefix('moe.')} needs a sparse router, "
                             "not soft")
        types = [_tensor_type(t, f"{where}: result") for t in _split_top(out_types)]
        if len(types) not in counts:
            raise MoEIRError(f"{where}: expected {' or '.join(map(str, counts))} result types, "
                             f"got {len(types)}")
        return types

    stats_types = plan_user_types("moe.route_stats", "%logits, %plan", (4, 5))
    plan_slots_types = plan_user_types("moe.plan_slots", "%plan", (2,))

    # Which value of the chain each result is.
    values = {ops["moe.combine"][0].results[0]: ("output", out_type),
              ops["moe.gate"][0].results[0]: ("logits", logits_type),
              ops["moe.dispatch"][0].results[0]: ("slots", slots_type),
              ops["moe.experts"][0].results[0]: ("expert_output", y_type)}
    if "moe.route_stats" in ops:
        values.update(zip(ops["moe.route_stats"][0].results,
                          zip(STATS + (INVALID_TOKENS,), stats_types)))
    if "moe.plan_slots" in ops:
        values.update(zip(ops["moe.plan_slots"][0].results,
                          zip(PLAN_SLOTS, plan_slots_types)))

    fn = MoEFunction(
        name=fname,
        arguments=tuple(arguments),
        results=_results(fname, ret, result_decls, values, plan_ssa),
        gate=Gate(gate_input, gate_weight, gate_scale, logits_type),
        route=Route(router, plan),
        dispatch_input=dispatch_input,
        experts=experts,
        has_route_stats="moe.route_stats" in ops,
    )
    _check_shapes(fn, slots_type, y_type, out_type, stats_types, plan_slots_types)
    return fn
