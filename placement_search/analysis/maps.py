"""Single-edge ground truth as a source x destination map, and accuracy by edge type."""

from __future__ import annotations

import numpy as np
import pandas as pd

from placement_search.config import EDGE_TYPES


def single_edge_heatmap(
    ground_truth_frame: pd.DataFrame, value: str = "val_accuracy_mean", n_points: int | None = None
) -> pd.DataFrame:
    """An n x n DataFrame: rows = source point, columns = destination point, NaN where unmeasured.

    ``n_points`` defaults to one more than the largest point index in the frame.
    """
    gt = ground_truth_frame
    if n_points is None:
        n_points = int(max(gt["source"].max(), gt["destination"].max())) + 1 if len(gt) else 0
    grid = np.full((n_points, n_points), np.nan)
    for s, d, v in zip(gt["source"], gt["destination"], gt[value]):
        if 0 <= s < n_points and 0 <= d < n_points:
            grid[int(s), int(d)] = v
    index = pd.RangeIndex(n_points, name="source")
    columns = pd.RangeIndex(n_points, name="destination")
    return pd.DataFrame(grid, index=index, columns=columns)


def top_edges(ground_truth_frame: pd.DataFrame, value: str = "val_accuracy_mean", top: int = 10) -> pd.DataFrame:
    """The ``top`` best single edges (ties: smaller source, then destination)."""
    gt = ground_truth_frame.sort_values([value, "source", "destination"], ascending=[False, True, True])
    return gt.head(top).reset_index(drop=True)


def edge_type_breakdown(
    ground_truth_frame: pd.DataFrame, value: str = "val_accuracy_mean", top: int = 10
) -> pd.DataFrame:
    """Per edge type (and 'all'): count, mean / median / max accuracy, and share of the top edges; and
    when the frame has them (store.ground_truth), what an edge of the type costs on average: adapter
    parameters, inference FLOPs over the linear probe's, training wall time (s) and training TFLOPs
    (placement/price.py)."""
    gt = ground_truth_frame[ground_truth_frame[value].notna()]
    best = top_edges(gt, value, top)
    n_top = len(best)
    rows = []
    groups = [(t, gt[gt["type"] == t]) for t in EDGE_TYPES if (gt["type"] == t).any()] + [("all", gt)]
    for name, g in groups:
        in_top = n_top if name == "all" else int((best["type"] == name).sum())
        rows.append({
            "type": name, "count": len(g), "mean": g[value].mean(), "median": g[value].median(),
            "max": g[value].max(), "std": g[value].std(ddof=1) if len(g) > 1 else np.nan,
            f"in_top{top}": in_top, f"share_top{top}": in_top / n_top if n_top else np.nan,
            **{label: g[col].mean() * scale for label, (col, scale) in _COST_COLUMNS.items() if col in g},
        })
    return pd.DataFrame(rows)


#: the edge-type table's cost columns: ground-truth column and unit
_COST_COLUMNS = {"adapter_params": ("num_adapter_params", 1.0), "inference_cost": ("inference_cost", 1.0),
                 "train_wall_s": ("wall_time_s_mean", 1.0), "train_tflops": ("train_flops_mean", 1e-12)}


def transfer_regret(
    gt_from: pd.DataFrame, gt_to: pd.DataFrame, value: str = "val_accuracy_mean", tops: tuple[int, ...] = (1, 5, 10)
) -> pd.DataFrame:
    """What moving one task's best single edges to another task costs (the paper's task-dependence
    question, as a number a user can act on).

    For each ``top`` in ``tops``: the ``top`` best edges of ``gt_from`` (over the edges both maps
    measured), their best accuracy on ``gt_to``, its regret against ``gt_to``'s best shared edge and
    its percentile among ``gt_to``'s edges (100 = best), and the regret of their mean.
    """
    a = gt_from[["source", "destination", value]]
    b = gt_to[["source", "destination", value]]
    joined = a.merge(b, on=["source", "destination"], suffixes=("_from", "_to")).dropna()
    to_vals = joined[f"{value}_to"].to_numpy(float)
    best_to = float(to_vals.max()) if len(to_vals) else np.nan
    ranked = joined.sort_values([f"{value}_from", "source", "destination"], ascending=[False, True, True])
    rows = []
    for top in tops:
        if top > len(ranked):
            continue
        moved = ranked.head(top)[f"{value}_to"].to_numpy(float)
        rows.append({
            "top": top, "shared_edges": len(joined), "best_on_target": best_to,
            "moved_best": float(moved.max()), "regret_best": best_to - float(moved.max()),
            "moved_best_percentile": 100.0 * float((to_vals <= moved.max()).mean()),
            "moved_mean": float(moved.mean()), "regret_mean": best_to - float(moved.mean()),
        })
    return pd.DataFrame(rows)


