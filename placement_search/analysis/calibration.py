"""Which gradient-rank tolerance and pooling predict accuracy best, and how stable that choice is.

The score of an edge is the numerical rank of its gradient block: singular values above
``rtol * sigma_max``. Both ``rtol`` and the pooling of token rows are free choices; calibrating
them against a stored exhaustive sweep says which to use for a backbone (DESIGN.md §6), and
repeating the scoring with other seeds (other batches, other head draws) says whether the choice
is a property of the model or of one batch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from placement_search.analysis.correlation import _correlate
from placement_search.scoring import EdgeScores

RTOLS = (1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 1e-4)


def _edge_frame(scores: EdgeScores, rtols: tuple[float, ...]) -> pd.DataFrame:
    n = scores.num_points
    src, dst = np.divmod(np.arange(n * n), n)
    frame = pd.DataFrame({"source": src, "destination": dst})
    for r in rtols:
        frame[f"rank@{r:g}"] = scores.ranks(r).reshape(-1).numpy()
    return frame


def rtol_calibration(tables: dict[tuple[str, int], EdgeScores], ground_truth: pd.DataFrame,
                     rtols: tuple[float, ...] = RTOLS, acc_col: str = "val_accuracy_mean",
                     n_boot: int = 1000) -> pd.DataFrame:
    """Spearman/Kendall (with bootstrap 95 % CIs) of rank vs accuracy per (pooling, seed, rtol)."""
    rows = []
    for (pooling, seed), scores in tables.items():
        joined = ground_truth.merge(_edge_frame(scores, rtols), on=["source", "destination"])
        for r in rtols:
            corr = _correlate(joined, f"rank@{r:g}", acc_col, by_type=False, n_boot=n_boot, seed=0).iloc[0]
            rows.append({"pooling": pooling, "seed": seed, "rtol": r, **corr.drop("group").to_dict()})
    return pd.DataFrame(rows)


def calibration_summary(calibration: pd.DataFrame) -> pd.DataFrame:
    """Per (pooling, rtol): Spearman mean / min / max over scoring seeds, and how often it was the
    best choice of that seed (the stability of the choice)."""
    defined = calibration.dropna(subset=["spearman"])  # a constant rank table has no correlation
    best = defined.loc[defined.groupby("seed")["spearman"].idxmax(), ["pooling", "rtol"]]
    wins = best.value_counts().rename("best_for_seeds")
    summary = calibration.groupby(["pooling", "rtol"])["spearman"].agg(["mean", "min", "max", "count"])
    summary = summary.rename(columns={"mean": "spearman_mean", "min": "spearman_min", "max": "spearman_max",
                                      "count": "seeds"}).join(wins).fillna({"best_for_seeds": 0})
    return summary.reset_index().sort_values("spearman_mean", ascending=False)


def score_agreement(tables: dict[tuple[str, int], EdgeScores], rtol: float) -> pd.DataFrame:
    """Spearman between the rank tables of every two scoring seeds with the same pooling."""
    from scipy import stats

    rows = []
    keys = sorted(tables)
    for a in range(len(keys)):
        for b in range(a + 1, len(keys)):
            (pa, sa), (pb, sb) = keys[a], keys[b]
            if pa != pb:
                continue
            x = tables[keys[a]].ranks(rtol).reshape(-1).numpy()
            y = tables[keys[b]].ranks(rtol).reshape(-1).numpy()
            rows.append({"pooling": pa, "seed_a": sa, "seed_b": sb, "rtol": rtol,
                         "spearman": float(stats.spearmanr(x, y).statistic)})
    return pd.DataFrame(rows)
