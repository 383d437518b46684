"""Searchers against the exhaustive optimum: best-so-far accuracy and regret by trial count.

Each search is one run of its searcher; replays of one searcher under different seeds are its
seeds. A trial's value is the ground-truth mean validation accuracy (over training seeds) when its
placement is a measured single edge, else its own validation accuracy: so a replay that finds the
best single edge has regret exactly 0, instead of being rewarded or punished for one seed's noise.
Failed trials use up a trial of budget but cannot improve the best.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from placement_search.store import SCORED_STATUSES
from placement_search.store import GROUND_TRUTH_SEARCHER

CURVE_COLUMNS = ["searcher", "search", "seed", "trial", "placement", "value", "best_so_far", "regret",
                 "best_placement"]


def optimum(ground_truth_frame: pd.DataFrame, value: str = "val_accuracy_mean") -> float:
    """The exhaustive optimum: the best mean validation accuracy of any single edge."""
    return float(ground_truth_frame[value].max())


def replay_searches(trials_frame: pd.DataFrame) -> list[str]:
    """Names of the searches that are replays (they have 'replayed' trials)."""
    return list(dict.fromkeys(trials_frame.loc[trials_frame["status"] == "replayed", "search"]))


def regret_curves(
    trials_frame: pd.DataFrame,
    ground_truth_frame: pd.DataFrame,
    replays_only: bool = True,
    value: str = "val_accuracy_mean",
) -> pd.DataFrame:
    """One row per (search, trial count): best-so-far value and regret against the optimum.

    ``seed`` numbers a searcher's searches 0, 1, ... in the order they were recorded. Exhaustive
    searches are left out (they are the ground truth); ``replays_only`` keeps only replays.
    """
    trials = trials_frame[trials_frame["searcher"] != GROUND_TRUTH_SEARCHER]
    if replays_only:
        trials = trials[trials["search"].isin(replay_searches(trials_frame))]
    if trials.empty or ground_truth_frame.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    best = optimum(ground_truth_frame, value)
    gt_value = dict(zip(ground_truth_frame["placement"], ground_truth_frame[value]))
    trials = trials.sort_values("trial_id")
    order = trials.groupby("search", sort=False)["trial_id"].min().sort_values()
    frames = []
    seed_of: dict[str, int] = {}
    counters: dict[str, int] = {}
    for search in order.index:
        t = trials[trials["search"] == search]
        searcher = t["searcher"].iloc[0]
        seed_of[search] = counters.get(searcher, 0)
        counters[searcher] = seed_of[search] + 1
        usable = t["status"].isin(SCORED_STATUSES).to_numpy()
        own = t["val_accuracy"].to_numpy(float)
        vals = np.array([gt_value.get(p, o) if u else np.nan for p, o, u in zip(t["placement"], own, usable)],
                        dtype=float)
        running = pd.Series(vals).cummax().to_numpy()  # NaN until the first usable trial
        best_idx = pd.Series(np.where(np.isnan(vals), -np.inf, vals)).expanding().apply(np.argmax, raw=True)
        placements = t["placement"].to_numpy()
        frames.append(pd.DataFrame({
            "searcher": searcher, "search": search, "seed": seed_of[search],
            "trial": np.arange(1, len(t) + 1), "placement": placements, "value": vals,
            "best_so_far": running, "regret": best - running,
            "best_placement": [placements[int(i)] if np.isfinite(r) else None
                               for i, r in zip(best_idx, running)],
        }))
    return pd.concat(frames, ignore_index=True)[CURVE_COLUMNS]


def regret_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Per searcher and trial count: median and inter-quartile range of regret over seeds.

    Only seeds that ran that many trials count (``n_seeds`` says how many).
    """
    columns = ["searcher", "trial", "n_seeds", "regret_median", "regret_q25", "regret_q75",
               "best_so_far_median"]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    g = curves.groupby(["searcher", "trial"], sort=True)
    out = pd.DataFrame({
        "n_seeds": g["regret"].size(),
        "regret_median": g["regret"].median(),
        "regret_q25": g["regret"].quantile(0.25),
        "regret_q75": g["regret"].quantile(0.75),
        "best_so_far_median": g["best_so_far"].median(),
    }).reset_index()
    return out[columns]


def top_fraction_threshold(ground_truth_frame: pd.DataFrame, fraction: float = 0.05,
                           value: str = "val_accuracy_mean") -> float:
    """The value of the ceil(fraction * n)-th best single edge: reaching it is 'in the top fraction'."""
    vals = np.sort(ground_truth_frame[value].dropna().to_numpy(float))[::-1]
    if len(vals) == 0:
        return math.nan
    return float(vals[max(1, math.ceil(fraction * len(vals))) - 1])


def trials_to_top_fraction(
    trials_frame: pd.DataFrame,
    ground_truth_frame: pd.DataFrame,
    fraction: float = 0.05,
    replays_only: bool = True,
) -> pd.DataFrame:
    """Per searcher: trials until a placement reaches the top ``fraction`` of single edges.

    A seed that never gets there counts as infinitely many trials, so the median is NaN when half
    or more of the seeds never found one; ``n_found`` says how many did.
    """
    columns = ["searcher", "n_seeds", "n_found", "median_trials", "min_trials", "max_trials", "threshold"]
    curves = regret_curves(trials_frame, ground_truth_frame, replays_only)
    if curves.empty:
        return pd.DataFrame(columns=columns)
    threshold = top_fraction_threshold(ground_truth_frame, fraction)
    rows = []
    for searcher, c in curves.groupby("searcher", sort=True):
        hits = []
        for _, s in c.groupby("search", sort=False):
            reached = s.loc[s["value"] >= threshold - 1e-12, "trial"]
            hits.append(float(reached.iloc[0]) if len(reached) else math.inf)
        hits_arr = np.array(hits)
        med = float(np.median(hits_arr))
        found = hits_arr[np.isfinite(hits_arr)]
        rows.append({
            "searcher": searcher, "n_seeds": len(hits), "n_found": len(found),
            "median_trials": med if math.isfinite(med) else math.nan,
            "min_trials": float(found.min()) if len(found) else math.nan,
            "max_trials": float(found.max()) if len(found) == len(hits) else math.nan,
            "threshold": threshold,
        })
    return pd.DataFrame(rows, columns=columns)
