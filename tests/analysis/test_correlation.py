"""The bootstrap of analysis/correlation.py against scipy, resample by resample.

The intervals are computed in blocks of resamples (Kendall's tau-b by counting pairs over the
copies each resample holds, not one scipy call per resample); these tests pin that to scipy's own
tau-b on the very same resamples, and the interval columns to a percentile bootstrap written out
with scipy, same seed, same draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from placement_search.analysis import correlation
from placement_search.analysis.correlation import kendall_tau_b_resamples, rank_accuracy_correlation
from placement_search.config import EDGE_TYPES
from placement_search.placement.edges import edge_type


def scipy_tau_b(x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([stats.kendalltau(x[i], y[i], variant="b").statistic for i in idx])


@pytest.mark.parametrize("seed", range(6))
def test_tau_b_of_resamples_is_scipys_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    for n in (3, 4, 7, 30, 200):
        cases = [
            (rng.integers(0, 3, n), rng.integers(0, 4, n)),           # heavy ties on both sides
            (rng.integers(0, 2, n), rng.random(n)),                   # binary vs distinct
            (rng.random(n), rng.integers(0, 5, n)),                   # distinct vs tied (the sides swap)
            (rng.random(n), rng.random(n)),                           # no ties in the data
            (a := rng.integers(0, 6, n), -a + rng.integers(0, 2, n)),  # strongly negative, tied
            (np.r_[np.zeros(n - 1), 1.0], rng.integers(0, 3, n)),     # nearly constant: NaN resamples
        ]
        for x, y in cases:
            x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
            idx = rng.integers(0, n, size=(25, n))
            got, want = kendall_tau_b_resamples(x, y, idx), scipy_tau_b(x, y, idx)
            np.testing.assert_array_equal(got, want)  # equal, NaN where scipy's is NaN
            np.testing.assert_array_equal(kendall_tau_b_resamples(x, y, np.arange(n)), scipy_tau_b(x, y, [np.arange(n)]))


def test_tau_b_blocks_of_any_size(monkeypatch):
    """The blocks the bootstrap cuts its resamples into do not change the values."""
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 8, 150).astype(float), rng.random(150)
    reference = correlation._bootstrap(x, y, 97, np.random.default_rng(3))
    for elements in (1, 150 * 7, 1 << 18):
        monkeypatch.setattr(correlation, "_BLOCK_ELEMENTS", elements)
        assert correlation._bootstrap(x, y, 97, np.random.default_rng(3)) == reference


def reference_intervals(frame: pd.DataFrame, n_boot: int, seed: int) -> pd.DataFrame:
    """The percentile bootstrap written out with scipy: per group ('all', then each edge type),
    ``rng.integers(0, n, (n_boot, n))`` from one seeded generator, spearmanr and kendalltau on each
    resample, the 2.5 / 97.5 percentiles of the finite ones."""
    rng = np.random.default_rng(seed)
    groups = [("all", frame)] + [(t, frame[frame["type"] == t]) for t in EDGE_TYPES if (frame["type"] == t).any()]
    rows = []
    for name, g in groups:
        x, y = g["rank"].to_numpy(float), g["val_accuracy_mean"].to_numpy(float)
        idx = rng.integers(0, len(x), size=(n_boot, len(x)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sp = np.array([stats.spearmanr(x[i], y[i]).statistic for i in idx])
        kd = scipy_tau_b(x, y, idx)
        lo_hi = [np.percentile(v[np.isfinite(v)], [2.5, 97.5]) for v in (sp, kd)]
        rows.append({"group": name, "spearman_lo": lo_hi[0][0], "spearman_hi": lo_hi[0][1],
                     "kendall_lo": lo_hi[1][0], "kendall_hi": lo_hi[1][1]})
    return pd.DataFrame(rows)


def test_rank_accuracy_intervals_match_a_scipy_bootstrap():
    points = 9
    rng = np.random.default_rng(7)
    edges = [(i, j) for i in range(points) for j in range(points)]
    rank = rng.integers(0, 6, len(edges))  # integer ranks: heavy ties, as the real score tables
    gt = pd.DataFrame({"source": [i for i, _ in edges], "destination": [j for _, j in edges],
                       "type": [edge_type(i, j) for i, j in edges],
                       "val_accuracy_mean": np.round(0.8 + 0.01 * rank + 0.02 * rng.random(len(edges)), 3)})
    scores = gt[["source", "destination"]].assign(rank=rank)
    got = rank_accuracy_correlation(scores, gt, n_boot=400, seed=5)
    want = reference_intervals(gt.assign(rank=rank), n_boot=400, seed=5)
    assert list(got["group"]) == list(want["group"]) == ["all", *EDGE_TYPES]
    # Kendall: scipy's values on the same resamples, so the same percentiles exactly
    np.testing.assert_array_equal(got[["kendall_lo", "kendall_hi"]].to_numpy(), want[["kendall_lo", "kendall_hi"]])
    # Spearman: Pearson of average ranks, vectorised since before this change; equal up to rounding
    np.testing.assert_allclose(got[["spearman_lo", "spearman_hi"]].to_numpy(), want[["spearman_lo", "spearman_hi"]],
                               rtol=1e-12, atol=1e-14)
