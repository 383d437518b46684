"""How well a per-edge score predicts accuracy, and how much two tasks agree on good edges.

Rank correlations (Spearman, Kendall tau-b: scipy's for the estimates, the same statistics
computed in blocks of resamples for the intervals) with percentile-bootstrap 95 % intervals
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


#: about this many elements per (resamples x edges) block of the bootstrap: blocks of a few MB
#: stay in cache, where one (2000 x 6,561) array per step cost a page-faulted 100 MB each
_BLOCK_ELEMENTS = 1 << 18


def _ranks_of_draws(inverse: np.ndarray, m: int, idx: np.ndarray) -> np.ndarray:
    """``scipy.stats.rankdata(v[idx], axis=1)`` (average ranks of each resample) in O(n_boot * n),
    given ``inverse, m``: v's dense ranks and number of distinct values. A resample holds copies
    of the original values, so the rank of a copy of value u is the number of drawn elements
    below u plus (the number drawn equal to u + 1) / 2, counted with ``bincount`` over the sorted
    distinct values instead of sorting every resample."""
    n_boot = idx.shape[0]
    drawn = inverse[idx]  # (n_boot, n): which distinct value each drawn element is
    counts = np.bincount((np.arange(n_boot)[:, None] * m + drawn).ravel(), minlength=n_boot * m).reshape(n_boot, m)
    average = (np.cumsum(counts, axis=1) - counts) + (counts + 1) / 2.0
    return np.take_along_axis(average, drawn, axis=1)


def _spearman_rows(x_inv: tuple[np.ndarray, int], y_inv: tuple[np.ndarray, int], idx: np.ndarray) -> np.ndarray:
    """Spearman of each resample (row of ``idx``): Pearson correlation of average ranks, row by row."""
    rx = _ranks_of_draws(*x_inv, idx)
    ry = _ranks_of_draws(*y_inv, idx)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    denom = np.sqrt((rx**2).sum(axis=1) * (ry**2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rx * ry).sum(axis=1) / denom, np.nan)


class _ResampledTauB:
    """Kendall's tau-b of resamples of (x, y), exactly as ``scipy.stats.kendalltau`` (variant 'b')
    computes it on ``x[idx[b]], y[idx[b]]``, for a block of resamples at once.

    A resample holds ``w[k]`` copies of point k, so its pair counts are sums over the original
    points: tied in x = sum over the distinct x values of C(copies drawn, 2) (likewise tied in y,
    and tied in both over the distinct (x, y) pairs), and discordant = sum of w[k] w[l] over
    k before l in (u, v) order with v[k] > v[l] (u, v = x, y or y, x: discordance is symmetric;
    v is the side with fewer distinct values). The discordant count is Knight's inversion count
    done bit by bit on v's dense ranks: at bit t, the pairs whose ranks first differ there are a
    high (bit 1) point before a low one within a group of equal higher bits, a cumulative sum of
    the high points' copies. All counts are exact integers, and the last step is scipy's own
    arithmetic, ``(tot - xtie - ytie + ntie - 2 dis) / sqrt(tot - xtie) / sqrt(tot - ytie)``
    clipped to [-1, 1] (NaN when a resample is constant on a side), so the values are scipy's bit
    for bit. The orderings depend only on (x, y) and are built once; a block then costs
    O(rows * n * log2(distinct v)) numpy work.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.n = n = len(x)
        # counts up to n and products up to n^2: int32 while that fits, sums in int64
        self.dtype = np.int32 if n * n < 2**31 else np.int64
        xr, yr = _dense_ranks(x), _dense_ranks(y)
        self.tie_groups = [_groups(xr), _groups(yr), _groups(xr * (int(yr.max()) + 1) + yr)]
        u, v = (xr, yr) if xr.max() >= yr.max() else (yr, xr)
        self.order = np.lexsort((v, u))  # by u, then v: pairs tied in u are never inversions
        ranks = v[self.order]
        self.levels = []
        for t in range(max(1, int(ranks.max()).bit_length())):
            prefix = ranks >> (t + 1)
            perm = np.argsort(prefix, kind="stable")  # groups of equal higher bits, u order inside
            hi = ((ranks[perm] >> t) & 1).astype(bool)
            group = prefix[perm]
            new_group = np.r_[True, group[1:] != group[:-1]]
            first = np.flatnonzero(new_group)[np.cumsum(new_group) - 1]  # each position's group start
            before = np.cumsum(hi) - hi  # high points before each position
            low = ~hi
            # positions (in self.order) of the high and low points; for each low point, the high
            # points before it and before its group's start
            self.levels.append((perm[hi], perm[low], before[low], before[first[low]]))

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        rows, n = idx.shape
        w = np.bincount((np.arange(rows)[:, None] * n + idx).ravel(), minlength=rows * n)
        w = w.reshape(rows, n).astype(self.dtype)
        xtie, ytie, ntie = ((c * (c - 1) // 2).sum(axis=1, dtype=np.int64)
                            for c in (np.add.reduceat(w[:, order], start, axis=1) for order, start in self.tie_groups))
        w = w[:, self.order]
        dis = np.zeros(rows, dtype=np.int64)
        for high, low, before_low, before_first in self.levels:
            above = np.zeros((rows, len(high) + 1), dtype=self.dtype)  # copies of the first j high points
            np.cumsum(w[:, high], axis=1, out=above[:, 1:])
            dis += (w[:, low] * (above[:, before_low] - above[:, before_first])).sum(axis=1, dtype=np.int64)
        tot = n * (n - 1) // 2
        with np.errstate(invalid="ignore", divide="ignore"):
            tau = (tot - xtie - ytie + ntie - 2 * dis) / np.sqrt(tot - xtie) / np.sqrt(tot - ytie)
        tau = np.minimum(1.0, np.maximum(-1.0, tau))
        tau[(xtie == tot) | (ytie == tot)] = np.nan
        return tau


def _dense_ranks(v: np.ndarray) -> np.ndarray:
    return np.unique(v, return_inverse=True)[1].ravel()


def _groups(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order that sorts ``codes`` and where each run of equal codes starts in it."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    return order, np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])


def kendall_tau_b_resamples(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``[scipy.stats.kendalltau(x[i], y[i]).statistic for i in idx]`` (tau-b; NaN for a resample
    constant on a side), computed without sorting each resample (``_ResampledTauB``)."""
    x, y, idx = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.atleast_2d(idx)
    return _ResampledTauB(x, y)(idx)


def _bootstrap(x: np.ndarray, y: np.ndarray, n_boot: int, rng: np.random.Generator,
               kendall: bool = True) -> tuple[float, ...]:
    """2.5 / 97.5 percentiles of Spearman and Kendall over edge resamples (NaN draws dropped).
    ``kendall=False`` skips Kendall's intervals and gives NaN for them. The resamples are drawn
    at once (one ``rng.integers`` call, so ``rng`` moves on as before) and their statistics
    computed in blocks of rows; each resample's values are those of ``scipy.stats.spearmanr`` /
    ``kendalltau`` on it (Spearman up to rounding, Kendall bit for bit)."""
    if n_boot <= 0 or len(x) < 3:
        return (np.nan,) * 4
    n = len(x)
    idx = rng.integers(0, n, size=(n_boot, n))
    x_inv, y_inv = ((r, int(r.max()) + 1) for r in (_dense_ranks(x), _dense_ranks(y)))
    tau_b = _ResampledTauB(x, y) if kendall else None
    sp = np.empty(n_boot)
    kd = np.full(n_boot, np.nan)
    step = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, n_boot, step):
        block = idx[start:start + step]
        sp[start:start + step] = _spearman_rows(x_inv, y_inv, block)
        if tau_b is not None:
            kd[start:start + step] = tau_b(block)

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
