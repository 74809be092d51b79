"""ViT-MoE model configurations: the published ones and any variation of them.

A configuration fixes the architecture a model builder writes and the parameter tree (names
and shapes, as google-research/vmoe names them) its checkpoints hold:

    config = PUBLISHED["vmoe-s32"]
    shapes = param_shapes(config)      # {"Encoder/encoderblock_5/Moe/Mlp/Dense_0/kernel": (8, 512, 2048), ...}
    small = config.replace(image_size=64, width=64, mlp_dim=128, heads=2)
"""
import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Router:
    """How a MoE layer routes. ``kind``: "token_choice" (``k``, ``capacity_factor``,
    ``bpr``), "soft" (``slots_per_expert``) or "per_image" (``k``, ``pooling`` "cls" or
    "mean": one decision per image, shared by the model's MoE layers)."""
    kind: str = "token_choice"
    k: int = 2
    capacity_factor: float = 1.05
    bpr: bool = True
    slots_per_expert: int = 1
    pooling: str = "cls"


@dataclass(frozen=True)
class ViTMoEConfig:
    """A ViT whose blocks ``moe_blocks`` (0-based) have a MoE of ``experts`` experts in place
    of the MLP. Images are ``image_size`` squares of 3 channels cut into ``patch`` squares;
    ``classifier`` "token" (a class token, read out; V-MoE) or "gap" (the mean of the tokens;
    Soft MoE); ``representation_size``: the width of the tanh ``pre_logits`` layer before the
    head (None: none). ``group_size``: images per routing group. Pre-LN blocks, LayerNorm
    epsilon ``ln_epsilon``, GELU ``activation`` ("gelu_tanh", Flax's default, or "gelu")."""
    name: str
    image_size: int = 224
    patch: int = 32
    width: int = 512
    depth: int = 8
    mlp_dim: int = 2048
    heads: int = 8
    num_classes: int = 1000
    moe_blocks: tuple = (5, 7)
    experts: int = 8
    router: Router = field(default_factory=Router)
    group_size: int = 1
    classifier: str = "token"
    representation_size: int = 512
    activation: str = "gelu_tanh"
    ln_epsilon: float = 1e-6

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    @property
    def patches(self):
        """Patches per image."""
        return (self.image_size // self.patch) ** 2

    @property
    def tokens(self):
        """Tokens per image: the patches and, with a class token, one more."""
        return self.patches + (self.classifier == "token")

    def validate(self):
        if self.image_size % self.patch:
            raise ValueError(f"{self.name}: image size {self.image_size} is not a multiple of "
                             f"the patch {self.patch}")
        if self.width % self.heads:
            raise ValueError(f"{self.name}: width {self.width} is not a multiple of "
                             f"{self.heads} heads")
        if any(not 0 <= b < self.depth for b in self.moe_blocks):
            raise ValueError(f"{self.name}: MoE blocks {self.moe_blocks} outside 0..{self.depth - 1}")
        if self.classifier not in ("token", "gap"):
            raise ValueError(f"{self.name}: classifier must be 'token' or 'gap'")
        return self


PUBLISHED = {
    # V-MoE-S/32, "Last 2" (vmoe_s32_last2_ilsvrc2012): MoE in the last 2 odd blocks.
    "vmoe-s32": ViTMoEConfig("vmoe-s32"),
    # V-MoE-B/16 "every 2": MoE in every odd block.
    "vmoe-b16": ViTMoEConfig("vmoe-b16", patch=16, width=768, depth=12, mlp_dim=3072, heads=12,
                             moe_blocks=(1, 3, 5, 7, 9, 11), representation_size=768),
    # Soft MoE-S/16: MoE in the last 6 blocks, 128 experts of one slot, mean-pooled head.
    "softmoe-s16": ViTMoEConfig("softmoe-s16", patch=16, width=384, depth=12, mlp_dim=1536,
                                heads=6, moe_blocks=(6, 7, 8, 9, 10, 11), experts=128,
                                router=Router("soft", slots_per_expert=1), classifier="gap",
                                representation_size=None),
    # Mobile V-MoE, ViT-Tiny: per-image routing over 10 experts, one decision per image.
    "mobile-vmoe-ti": ViTMoEConfig("mobile-vmoe-ti", patch=32, width=192, depth=12, mlp_dim=768,
                                   heads=3, moe_blocks=(7, 9, 11), experts=10,
                                   router=Router("per_image", k=1, capacity_factor=None,
                                                 bpr=False, pooling="cls"),
                                   representation_size=None),
}


def param_shapes(config):
    """The parameter tree of ``config`` as vmoe names it: {"/"-joined name: shape}. (V-MoE's
    names are vmoe's; Soft MoE's router (``Moe/Router/mu``, ``scale``) and per-image routing
    (one router, in the first MoE block) follow the same scheme, not a published format.)"""
    c = config.validate()
    d, f, h = c.width, c.mlp_dim, c.heads
    shapes = {"embedding/kernel": (c.patch, c.patch, 3, d), "embedding/bias": (d,),
              "Encoder/posembed_input/pos_embedding": (1, c.tokens, d),
              "Encoder/encoder_norm/scale": (d,), "Encoder/encoder_norm/bias": (d,),
              "head/kernel": (c.representation_size or d, c.num_classes),
              "head/bias": (c.num_classes,)}
    if c.classifier == "token":
        shapes["cls"] = (1, 1, d)
    if c.representation_size:
        shapes["pre_logits/kernel"] = (d, c.representation_size)
        shapes["pre_logits/bias"] = (c.representation_size,)
    for b in range(c.depth):
        block = f"Encoder/encoderblock_{b}/"
        for norm in ("LayerNorm_0", "LayerNorm_1"):
            shapes[block + norm + "/scale"] = (d,)
            shapes[block + norm + "/bias"] = (d,)
        for name in ("query", "key", "value"):
            shapes[block + f"SelfAttention/{name}/kernel"] = (d, h, d // h)
            shapes[block + f"SelfAttention/{name}/bias"] = (h, d // h)
        shapes[block + "SelfAttention/out/kernel"] = (h, d // h, d)
        shapes[block + "SelfAttention/out/bias"] = (d,)
        if b in c.moe_blocks:
            e = c.experts
            if c.router.kind == "soft":
                shapes[block + "Moe/Router/mu"] = (d, e, c.router.slots_per_expert)
                shapes[block + "Moe/Router/scale"] = ()
            elif c.router.kind != "per_image" or b == min(c.moe_blocks):
                # Per-image routing decides once, in the first MoE block.
                shapes[block + "Moe/Router/dense/kernel"] = (d, e)
            shapes[block + "Moe/Mlp/Dense_0/kernel"] = (e, d, f)
            shapes[block + "Moe/Mlp/Dense_0/bias"] = (e, f)
            shapes[block + "Moe/Mlp/Dense_1/kernel"] = (e, f, d)
            shapes[block + "Moe/Mlp/Dense_1/bias"] = (e, d)
        else:
            shapes[block + "Mlp/Dense_0/kernel"] = (d, f)
            shapes[block + "Mlp/Dense_0/bias"] = (f,)
            shapes[block + "Mlp/Dense_1/kernel"] = (f, d)
            shapes[block + "Mlp/Dense_1/bias"] = (d,)
    return shapes
