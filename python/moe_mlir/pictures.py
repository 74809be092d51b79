"""Pictures of routing, as the V-MoE paper draws them (PNG, matplotlib):

- ``draw_routing``: for each image and MoE layer, the expert each patch went to, over the
  image's grid of patches, dropped patches in black with a white cross;
- ``draw_expert_load``: the tokens each expert received, per layer.

The inputs are routing results a model returns (``moe.plan_slots``: ``slot_token`` and
``slot_weight``, ``moe.route_stats``: ``expert_load``), from :meth:`moe_mlir.Model.run` or the
files ``moe-run --output-dir`` writes.

    experts = patch_experts(results["slot_token"], results["slot_weight"], tokens=1576)
    maps = image_maps(experts, tokens_per_image=197, class_token=True)   # [8, 196]
    draw_routing({"block 7": maps}, "routing.png", grid=(14, 14), experts=8)
"""
import numpy as np

DROPPED = -1


def patch_experts(slot_token, slot_weight=None, tokens=None):
    """The expert each token went to, ``[G, tokens]``, from a slot table ``slot_token``
    ``[G, E, C]`` (the token in each slot, -1 for an empty one): where a token holds several
    slots (k > 1), the expert of its largest combine weight in ``slot_weight`` (ties, or no
    weights: the lowest expert). -1 (DROPPED) for a token in no slot. ``tokens``: tokens per
    group (default: one past the largest token in the table)."""
    slot_token = np.asarray(slot_token)
    if slot_token.ndim != 3:
        raise ValueError(f"slot_token must be [groups, experts, capacity], got shape "
                         f"{list(slot_token.shape)}")
    weights = np.ones(slot_token.shape) if slot_weight is None else np.asarray(slot_weight)
    if weights.shape != slot_token.shape:
        raise ValueError(f"slot_weight has shape {list(weights.shape)}, slot_token "
                         f"{list(slot_token.shape)}")
    if tokens is None:
        tokens = int(slot_token.max()) + 1 if slot_token.size else 0
    if slot_token.size and slot_token.max() >= tokens:
        raise ValueError(f"slot_token holds token {int(slot_token.max())}, but a group has "
                         f"{tokens} tokens")
    groups, experts, _ = slot_token.shape
    result = np.full((groups, tokens), DROPPED, np.int64)
    best = np.full((groups, tokens), -np.inf)
    for expert in range(experts):  # increasing: ties keep the lower expert
        for g in range(groups):
            for token, weight in zip(slot_token[g, expert], weights[g, expert]):
                if token >= 0 and weight > best[g, token]:
                    best[g, token], result[g, token] = weight, expert
    return result


def image_maps(experts, tokens_per_image, class_token=False):
    """The per-image patch experts ``[images, patches]`` from ``patch_experts``' ``[G, S]``,
    where each group is a run of images of ``tokens_per_image`` tokens each; with
    ``class_token`` the first token of each image (the class token) is left out."""
    experts = np.asarray(experts)
    if experts.shape[-1] % tokens_per_image:
        raise ValueError(f"{experts.shape[-1]} tokens per group are not a whole number of "
                         f"images of {tokens_per_image} tokens")
    images = experts.reshape(-1, tokens_per_image)
    return images[:, 1:] if class_token else images


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _colormap(experts):
    from matplotlib.colors import ListedColormap
    import matplotlib
    base = matplotlib.colormaps["tab10" if experts <= 10 else "tab20"]
    colors = [base(i % base.N) for i in range(experts)] if experts <= 20 else \
        [matplotlib.colormaps["hsv"](i / experts) for i in range(experts)]
    return ListedColormap(colors).with_extremes(bad="black")


