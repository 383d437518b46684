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
    """Per edge type (and 'all'): count, mean / median / max accuracy, and share of the top edges."""
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
        })
    return pd.DataFrame(rows)
