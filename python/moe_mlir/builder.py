"""Writes ViT-MoE models as one level-1 ``func``: the dense parts in upstream ops (linalg
matmul/batch_matmul/softmax/transpose, linalg.generic for LayerNorm, GELU and the residuals,
tensor reshapes), the MoE layers as moe ops. Weights are arguments named as vmoe names them
(moe_mlir.configs.param_shapes), the input is ``images`` [N, H, W, 3], the results ``logits``
[N, classes] and, per MoE block b that routes (not Soft MoE), its routing statistics
``block<b>/expert_load`` and ``block<b>/dropped_tokens``.

    text = build_model(PUBLISHED["vmoe-s32"].replace(...), batch=8)

Routers: token choice (V-MoE), Soft MoE (a mean-pooled head), per-image (Mobile V-MoE: the
first MoE layer decides, every later one reuses its plan; statistics are the first layer's).
``batch=None`` (the default) leaves the number of images dynamic: the input is
``tensor<?x...>``, the plans ``groups = ?``; moe-compile compiles it once for one routing group
and the runtime runs it on any whole number of groups. An int fixes the batch at build time.
"""
import math
from fractions import Fraction

from .configs import param_shapes


def _capacity(tokens, experts, factor, multiple_of=4):
    """docs/routers.md: ceil(tokens * factor / experts), rounded up to a multiple of 4."""
    c = math.ceil(tokens * factor / experts - 1e-9)
    return max(multiple_of, -(-c // multiple_of) * multiple_of)


class Rows:
    """A dimension of ``q * N`` rows, N the number of images known at run time: printed ``?``
    in types; ``_Writer.size`` computes its value from the input's first dimension."""

    def __init__(self, q):
        self.q = Fraction(q)

    def __mul__(self, other):
        return Rows(self.q * other)

    __rmul__ = __mul__

    def __floordiv__(self, other):
        return Rows(self.q / other)

    def __str__(self):
        return "?"


def _t(shape):
    return "tensor<" + "x".join(str(d) for d in shape) + "xf32>" if shape else "tensor<f32>"


class _Writer:
    def __init__(self):
        self.lines, self.count, self.sizes = [], 0, {}

    def size(self, dim):
        """The SSA value (or the literal) of a dimension."""
        if not isinstance(dim, Rows):
            return str(dim)
        if dim.q not in self.sizes:
            v = self.fresh("n")
            if "images" not in self.sizes:
                self.emit("%c0 = arith.constant 0 : index")
                self.emit("%images_n = tensor.dim %images, %c0 : " + self.images_type)
                self.sizes["images"] = "%images_n"
            value = self.sizes["images"]
            for op, factor in (("muli", dim.q.numerator), ("divui", dim.q.denominator)):
                if factor != 1:
                    c, r = self.fresh("c"), self.fresh("n")
                    self.emit(f"{c} = arith.constant {factor} : index")
                    self.emit(f"{r} = arith.{op} {value}, {c} : index")
                    value = r
            self.sizes[dim.q] = value
        return self.sizes[dim.q]

    def sizes_of(self, shape):
        return ", ".join(self.size(d) for d in shape)

    def fresh(self, hint="v"):
        self.count += 1
        return f"%{hint}{self.count}"

    def emit(self, text):
        self.lines.append("  " + text)

    def empty(self, shape):
        dynamic = ", ".join(self.size(d) for d in shape if isinstance(d, Rows))
        v = self.fresh("e")
        self.emit(f"{v} = tensor.empty({dynamic}) : {_t(shape)}")
        return v

    def zeros(self, shape):
        v = self.fresh("z")
        self.emit(f"{v} = linalg.fill ins(%zero : f32) outs({self.empty(shape)} : {_t(shape)}) -> {_t(shape)}")
        return v

    def reshape(self, value, source, target, groups):
        """tensor.expand_shape or collapse_shape between ``source`` and ``target``."""
        v = self.fresh("r")
        reassociation = "[" + ", ".join("[" + ", ".join(map(str, g)) + "]" for g in groups) + "]"
        if len(target) > len(source):
            self.emit(f"{v} = tensor.expand_shape {value} {reassociation} output_shape "
                      f"[{self.sizes_of(target)}] : {_t(source)} into {_t(target)}")
        else:
            self.emit(f"{v} = tensor.collapse_shape {value} {reassociation} : {_t(source)} "
                      f"into {_t(target)}")
        return v

    def transpose(self, value, shape, permutation):
        out_shape = [shape[p] for p in permutation]
        v = self.fresh("tr")
        self.emit(f"{v} = linalg.transpose ins({value} : {_t(shape)}) outs({self.empty(out_shape)} : "
                  f"{_t(out_shape)}) permutation = [{', '.join(map(str, permutation))}]")
        return v, out_shape

    def matmul(self, a, b, m, k, n):
        v = self.fresh("mm")
        self.emit(f"{v} = linalg.matmul ins({a}, {b} : {_t([m, k])}, {_t([k, n])}) outs("
                  f"{self.zeros([m, n])} : {_t([m, n])}) -> {_t([m, n])}")
        return v

    def batch_matmul(self, a, b, batch, m, k, n):
        v = self.fresh("bmm")
        self.emit(f"{v} = linalg.batch_matmul ins({a}, {b} : {_t([batch, m, k])}, {_t([batch, k, n])}) "
                  f"outs({self.zeros([batch, m, n])} : {_t([batch, m, n])}) -> {_t([batch, m, n])}")
        return v

    def generic(self, inputs, shape, body, reduce_last=False):
        """A linalg.generic over ``shape`` (rank 2 or 3); ``inputs``: (value, type shape, map
        text); ``body``: lines using %a0.. for the inputs and %out, ending in a yield of %r."""
        rank = len(shape)
        dims = ", ".join(f"d{i}" for i in range(rank))
        out_shape = shape[:-1] if reduce_last else shape
        out_dims = ", ".join(f"d{i}" for i in range(len(out_shape)))
        maps = [f"affine_map<({dims}) -> ({m})>" for _, _, m in inputs]
        maps.append(f"affine_map<({dims}) -> ({out_dims})>")
        iterators = ['"parallel"'] * rank
        if reduce_last:
            iterators[-1] = '"reduction"'
        init = self.zeros(out_shape) if reduce_last else self.empty(out_shape)
        v = self.fresh("g")
        ins = ", ".join(value for value, _, _ in inputs)
        types = ", ".join(_t(s) for _, s, _ in inputs)
        args = ", ".join(f"%a{i}: f32" for i in range(len(inputs)))
        self.emit(f"{v} = linalg.generic {{indexing_maps = [{', '.join(maps)}], iterator_types = "
                  f"[{', '.join(iterators)}]}} ins({ins} : {types}) outs({init} : {_t(out_shape)}) {{")
        self.emit(f"^bb0({args}, %out: f32):")
        for line in body:
            self.emit("  " + line)
        self.emit("  linalg.yield %r : f32")
        self.emit(f"}} -> {_t(out_shape)}")
        return v


def _dims(rank):
    return [f"d{i}" for i in range(rank)]


def build_model(config, batch=None, slot_tables=False, without_moe=False):
    """The level-1 IR of ``config`` for ``batch`` images (None: any whole number of routing
    groups, chosen at run time); with ``slot_tables``, each routing MoE block also returns its
    slot table, ``block<b>/slot_token`` and ``block<b>/slot_weight`` (moe.plan_slots: what
    moe_mlir.pictures draws). ``without_moe`` leaves out the MoE sublayers (LayerNorm_1 and
    the MoE of each MoE block; their weights stay arguments): the rest of the model, whose time
    bench/models.py subtracts to measure the MoE share."""
    c = config.validate()
    if c.router.kind not in ("token_choice", "soft", "per_image"):
        raise ValueError(f"{c.name}: unknown router {c.router.kind!r}")
    if batch is not None and batch % c.group_size:
        raise ValueError(f"{batch} images are not whole groups of {c.group_size}")
    shapes = param_shapes(c)
    names = list(shapes)
    arg = {name: f"%w{i}" for i, name in enumerate(names)}
    w = _Writer()
    n, p, d, t = (Rows(1) if batch is None else batch), c.patch, c.width, c.tokens
    w.images_type = _t([n, c.image_size, c.image_size, 3])
    side = c.image_size // p
    heads, hd = c.heads, c.width // c.heads
    rows = n * t

    def add_bias(value, shape, bias):
        """value [.., m] + bias [m] (broadcast over the leading dims)."""
        dims = _dims(len(shape))
        return w.generic([(value, shape, ", ".join(dims)), (bias, [shape[-1]], dims[-1])], shape,
                         ["%r = arith.addf %a0, %a1 : f32"])

    def dense(x2d, m, k, kernel, bias, n_out):
        return add_bias(w.matmul(x2d, kernel, m, k, n_out), [m, n_out], bias)

    def layer_norm(x2d, m, prefix):
        mean = w.generic([(x2d, [m, d], "d0, d1")], [m, d], ["%r = arith.addf %a0, %out : f32"],
                         reduce_last=True)
        centered = w.generic([(x2d, [m, d], "d0, d1"), (mean, [m], "d0")], [m, d],
                             [f"%mu = arith.divf %a1, %cwidth : f32", "%r = arith.subf %a0, %mu : f32"])
        var = w.generic([(centered, [m, d], "d0, d1")], [m, d],
                        ["%sq = arith.mulf %a0, %a0 : f32", "%r = arith.addf %sq, %out : f32"],
                        reduce_last=True)
        return w.generic([(centered, [m, d], "d0, d1"), (var, [m], "d0"),
                          (arg[prefix + "/scale"], [d], "d1"), (arg[prefix + "/bias"], [d], "d1")],
                         [m, d],
                         ["%vm = arith.divf %a1, %cwidth : f32", "%ve = arith.addf %vm, %ceps : f32",
                          "%sd = math.sqrt %ve : f32", "%nx = arith.divf %a0, %sd : f32",
                          "%sx = arith.mulf %nx, %a2 : f32", "%r = arith.addf %sx, %a3 : f32"])

    def add(a, b, shape):
        dims = ", ".join(_dims(len(shape)))
        return w.generic([(a, shape, dims), (b, shape, dims)], shape, ["%r = arith.addf %a0, %a1 : f32"])

    def gelu(value, shape):
        dims = ", ".join(_dims(len(shape)))
        if c.activation == "gelu_tanh":
            body = ["%x3 = arith.mulf %a0, %a0 : f32", "%x3b = arith.mulf %x3, %a0 : f32",
                    "%inner = arith.mulf %x3b, %c044715 : f32", "%sum = arith.addf %a0, %inner : f32",
                    "%arg = arith.mulf %sum, %csqrt2pi : f32", "%th = math.tanh %arg : f32",
                    "%one = arith.addf %th, %cone : f32", "%half = arith.mulf %a0, %chalf : f32",
                    "%r = arith.mulf %half, %one : f32"]
        else:
            body = ["%xs = arith.mulf %a0, %crsqrt2 : f32", "%erf = math.erf %xs : f32",
                    "%one = arith.addf %erf, %cone : f32", "%half = arith.mulf %a0, %chalf : f32",
                    "%r = arith.mulf %half, %one : f32"]
        return w.generic([(value, shape, dims)], shape, body)

    def attention(x2d, prefix):
        def project(name):
            kernel = w.reshape(arg[f"{prefix}/{name}/kernel"], [d, heads, hd], [d, d], [[0], [1, 2]])
            bias = w.reshape(arg[f"{prefix}/{name}/bias"], [heads, hd], [d], [[0, 1]])
            y = dense(x2d, rows, d, kernel, bias, d)
            y4 = w.reshape(y, [rows, d], [n, t, heads, hd], [[0, 1], [2, 3]])
            y4t, shape = w.transpose(y4, [n, t, heads, hd], [0, 2, 1, 3])
            return w.reshape(y4t, shape, [n * heads, t, hd], [[0, 1], [2], [3]])
        q, k, v = project("query"), project("key"), project("value")
        kt, _ = w.transpose(k, [n * heads, t, hd], [0, 2, 1])
        scores = w.batch_matmul(q, kt, n * heads, t, hd, t)
        scaled = w.generic([(scores, [n * heads, t, t], "d0, d1, d2")], [n * heads, t, t],
                           ["%r = arith.mulf %a0, %cinvsqrthd : f32"])
        weights = w.fresh("sm")
        w.emit(f"{weights} = linalg.softmax dimension(2) ins({scaled} : {_t([n * heads, t, t])}) "
               f"outs({w.empty([n * heads, t, t])} : {_t([n * heads, t, t])}) -> {_t([n * heads, t, t])}")
        attended = w.batch_matmul(weights, v, n * heads, t, t, hd)
        a4 = w.reshape(attended, [n * heads, t, hd], [n, heads, t, hd], [[0, 1], [2], [3]])
        a4t, shape = w.transpose(a4, [n, heads, t, hd], [0, 2, 1, 3])
        a2 = w.reshape(a4t, shape, [rows, d], [[0, 1], [2, 3]])
        out_kernel = w.reshape(arg[f"{prefix}/out/kernel"], [heads, hd, d], [d, d], [[0, 1], [2]])
        return dense(a2, rows, d, out_kernel, arg[f"{prefix}/out/bias"], d)

    results = [("logits", [n, c.num_classes])]
    stats = []

    shared_plan = {}

    def moe(x2d, prefix, block):
        groups = n // c.group_size
        s = c.group_size * t
        e, f, r = c.experts, c.mlp_dim, c.router
        x3 = w.reshape(x2d, [rows, d], [groups, s, d], [[0, 1], [2]])
        if r.kind == "soft":
            cap = r.slots_per_expert
            attr = f"soft<slots_per_expert = {cap}>"
            slots_in = e * cap
        elif r.kind == "per_image":
            if r.capacity_factor is None:
                cap, options = s, ""
            else:
                cap = _capacity(s // t * r.k, e, r.capacity_factor) * t
                options = f", capacity_factor = {r.capacity_factor}, multiple_of = 4"
            attr = (f"per_image<tokens_per_item = {t}, k = {r.k}, pooling = {r.pooling}"
                    f"{options}>")
            slots_in = e
        else:
            cap = _capacity(s * r.k, e, r.capacity_factor)
            priority = ", priority = bpr" if r.bpr else ""
            attr = f"token_choice<k = {r.k}, capacity_factor = {r.capacity_factor}{priority}>"
            slots_in = e
        plan = f"!moe.plan<groups = {groups}, tokens = {s}, experts = {e}, capacity = {cap}>"
        lg = _t([groups, s, slots_in])
        if r.kind == "per_image" and "plan" in shared_plan:
            # Per-image routing decides once, in the first MoE layer (Mobile V-MoE).
            route, logits = shared_plan["plan"], None
        else:
            logits = w.fresh("logits")
            if r.kind == "soft":
                w.emit(f"{logits} = moe.gate {x3}, {arg[prefix + '/Router/mu']} scale "
                       f"{arg[prefix + '/Router/scale']} : {_t([groups, s, d])}, {_t([d, e, cap])}, "
                       f"tensor<f32> -> {lg}")
            else:
                w.emit(f"{logits} = moe.gate {x3}, {arg[prefix + '/Router/dense/kernel']} : "
                       f"{_t([groups, s, d])}, {_t([d, e])} -> {lg}")
            route = w.fresh("plan")
            w.emit(f"{route} = moe.route {logits} {attr} : {lg} -> {plan}")
            shared_plan["plan"] = route
        slots = w.fresh("slots")
        sl = _t([e, groups * cap, d])
        w.emit(f"{slots} = moe.dispatch {x3}, {route} : {_t([groups, s, d])}, {plan} -> {sl}")
        y = w.fresh("experts")
        act = "gelu_tanh" if c.activation == "gelu_tanh" else "gelu"
        m = prefix + "/Mlp"
        w.emit(f"{y} = moe.experts {slots} mlp({act}) up {arg[m + '/Dense_0/kernel']} up_bias "
               f"{arg[m + '/Dense_0/bias']} down {arg[m + '/Dense_1/kernel']} down_bias "
               f"{arg[m + '/Dense_1/bias']} : ({sl}, {_t([e, d, f])}, {_t([e, f])}, {_t([e, f, d])}, "
               f"{_t([e, d])}) -> {sl}")
        out = w.fresh("combined")
        w.emit(f"{out} = moe.combine {y}, {route} : {sl}, {plan} -> {_t([groups, s, d])}")
        if r.kind != "soft" and logits is not None:
            st = [w.fresh("imp"), w.fresh("load"), w.fresh("dropped"), w.fresh("lost")]
            w.emit(f"{', '.join(st)} = moe.route_stats {logits}, {route} : {lg}, {plan} -> "
                   f"tensor<{groups}xf32>, tensor<{groups}x{e}xi64>, tensor<{groups}xi64>, "
                   f"tensor<{groups}xi64>")
            stats.append((st[1], f"tensor<{groups}x{e}xi64>", f"block{block}/expert_load"))
            stats.append((st[3], f"tensor<{groups}xi64>", f"block{block}/dropped_tokens"))
            if slot_tables:
                token, weight = w.fresh("slot_token"), w.fresh("slot_weight")
                w.emit(f"{token}, {weight} = moe.plan_slots {route} : {plan} -> "
                       f"tensor<{groups}x{e}x{cap}xi64>, {_t([groups, e, cap])}")
                stats.append((token, f"tensor<{groups}x{e}x{cap}xi64>", f"block{block}/slot_token"))
                stats.append((weight, _t([groups, e, cap]), f"block{block}/slot_weight"))
        return w.reshape(out, [groups, s, d], [rows, d], [[0, 1], [2]])

    # Constants the bodies use.
    for name, value in (("zero", 0.0), ("cone", 1.0), ("chalf", 0.5), ("cwidth", float(d)),
                        ("ceps", c.ln_epsilon), ("c044715", 0.044715),
                        ("csqrt2pi", math.sqrt(2.0 / math.pi)), ("crsqrt2", 1.0 / math.sqrt(2.0)),
                        ("cinvsqrthd", 1.0 / math.sqrt(hd))):
        w.emit(f"%{name} = arith.constant {value:.9e} : f32")

    # Patches: [N, H, W, 3] -> [N * side * side, p * p * 3] @ kernel [p * p * 3, D].
    img = [n, c.image_size, c.image_size, 3]
    x6 = w.reshape("%images", img, [n, side, p, side, p, 3], [[0], [1, 2], [3, 4], [5]])
    x6t, shape6 = w.transpose(x6, [n, side, p, side, p, 3], [0, 1, 3, 2, 4, 5])
    flat = w.reshape(x6t, shape6, [n * side * side, p * p * 3], [[0, 1, 2], [3, 4, 5]])
    kernel = w.reshape(arg["embedding/kernel"], [p, p, 3, d], [p * p * 3, d], [[0, 1, 2], [3]])
    patches = dense(flat, n * side * side, p * p * 3, kernel, arg["embedding/bias"], d)
    patches3 = w.reshape(patches, [n * side * side, d], [n, side * side, d], [[0, 1], [2]])
    if c.classifier == "token":
        cls = w.reshape(arg["cls"], [1, 1, d], [d], [[0, 1, 2]])
        tokens = w.generic([(cls, [d], "d2")], [n, 1, d], ["%r = arith.addf %a0, %zero : f32"])
        joined = w.fresh("tok")
        w.emit(f"{joined} = tensor.insert_slice {tokens} into {w.empty([n, t, d])}[0, 0, 0] "
               f"[{w.size(n)}, 1, {d}] [1, 1, 1] : {_t([n, 1, d])} into {_t([n, t, d])}")
        x3 = w.fresh("tok")
        w.emit(f"{x3} = tensor.insert_slice {patches3} into {joined}[0, 1, 0] "
               f"[{w.size(n)}, {t - 1}, {d}] [1, 1, 1] : {_t([n, t - 1, d])} into {_t([n, t, d])}")
    else:
        x3 = patches3
    pos = w.reshape(arg["Encoder/posembed_input/pos_embedding"], [1, t, d], [t, d], [[0, 1], [2]])
    x3 = w.generic([(x3, [n, t, d], "d0, d1, d2"), (pos, [t, d], "d1, d2")], [n, t, d],
                   ["%r = arith.addf %a0, %a1 : f32"])
    x = w.reshape(x3, [n, t, d], [rows, d], [[0, 1], [2]])
    for b in range(c.depth):
        block = f"Encoder/encoderblock_{b}"
        y = layer_norm(x, rows, block + "/LayerNorm_0")
        x = add(x, attention(y, block + "/SelfAttention"), [rows, d])
        if b in c.moe_blocks and without_moe:
            continue
        y = layer_norm(x, rows, block + "/LayerNorm_1")
        if b in c.moe_blocks:
            x = add(x, moe(y, block + "/Moe", b), [rows, d])
        else:
            hidden = gelu(dense(y, rows, d, arg[block + "/Mlp/Dense_0/kernel"],
                                arg[block + "/Mlp/Dense_0/bias"], c.mlp_dim), [rows, c.mlp_dim])
            x = add(x, dense(hidden, rows, c.mlp_dim, arg[block + "/Mlp/Dense_1/kernel"],
                             arg[block + "/Mlp/Dense_1/bias"], d), [rows, d])
    x = layer_norm(x, rows, "Encoder/encoder_norm")
    x3 = w.reshape(x, [rows, d], [n, t, d], [[0, 1], [2]])
    if c.classifier == "token":
        first = w.fresh("cls")
        w.emit(f"{first} = tensor.extract_slice {x3}[0, 0, 0] [{w.size(n)}, 1, {d}] [1, 1, 1] : "
               f"{_t([n, t, d])} to {_t([n, d])}")
        pooled = first
    else:
        total = w.generic([(x3, [n, t, d], "d0, d2, d1")], [n, d, t],
                          ["%r = arith.addf %a0, %out : f32"], reduce_last=True)
        w.emit(f"%ctokens = arith.constant {float(t):.9e} : f32")
        pooled = w.generic([(total, [n, d], "d0, d1")], [n, d], ["%r = arith.divf %a0, %ctokens : f32"])
    width = d
    if c.representation_size:
        pre = dense(pooled, n, d, arg["pre_logits/kernel"], arg["pre_logits/bias"], c.representation_size)
        pooled = w.generic([(pre, [n, c.representation_size], "d0, d1")], [n, c.representation_size],
                           ["%r = math.tanh %a0 : f32"])
        width = c.representation_size
    logits = dense(pooled, n, width, arg["head/kernel"], arg["head/bias"], c.num_classes)

    signature = [f'%images: {_t(img)} {{moe.input = "images"}}']
    signature += [f'{arg[name]}: {_t(shapes[name])} {{moe.weight = "{name}"}}' for name in names]
    outs = [f'{_t([n, c.num_classes])} {{moe.output = "logits"}}']
    outs += [f'{ty} {{moe.output = "{label}"}}' for _, ty, label in stats]
    returned = [logits] + [v for v, _, _ in stats]
    types = [_t([n, c.num_classes])] + [ty for _, ty, _ in stats]
    header = (f"func.func @{c.name.replace('-', '_')}(\n    " + ",\n    ".join(signature) +
              f")\n    -> ({', '.join(outs)}) {{")
    body = "\n".join(w.lines)
    return f"{header}\n{body}\n  return {', '.join(returned)} : {', '.join(types)}\n}}\n"
