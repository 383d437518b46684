"""Figures for the report, as matplotlib Figures built without pyplot (no GUI, no global state).

Each ``Figure`` is attached to an Agg canvas explicitly, so it renders headless and is freed when
dropped, without switching the backend of a caller's notebook; save it with ``fig.savefig(path)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from placement_search.analysis.correlation import join_scores
from placement_search.config import EDGE_TYPES

TYPE_COLORS = {"sequential": "#1b9e77", "parallel": "#d95f02", "long-range": "#7570b3", "recurrent": "#e7298a"}


def _figure(figsize: tuple[float, float]) -> Figure:
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def plot_heatmap(matrix: pd.DataFrame, title: str = "", label: str = "val accuracy (mean over seeds)") -> Figure:
    """The single-edge map as in the paper: source point on y, destination on x, diagonal outlined,
    unmeasured edges grey, the best edge starred."""
    n = matrix.shape[0]
    size = min(9.0, max(4.5, 0.28 * n + 2.5))
    fig = _figure((size + 1.2, size))
    ax = fig.add_subplot()
    cmap = colormaps["viridis"].with_extremes(bad="#d9d9d9")
    data = np.ma.masked_invalid(matrix.to_numpy(dtype=float))
    im = ax.imshow(data, cmap=cmap, origin="upper", interpolation="nearest")
    for k in range(n):  # sequential edges (i == i): outline the diagonal
        ax.add_patch(Rectangle((k - 0.5, k - 0.5), 1, 1, fill=False, edgecolor="white", linewidth=1.2))
    ax.plot([-0.5, n - 0.5], [-0.5, n - 0.5], color="white", linewidth=0.6, linestyle=":")
    if data.count():  # the best edge gets a star
        i, j = np.unravel_index(np.ma.argmax(data), data.shape)
        ax.plot(j, i, marker="*", color="red", markersize=12, markeredgecolor="white", linestyle="none",
                label=f"best {i}→{j}")
        ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    step = 1 if n <= 16 else 2 if n <= 32 else 4
    ax.set_xticks(range(0, n, step))
    ax.set_yticks(range(0, n, step))
    ax.set_xlabel("destination point j")
    ax.set_ylabel("source point i")
    ax.set_title(title or "single-edge accuracy")
    fig.colorbar(im, ax=ax, label=label, shrink=0.85)
    return fig


def plot_rank_vs_accuracy(
    scores_frame: pd.DataFrame,
    ground_truth_frame: pd.DataFrame,
    score_col: str = "rank",
    acc_col: str = "val_accuracy_mean",
    title: str = "",
) -> Figure:
    """Score against accuracy, one point per measured edge, coloured by edge type."""
    joined = join_scores(scores_frame, ground_truth_frame)
    fig = _figure((6.4, 4.6))
    ax = fig.add_subplot()
    for t in EDGE_TYPES:
        part = joined[joined["type"] == t]
        if len(part):
            ax.scatter(part[score_col], part[acc_col], s=18, alpha=0.8, color=TYPE_COLORS[t],
                       label=f"{t} ({len(part)})", edgecolors="none")
    ax.set_xlabel(f"gradient {score_col}")
    ax.set_ylabel(acc_col.replace("_", " "))
    ax.set_title(title or f"{score_col} vs accuracy")
    ax.grid(alpha=0.3)
    if len(joined):
        ax.legend(fontsize=8, frameon=False)
    return fig


def plot_regret(summary: pd.DataFrame, title: str = "", log_y: bool = False) -> Figure:
    """Median regret by trial count per searcher, with the inter-quartile range over seeds as a band."""
    fig = _figure((6.4, 4.2))
    ax = fig.add_subplot()
    cycle = colormaps["tab10"]
    for i, (searcher, s) in enumerate(summary.groupby("searcher", sort=True)):
        color = cycle(i % 10)
        n = int(s["n_seeds"].max())
        ax.plot(s["trial"], s["regret_median"], color=color, label=f"{searcher} ({n} seeds)", drawstyle="steps-post")
        ax.fill_between(s["trial"], s["regret_q25"], s["regret_q75"], color=color, alpha=0.2, step="post")
    ax.set_xlabel("trials")
    ax.set_ylabel("regret (optimum − best so far, val acc)")
    ax.set_title(title or "regret vs exhaustive optimum")
    if log_y:
        ax.set_yscale("symlog", linthresh=1e-3)
    ax.grid(alpha=0.3)
    if len(summary):
        ax.legend(fontsize=8, frameon=False)
    return fig


def plot_edge_type_box(ground_truth_frame: pd.DataFrame, value: str = "val_accuracy_mean", title: str = "") -> Figure:
    """Distribution of single-edge accuracy per edge type."""
    types = [t for t in EDGE_TYPES if (ground_truth_frame["type"] == t).any()]
    data = [ground_truth_frame.loc[ground_truth_frame["type"] == t, value].dropna().to_numpy() for t in types]
    fig = _figure((6.4, 4.0))
    ax = fig.add_subplot()
    if data:
        box = ax.boxplot(data, tick_labels=[f"{t}\n(n={len(d)})" for t, d in zip(types, data)], patch_artist=True)
        for patch, t in zip(box["boxes"], types):
            patch.set_facecolor(TYPE_COLORS[t])
            patch.set_alpha(0.6)
    ax.set_ylabel(value.replace("_", " "))
    ax.set_title(title or "single-edge accuracy by edge type")
    ax.grid(axis="y", alpha=0.3)
    return fig


def plot_calibration(calibration: pd.DataFrame, title: str = "") -> Figure:
    """Spearman of gradient rank vs accuracy against rtol: one line per pooling (mean over scoring
    seeds), the band spanning the seeds' lowest and highest."""
    fig = _figure((6.0, 4.0))
    ax = fig.add_subplot()
    cycle = colormaps["tab10"]
    for i, (pooling, c) in enumerate(calibration.groupby("pooling", sort=True)):
        s = c.groupby("rtol")["spearman"].agg(["mean", "min", "max"]).sort_index()
        ax.plot(s.index, s["mean"], marker="o", color=cycle(i), label=f"pooling {pooling}")
        ax.fill_between(s.index, s["min"], s["max"], color=cycle(i), alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("rtol (singular values above rtol · σ_max count)")
    ax.set_ylabel("Spearman, rank vs val accuracy")
    ax.set_title(title or "gradient-rank calibration")
    ax.axhline(0, color="grey", lw=0.8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig
