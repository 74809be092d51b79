"""Draws bench/results/latest.png from latest.json (bench/run.py --peers runs it).

    bench/.venv/bin/python bench/plot.py bench/results/latest.json bench/results/latest.png

One panel per thread count: for each layer, grouped bars of the time of moe-mlir and of each
peer divided by the GEMM bound at the same thread count (1 = the expert GEMMs alone; lower is
better), on a log scale, with the ratio written above each bar.  A bar that failed the check
against the reference is hatched and labelled FAIL; a missing one is labelled n/a.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

SERIES = [("moe-mlir", None, "#d62728"), ("PyTorch eager", "eager", "#1f77b4"),
          ("torch.compile", "compile", "#9467bd"), ("JAX jit", "jax", "#2ca02c")]


def value(entry, bound):
    if not entry or "median_ms" not in entry or not bound:
        return None, False
    return entry["median_ms"] / bound, entry.get("check", "PASS") != "PASS"


def main(src, dst):
    with open(src) as f:
        info = json.load(f)
    results = info["results"]
    threads = sorted({t for r in results for t in r["threads"]}, key=int)
    layers = [r["layer"] for r in results]
    fig, axes = plt.subplots(len(threads), 1, figsize=(max(8, 1.5 * len(layers) + 2),
                                                        3.6 * len(threads)), squeeze=False)
    width = 0.8 / len(SERIES)
    top, bottom = 1.0, 1.0
    missing_by_axis = []
    for ax, t in zip(axes[:, 0], threads):
        for i, (label, key, color) in enumerate(SERIES):
            xs, ys, fails, missing = [], [], [], []
            for j, r in enumerate(results):
                x = r["threads"].get(t, {})
                entry = x.get("moe_mlir") if key is None else x.get("peers", {}).get(key)
                v, failed = value(entry, x.get("bound_ms"))
                pos = j + (i - (len(SERIES) - 1) / 2) * width
                if v is None:
                    missing.append(pos)
                    continue
                xs.append(pos)
                ys.append(v)
                fails.append(failed)
                top, bottom = max(top, v), min(bottom, v)
            bars = ax.bar(xs, ys, width, label=label, color=color,
                          hatch=None, edgecolor="white", linewidth=0.5)
            for bar, v, failed in zip(bars, ys, fails):
                if failed:
                    bar.set_hatch("//")
                ax.annotate("FAIL" if failed else f"{v:.2f}" if v < 10 else f"{v:.0f}",
                            (bar.get_x() + bar.get_width() / 2, v), ha="center",
                            va="bottom", fontsize=6.5, rotation=90, xytext=(0, 2),
                            textcoords="offset points")
            missing_by_axis += [(ax, pos) for pos in missing]
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        ax.set_xticks(range(len(layers)))
        ax.set_xticklabels(layers)
        ax.set_ylabel("time / GEMM bound")
        ax.set_title(f"{t} thread{'s' if int(t) > 1 else ''} (pinned to "
                     f"{len(info['pinning'].get(t) or [])} core"
                     f"{'s' if int(t) > 1 else ''}); lower is better, 1 = expert GEMMs alone",
                     fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    low = min(0.5, bottom / 1.5)
    for ax in axes[:, 0]:
        ax.set_ylim(low, top * 2.2)
        ax.set_xlim(-0.5, len(layers) - 0.5)
        ticks = [v for v in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200) if low <= v <= top * 2.2]
        ax.set_yticks(ticks)
        ax.set_yticklabels([f"{v:g}" for v in ticks])
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    for ax, pos in missing_by_axis:
        ax.annotate("n/a", (pos, low), ha="center", va="bottom", fontsize=6.5, rotation=90,
                    color="gray", xytext=(0, 3), textcoords="offset points")
    axes[0, 0].legend(ncol=len(SERIES), fontsize=8, loc="upper left")
    m = info["machine"]
    fig.suptitle(f"Standard MoE layers, fp32, CPU: {m['cpu']}, commit {info['commit']}, "
                 f"{info['date']}, medians of {info['runs']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=130)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