def top_fraction_edges(ground_truth_frame: pd.DataFrame, fraction: float = 0.05,
                       value: str = "val_accuracy_mean") -> set[tuple[int, int]]:
    """(source, destination) of the edges at or above the ceil(fraction * n)-th best (ties kept)."""
    from placement_search.analysis.regret import top_fraction_threshold

    gt = ground_truth_frame.dropna(subset=[value])
    best = gt[gt[value] >= top_fraction_threshold(gt, fraction, value)]
    return {(int(a), int(b)) for a, b in zip(best["source"], best["destination"], strict=True)}


def shared_top_edges(sources: list[pd.DataFrame], target: pd.DataFrame, fraction: float = 0.05,
                     value: str = "val_accuracy_mean") -> pd.DataFrame:
    """Do the edges good on every other task find a good edge on a new one? What a warm start from
    the other tasks' tops would try first, measured.

    A greedy smallest set of edges with one of each source map's top ``fraction`` in it (each pick
    the edge in the most uncovered sources' tops, ties to the better mean source percentile), in
    pick order, and how each fares on ``target`` (over the edges every map measured): its
    percentile there (100 = best), whether it is in the target's top ``fraction``, and the chance
    that as many edges drawn at random hold at least one of the target's top edges."""
    from math import comb

    keys = ["source", "destination"]
    shared = target[[*keys, value]].dropna()
    for s in sources:
        shared = shared.merge(s[keys], on=keys)
    edges = [(int(a), int(b)) for a, b in zip(shared["source"], shared["destination"], strict=True)]
    restricted = [s.merge(shared[keys], on=keys) for s in sources]
    tops = [top_fraction_edges(s, fraction, value) for s in restricted]
    pct = pd.concat([s.set_index(keys)[value].rank(pct=True) for s in restricted], axis=1)
    mean_pct = {(int(a), int(b)): v for (a, b), v in pct.mean(axis=1).items()}
    target_vals = shared.set_index(keys)[value]
    hits = top_fraction_edges(shared, fraction, value)
    n, h = len(edges), len(hits)
    uncovered, rows = list(range(len(tops))), []
    while uncovered:
        edge = max(edges, key=lambda e: (sum(e in tops[i] for i in uncovered), mean_pct[e], -e[0], -e[1]))
        covered = [i for i in uncovered if edge in tops[i]]
        uncovered = [i for i in uncovered if i not in covered]
        k = len(rows) + 1
        rows.append({"pick": k, "source": edge[0], "destination": edge[1], "sources_covered": len(covered),
                     "target_percentile": 100.0 * float((target_vals <= target_vals[edge]).mean()),
                     "in_target_top": edge in hits, "chance_any_of_k": 1.0 - comb(n - h, k) / comb(n, k)})
    return pd.DataFrame(rows)


#: the additive models ``map_structure`` fits: a level per source point, per destination point, both
STRUCTURE_MODELS = {"source": ("source",), "destination": ("destination",), "source + destination": ("source", "destination")}


def map_structure(ground_truth_frame: pd.DataFrame, value: str = "val_accuracy_mean",
                  prior: str | None = None) -> pd.DataFrame:
    """How much of a single-edge map the point an edge reads from and the point it writes to
    explain: why prior-gp's kernel has additive row and column terms (search/surrogate.py).

    Per additive model (``STRUCTURE_MODELS``, least squares on one-hot levels): the share of the
    variance across edges it explains (R^2) and the share it predicts for an edge left out
    (leave-one-out R^2 from the hat matrix's diagonal; 0 or below means no better than the mean).
    With ``prior`` (a column: another model's prediction per edge, e.g. the transfer prior), every
    model also has that column as a covariate, and a row "prior" alone shows what it explains."""
    gt = ground_truth_frame.dropna(subset=[value])
    y = gt[value].to_numpy(float)
    y = y - y.mean()
    base = [np.ones(len(gt))] + ([gt[prior].to_numpy(float)] if prior else [])
    models = ({"prior": ()} if prior else {}) | STRUCTURE_MODELS
    rows = []
    for name, factors in models.items():
        cols = list(base)
        for f in factors:
            levels = gt[f].to_numpy()
            cols += [(levels == v).astype(float) for v in np.unique(levels)[1:]]
        x = np.column_stack(cols)
        hat = x @ np.linalg.pinv(x)
        resid = y - hat @ y
        leverage = np.diag(hat)
        alone = leverage > 1.0 - 1e-8  # the only edge of its level: the shortcut would call it predicted
        loo = resid / np.where(alone, 1.0, 1.0 - leverage)
        for i in np.flatnonzero(alone):  # refit without it: its level has no data, as for a new point
            keep = np.arange(len(y)) != i
            loo[i] = y[i] - x[i] @ (np.linalg.pinv(x[keep]) @ y[keep])
        total = float((y ** 2).mean()) or 1.0
        rows.append({"model": (f"prior + {name}" if prior and factors else name), "edges": len(gt),
                     "parameters": x.shape[1], "r2": 1.0 - float((resid ** 2).mean()) / total,
                     "loo_r2": 1.0 - float((loo ** 2).mean()) / total})
    return pd.DataFrame(rows)