def draw_routing(layers, path, grid, experts, images=None):
    """Draws ``layers`` (a mapping of layer names to ``image_maps`` arrays ``[images,
    patches]``, patches = rows * columns of ``grid``) as a row of squares per layer, a
    column per image, each patch colored by its expert (``experts`` of them), dropped patches
    black with a white cross; writes a PNG to ``path`` and returns the figure. ``images``:
    how many images to draw (default: all)."""
    rows, columns = grid
    maps = {name: np.asarray(m) for name, m in layers.items()}
    count = min(len(m) for m in maps.values()) if images is None else images
    for name, m in maps.items():
        if m.ndim != 2 or m.shape[1] != rows * columns:
            raise ValueError(f"layer {name!r}: expected [images, {rows * columns}] patch "
                             f"experts, got shape {list(m.shape)}")
        if len(m) < count:
            raise ValueError(f"layer {name!r} has {len(m)} images, fewer than {count}")
    plt = _pyplot()
    cmap = _colormap(experts)
    figure, axes = plt.subplots(len(maps), count, squeeze=False, layout="constrained",
                                figsize=(1.5 * count + 1.4, 1.6 * len(maps) + 0.5))
    for row, (name, m) in enumerate(maps.items()):
        axes[row, 0].set_ylabel(name, fontsize=8)
        for image in range(count):
            ax = axes[row, image]
            cells = m[image].reshape(rows, columns)
            ax.imshow(np.ma.masked_equal(cells, DROPPED), cmap=cmap, vmin=-0.5,
                      vmax=experts - 0.5, interpolation="nearest")
            dropped = np.argwhere(cells == DROPPED)
            if len(dropped):
                ax.scatter(dropped[:, 1], dropped[:, 0], marker="x", c="white",
                           s=max(4.0, 600.0 / (rows * columns)), linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"image {image}", fontsize=8)
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    bar = figure.colorbar(ScalarMappable(Normalize(-0.5, experts - 0.5), cmap),
                          ax=axes, fraction=0.05, ticks=range(experts))
    bar.set_label("expert; black x: dropped", fontsize=8)
    bar.ax.tick_params(labelsize=7)
    figure.savefig(path, dpi=100)
    return figure


def draw_expert_load(loads, path, capacity=None):
    """Draws ``loads`` (a mapping of layer names to per-expert token counts, ``[E]`` or
    ``[G, E]``, summed over groups) as bars, a panel per layer, with ``capacity`` (per
    expert, summed over groups) as a dashed line; writes a PNG to ``path`` and returns the
    figure."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(loads), squeeze=False,
                                figsize=(3.2 * len(loads), 2.6))
    for ax, (name, load) in zip(axes[0], loads.items()):
        load = np.asarray(load)
        load = load.sum(axis=0) if load.ndim == 2 else load
        ax.bar(range(len(load)), load, color=[_colormap(len(load))(i) for i in range(len(load))])
        if capacity is not None:
            ax.axhline(capacity, color="black", linestyle="--", linewidth=0.8,
                       label="capacity")
            ax.legend(fontsize=7)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("expert")
        ax.set_ylabel("tokens")
        ax.set_xticks(range(len(load)))
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return figure


def main(argv=None):
    """``python3 -m moe_mlir.pictures RESULTS_DIR ...``: draws the routing of the results
    ``moe-run --output-dir RESULTS_DIR`` wrote (slot_token.npy, slot_weight.npy and, for
    ``--load``, expert_load.npy)."""
    import argparse
    import os
    parser = argparse.ArgumentParser(prog="python3 -m moe_mlir.pictures",
                                     description=main.__doc__)
    parser.add_argument("results", help="the folder of moe-run --output-dir")
    parser.add_argument("--tokens-per-image", type=int, required=True)
    parser.add_argument("--class-token", action="store_true",
                        help="the first token of each image is a class token (not drawn)")
    parser.add_argument("--grid", required=True, help="patches per image as ROWSxCOLUMNS")
    parser.add_argument("--images", type=int, default=None, help="draw the first N images")
    parser.add_argument("--tokens", type=int, default=None,
                        help="tokens per group (default: from the layer output out.npy)")
    parser.add_argument("--layer", default="MoE layer", help="the column's title")
    parser.add_argument("-o", "--output", required=True, help="the routing picture (PNG)")
    parser.add_argument("--load", help="also draw the expert load (PNG)")
    args = parser.parse_args(argv)
    rows, columns = (int(n) for n in args.grid.lower().split("x"))

    def load(name):
        path = os.path.join(args.results, name + ".npy")
        if not os.path.exists(path):
            parser.error(f"{path} does not exist: the model must return {name!r}")
        return np.load(path)

    slot_token = load("slot_token")
    experts = slot_token.shape[1]
    tokens = args.tokens
    if tokens is None:
        out = os.path.join(args.results, "out.npy")
        if not os.path.exists(out):
            parser.error(f"{out} does not exist: give --tokens (tokens per group)")
        tokens = np.load(out, mmap_mode="r").shape[1]
    per_group = patch_experts(slot_token, load("slot_weight"), tokens)
    maps = image_maps(per_group, args.tokens_per_image, args.class_token)
    draw_routing({args.layer: maps}, args.output, (rows, columns), experts, args.images)
    print(f"wrote {args.output}")
    if args.load:
        draw_expert_load({args.layer: load("expert_load")}, args.load,
                         capacity=slot_token.shape[2] * slot_token.shape[0])
        print(f"wrote {args.load}")


if __name__ == "__main__":
    main()
