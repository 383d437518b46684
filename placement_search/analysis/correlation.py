"""How well a per-edge score predicts accuracy, and how much two tasks agree on good edges.

Rank correlations (Spearman, Kendall tau-b from scipy) with percentile-bootstrap 95 % intervals
that resample edges: the edges are the units, so the interval says how much the estimate depends
on which edges happened to be measured.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from placement_search.config import EDGE_TYPES

CORRELATION_COLUMNS = [
    "group", "n", "spearman", "spearman_lo", "spearman_hi", "spearman_p",
    "kendall", "kendall_lo", "kendall_hi", "kendall_p",
]


def _corr(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """(spearman, p, kendall, p); NaN where undefined (fewer than 3 points or a constant side)."""
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return (np.nan,) * 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = stats.spearmanr(x, y)
        k = stats.kendalltau(x, y)
    return float(s.statistic), float(s.pvalue), float(k.statistic), float(k.pvalue)


def _resample_ranks(v: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(v[idx], axis=1)`` (average ranks of each resample) in O(n_boot * n):
    a resample holds copies of the original values, so the rank of a copy of value u is the
    number of drawn elements below u plus (the number drawn equal to u + 1) / 2, counted with
    ``bincount`` over the sorted distinct values instead of sorting every resample."""
    n_boot = idx.shape[0]
    values, inverse = np.unique(v, return_inverse=True)
    m = len(values)
    drawn = inverse[idx]  # (n_boot, n): which distinct value each drawn element is
    counts = np.bincount((np.arange(n_boot)[:, None] * m + drawn).ravel(), minlength=n_boot * m).reshape(n_boot, m)
    average = (np.cumsum(counts, axis=1) - counts) + (counts + 1) / 2.0
    return np.take_along_axis(average, drawn, axis=1)


def _bootstrap(x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator,
               kendall: bool = True) -> tuple[float, ...]:
    """2.5 / 97.5 percentiles of Spearman and Kendall over edge resamples (NaN draws dropped).
    ``kendall=False`` skips Kendall's intervals (one scipy call per resample: most of the time at
    6,561 edges) and gives NaN for them."""
    if n_boot <= 0 or len(x) < 3:
        return (np.nan,) * 4
    n = len(x)
    idx = rng.integers(0, n, size=(n_boot, n))
    # Spearman vectorised: Pearson correlation of average ranks, row by row
    rx = _resample_ranks(x, idx)
    ry = _resample_ranks(y, idx)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        sp = np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)
    kd = np.full(n_boot, np.nan)
    if kendall:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for b in range(n_boot):
                kd[b] = stats.kendalltau(x[idx[b]], y[idx[b]]).statistic

    def ci(v: np.ndarray) -> tuple[float, float]:
        v = v[np.isfinite(v)]
        return (np.nan, np.nan) if len(v) == 0 else tuple(float(q) for q in np.percentile(v, [2.5, 97.5]))

    return (*ci(sp), *ci(kd))


def _row(group: str, x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator,
         kendall_ci: bool = True) -> dict:
    sp, sp_p, kd, kd_p = _corr(x, y)
    sp_lo, sp_hi, kd_lo, kd_hi = _bootstrap(x, y, n_boot, rng, kendall_ci) if np.isfinite(sp) else (np.nan,) * 4
    return {"group": group, "n": len(x), "spearman": sp, "spearman_lo": sp_lo, "spearman_hi": sp_hi,
            "spearman_p": sp_p, "kendall": kd, "kendall_lo": kd_lo, "kendall_hi": kd_hi, "kendall_p": kd_p}


def _correlate(frame: pd.DataFrame, x_col: str, y_col: str, by_type: bool, n_boot: int, seed: int,
               kendall_ci: bool = True) -> pd.DataFrame:
    frame = frame[np.isfinite(frame[x_col].astype(float)) & np.isfinite(frame[y_col].astype(float))]
    rng = np.random.default_rng(seed)
    groups = [("all", frame)]
    if by_type and "type" in frame.columns:
        present = [t for t in EDGE_TYPES if (frame["type"] == t).any()]
        groups += [(t, frame[frame["type"] == t]) for t in present]
    rows = [_row(name, g[x_col].to_numpy(float), g[y_col].to_numpy(float), n_boot, rng, kendall_ci)
            for name, g in groups]
    return pd.DataFrame(rows, columns=CORRELATION_COLUMNS)


def join_scores(scores_frame: pd.DataFrame, ground_truth_frame: pd.DataFrame) -> pd.DataFrame:
    """Ground truth edges with their score columns (inner join on source/destination)."""
    score_cols = [c for c in scores_frame.columns if c not in ("type", "placement")]
    return ground_truth_frame.merge(scores_frame[score_cols], on=["source", "destination"], how="inner",
                                    suffixes=("", "_score"))


def rank_accuracy_correlation(
    scores_frame: pd.DataFrame,
    ground_truth_frame: pd.DataFrame,
    score_col: str = "rank",
    acc_col: str = "val_accuracy_mean",
    by_type: bool = True,
    n_boot: int = 2000,
    seed: int = 0,
    kendall_ci: bool = True,
) -> pd.DataFrame:
    """Spearman and Kendall of score vs accuracy over the measured edges, overall and per edge type.

    One row per group ('all', then each type present) with ``n``, the two coefficients, their
    p-values and bootstrap 95 % intervals (``*_lo``/``*_hi``); NaN where a group has < 3 edges
    or a constant column, and Kendall's intervals NaN with ``kendall_ci=False``.
    """
    if score_col not in scores_frame.columns:
        raise KeyError(f"score table has no column {score_col!r}")
    if acc_col not in ground_truth_frame.columns:
        raise KeyError(f"ground truth has no column {acc_col!r}")
    joined = join_scores(scores_frame, ground_truth_frame)
    return _correlate(joined, score_col, acc_col, by_type, n_boot, seed, kendall_ci)


def cross_task_correlation(
    gt_a: pd.DataFrame,
    gt_b: pd.DataFrame,
    value: str = "val_accuracy_mean",
    by_type: bool = False,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Agreement of two single-edge accuracy maps (e.g. two tasks, same backbone) over shared edges."""
    a = gt_a[["source", "destination", "type", value]]
    b = gt_b[["source", "destination", value]]
    joined = a.merge(b, on=["source", "destination"], suffixes=("_a", "_b"))
    return _correlate(joined, f"{value}_a", f"{value}_b", by_type, n_boot, seed)
