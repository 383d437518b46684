"""Multi-adapter placements against single edges and baselines, and the training noise level.

``multi_adapter_table`` answers the paper's last claim (a few GGA adapters against an adapter on
every sub-layer and random placements of the same size); ``seed_noise`` measures how much a
single trial's accuracy moves with the training seed, which every other difference must beat.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from placement_search.analysis.correlation import _row
from placement_search.analysis.regret import DEFAULT_TRIAL_SD

#: searches whose trials are not multi-adapter experiments
_NOT_EXPERIMENTS = ("exhaustive", "repeat")


def multi_adapter_table(trials: pd.DataFrame, best_single: float) -> pd.DataFrame:
    """Per (search, variant, K): how many placements, their val/test accuracy (mean, sd, best) and
    the difference of the mean val accuracy to the best single edge."""
    t = trials[(trials["status"] == "completed") & ~trials["searcher"].isin(_NOT_EXPERIMENTS)].copy()
    if t.empty:
        return pd.DataFrame()
    # a trial's variant is its plan label ('gga gamma 0.6', 'probe'), else its search's searcher
    t["variant"] = t["label"].where(t["label"].notna(), t["searcher"])
    g = t.groupby(["search", "variant", "k"], sort=True)
    table = g.agg(n=("val_accuracy", "size"), val_mean=("val_accuracy", "mean"), val_sd=("val_accuracy", "std"),
                  val_best=("val_accuracy", "max"), test_mean=("test_accuracy", "mean"),
                  test_sd=("test_accuracy", "std"), adapter_params=("num_adapter_params", "median")).reset_index()
    table["val_mean_minus_best_single"] = table["val_mean"] - best_single
    return table


def seed_noise(trials: pd.DataFrame, n_boot: int = 1000) -> pd.DataFrame:
    """Single edges trained with two seeds: the paired differences and the seed-to-seed agreement.

    ``trial_sd`` = sd(difference) / sqrt(2) estimates one trial's standard deviation.
    """
    t = trials[(trials["status"] == "completed") & (trials["k"] == 1)
               & trials["searcher"].isin(_NOT_EXPERIMENTS)]
    rows = []
    for metric in ("val_accuracy", "test_accuracy"):
        wide = t.pivot_table(index="placement", columns="seed", values=metric, aggfunc="first")
        seeds = sorted(wide.columns)
        for a, b in zip(seeds, seeds[1:]):
            pair = wide[[a, b]].dropna()
            if len(pair) < 3:
                continue
            diff = pair[b] - pair[a]
            corr = _row("seeds", pair[a].to_numpy(float), pair[b].to_numpy(float), n_boot,
                        np.random.default_rng(0))
            rows.append({"metric": metric, "seeds": f"{a} vs {b}", "edges": len(pair),
                         "mean_abs_diff": float(diff.abs().mean()), "max_abs_diff": float(diff.abs().max()),
                         "trial_sd": float(diff.std(ddof=1) / math.sqrt(2)),
                         "spread_sd": float(pd.concat([pair[a], pair[b]]).std(ddof=1)),
                         "spearman": corr["spearman"], "spearman_lo": corr["spearman_lo"],
                         "spearman_hi": corr["spearman_hi"],
                         "wilcoxon_p": float(stats.wilcoxon(pair[a], pair[b]).pvalue) if (diff != 0).any() else 1.0})
    return pd.DataFrame(rows)


def training_noise(trials: pd.DataFrame) -> tuple[float, str]:
    """One trial's val-accuracy sd from a benchmark's trials (``seed_noise``, the first pair of
    seeds) and where it came from; ``DEFAULT_TRIAL_SD`` when no edge was trained with two seeds.
    The benchmark's criterion (b) and the selection's replays read it, so they agree."""
    r = measured_noise(seed_noise(trials, n_boot=10))
    if r is not None:
        return float(r["trial_sd"]), f"measured: {int(r['edges'])} single edges trained with seeds {r['seeds']}"
    return DEFAULT_TRIAL_SD, "no edge trained with two seeds in this store: documented default"


def measured_noise(noise: pd.DataFrame) -> pd.Series | None:
    """The row of a ``seed_noise`` table that gives one trial's val-accuracy sd (its first pair of
    seeds), or None when no edge was trained with two seeds: the one choice ``training_noise`` and
    the report both make."""
    rows = noise[noise["metric"] == "val_accuracy"] if len(noise) else noise
    return rows.iloc[0] if len(rows) else None
