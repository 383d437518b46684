"""Searchers against the exhaustive optimum: best-so-far accuracy and regret by trials and by compute.

Each search is one run of its searcher; replays of one searcher under different seeds are its
seeds. A trial's value is the ground-truth mean validation accuracy (over training seeds) when its
placement is a measured single edge, else its own validation accuracy: so a replay that finds the
best single edge has regret exactly 0, instead of being rewarded or punished for one seed's noise.

Only a placement the search ran to the end can be *found*: a trial counts when it completed (or
was replayed) the whole recipe, or reused such a trial of its search. Failed trials, trials a
scheduler stopped early and copies of those use up budget and compute but cannot improve the best.

Compute (DESIGN.md §12) is in epoch-equivalents: each trial costs ``trial_cost(placement, epochs)``
(search/cost.py: its epochs times its placement's relative cost per epoch; by default its epochs),
a reused trial nothing, and a search starts at its searcher's ``overhead`` (the scoring pass for a
searcher that reads the gradient-rank scores). ``compute`` is the cumulative cost through a trial.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from placement_search.store import GROUND_TRUTH_SEARCHER

CURVE_COLUMNS = ["searcher", "search", "seed", "trial", "placement", "status", "full", "epochs", "cost", "compute",
                 "value", "best_so_far", "regret", "best_placement"]
#: statuses of a trial that ran its placement to the end itself
FULL_STATUSES = ("completed", "replayed")

TrialCost = Callable[[str, float], float]
#: one trial's training-noise sd (val accuracy) for criterion (b) when a store has no edge trained
#: with two seeds: the committed stores measured 0.0078 (MiniLM x TREC-6, 29 edges) and 0.0087
#: (DINOv2-S x Fashion-MNIST, 105 edges), analysis/experiments.seed_noise; their mean, rounded
DEFAULT_TRIAL_SD = 0.008


def optimum(ground_truth_frame: pd.DataFrame, value: str = "val_accuracy_mean") -> float:
    """The exhaustive optimum: the best mean validation accuracy of any single edge."""
    return float(ground_truth_frame[value].max())


def replay_searches(trials_frame: pd.DataFrame) -> list[str]:
    """Names of the searches that are replays (they have 'replayed' trials)."""
    return list(dict.fromkeys(trials_frame.loc[trials_frame["status"] == "replayed", "search"]))


def _full_runs(statuses: np.ndarray, placements: np.ndarray) -> np.ndarray:
    """Per trial of one search (in order): did it run its placement to the end (module doc)?"""
    done: set[str] = set()
    out = np.zeros(len(statuses), dtype=bool)
    for i, (status, placement) in enumerate(zip(statuses, placements, strict=True)):
        if status in FULL_STATUSES:
            out[i] = True
            done.add(placement)
        elif status == "reused":
            out[i] = placement in done
    return out


def _default_cost(placement: str, epochs: float) -> float:
    return 0.0 if epochs is None or epochs != epochs else float(epochs)  # noqa: PLR0124 - NaN


def regret_curves(
    trials_frame: pd.DataFrame,
    ground_truth_frame: pd.DataFrame,
    replays_only: bool = True,
    value: str = "val_accuracy_mean",
    trial_cost: TrialCost | None = None,
    overhead: Mapping[str, float] | Callable[[str], float] | None = None,
) -> pd.DataFrame:
    """One row per (search, trial count): best-so-far value and regret against the optimum, and the
    compute spent through that trial.

    ``seed`` numbers a searcher's searches 0, 1, ... in the order they were recorded. Exhaustive
    searches are left out (they are the ground truth); ``replays_only`` keeps only replays.
    ``trial_cost(placement, epochs)``: a trial's epoch-equivalents (default: its epochs; reused
    trials always cost 0). ``overhead``: per searcher name, the compute a search pays before its
    first trial (default 0).
    """
    trials = trials_frame[trials_frame["searcher"] != GROUND_TRUTH_SEARCHER]
    if replays_only:
        trials = trials[trials["search"].isin(replay_searches(trials_frame))]
    if trials.empty or ground_truth_frame.empty:
        return pd.DataFrame(columns=CURVE_COLUMNS)
    cost_of = trial_cost or _default_cost
    if overhead is None:
        upfront: Callable[[str], float] = lambda s: 0.0  # noqa: E731
    elif callable(overhead):
        upfront = overhead
    else:
        upfront = lambda s: float(overhead.get(s, 0.0))  # noqa: E731
    best = optimum(ground_truth_frame, value)
    gt_value = dict(zip(ground_truth_frame["placement"], ground_truth_frame[value], strict=True))
    trials = trials.sort_values("trial_id")
    order = trials.groupby("search", sort=False)["trial_id"].min().sort_values()
    epochs_col = trials["epochs"] if "epochs" in trials.columns else pd.Series(np.nan, index=trials.index)
    frames = []
    seed_of: dict[str, int] = {}
    counters: dict[str, int] = {}
    for search in order.index:
        t = trials[trials["search"] == search]
        searcher = t["searcher"].iloc[0]
        seed_of[search] = counters.get(searcher, 0)
        counters[searcher] = seed_of[search] + 1
        placements = t["placement"].to_numpy()
        statuses = t["status"].to_numpy()
        full = _full_runs(statuses, placements)
        own = t["val_accuracy"].to_numpy(float)
        vals = np.array([gt_value.get(p, o) if u else np.nan for p, o, u in zip(placements, own, full, strict=True)],
                        dtype=float)
        epochs = epochs_col.loc[t.index].to_numpy(float)
        costs = np.array([0.0 if st == "reused" else float(cost_of(p, e))
                          for p, e, st in zip(placements, epochs, statuses, strict=True)], dtype=float)
        running = np.fmax.accumulate(vals)  # NaN until the first usable trial, then carried past unusable ones
        best_idx = pd.Series(np.where(np.isnan(vals), -np.inf, vals)).expanding().apply(np.argmax, raw=True)
        frames.append(pd.DataFrame({
            "searcher": searcher, "search": search, "seed": seed_of[search],
            "trial": np.arange(1, len(t) + 1), "placement": placements, "status": statuses, "full": full,
            "epochs": epochs, "cost": costs, "compute": upfront(searcher) + np.cumsum(costs), "value": vals,
            "best_so_far": running, "regret": best - running,
            "best_placement": [placements[int(i)] if np.isfinite(r) else None
                               for i, r in zip(best_idx, running, strict=True)],
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


# ------------------------------------------------------------------------------------- compute


def near_best_threshold(ground_truth_frame: pd.DataFrame, trial_sd: float,
                        value: str = "val_accuracy_mean") -> float:
    """Criterion (b) of DESIGN.md §12: within one training-noise sd of the best single edge."""
    return optimum(ground_truth_frame, value) - float(trial_sd)


def quantile(values, q: float) -> float:
    """Linear-interpolation quantile (numpy's default) where inf stands for 'never': a quantile
    that interpolates towards an inf is inf; NaN when there are no values."""
    v = np.sort(np.asarray(values, dtype=float))
    if len(v) == 0:
        return math.nan
    pos = q * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    if np.isinf(v[hi]):
        return math.inf if (hi > lo and pos > lo) or np.isinf(v[lo]) else float(v[lo])
    return float(v[lo] + (v[hi] - v[lo]) * (pos - lo))


def hits(curves: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per search: the first trial whose value reaches ``threshold`` (trial count and compute
    through it), inf for a search that never did."""
    columns = ["searcher", "search", "seed", "trials", "compute", "total_trials", "total_compute"]
    rows = []
    for search, s in curves.groupby("search", sort=False):
        reached = s[s["value"] >= threshold - 1e-12]
        first = reached.iloc[0] if len(reached) else None
        rows.append({"searcher": s["searcher"].iloc[0], "search": search, "seed": int(s["seed"].iloc[0]),
                     "trials": math.inf if first is None else float(first["trial"]),
                     "compute": math.inf if first is None else float(first["compute"]),
                     "total_trials": int(s["trial"].max()), "total_compute": float(s["compute"].max())})
    return pd.DataFrame(rows, columns=columns)


def target_summary(curves: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per searcher: how many seeds reached ``threshold`` and the median and quartiles over seeds of
    the compute and of the trials they needed (a seed that never got there counts as inf)."""
    columns = ["searcher", "n_seeds", "n_found", "compute_median", "compute_q25", "compute_q75",
               "trials_median", "trials_q25", "trials_q75", "threshold"]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    h = hits(curves, threshold)
    rows = []
    for searcher, g in h.groupby("searcher", sort=True):
        c, t = g["compute"].to_numpy(float), g["trials"].to_numpy(float)
        rows.append({"searcher": searcher, "n_seeds": len(g), "n_found": int(np.isfinite(c).sum()),
                     "compute_median": quantile(c, 0.5), "compute_q25": quantile(c, 0.25),
                     "compute_q75": quantile(c, 0.75), "trials_median": quantile(t, 0.5),
                     "trials_q25": quantile(t, 0.25), "trials_q75": quantile(t, 0.75), "threshold": threshold})
    return pd.DataFrame(rows, columns=columns)


def median_ratio_ci(x, y, rng: np.random.Generator, n_boot: int = 2000) -> tuple[float, float, float]:
    """median(x) / median(y) and its bootstrap 95 % interval, the seeds of both resampled.

    Why: a ratio of two 50-seed medians moves by about 0.2x from one set of seeds to another, so a
    target such as "never above 1x" is read against the interval, not the point. A seed that never
    reached the target is inf in x or y; resamples whose ratio is undefined are dropped."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    bx = np.median(x[rng.integers(0, len(x), (n_boot, len(x)))], axis=1)
    by = np.median(y[rng.integers(0, len(y), (n_boot, len(y)))], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = bx / by
        point = float(np.median(x) / np.median(y))
    finite = r[np.isfinite(r)]
    lo, hi = np.quantile(finite, [0.025, 0.975]) if len(finite) else (math.inf, math.inf)
    return point, float(lo), float(hi)


def compute_grid(curves: pd.DataFrame, points: int = 200) -> np.ndarray:
    """Evenly spaced compute values from 0 to the largest compute any search spent."""
    top = float(curves["compute"].max()) if len(curves) else 0.0
    return np.linspace(0.0, top, points) if top > 0 else np.zeros(1)


def regret_compute_summary(curves: pd.DataFrame, grid=None) -> pd.DataFrame:
    """Per searcher and compute value x on ``grid``: median and inter-quartile range over seeds of
    the best-so-far regret after the trials whose cumulative compute is at most x.

    As for trial counts, only seeds that spent at least x count (``n_seeds``); a seed with nothing
    found by x (its overhead, or only stopped trials) counts as infinite regret, so a median or
    quartile is inf until enough seeds have found something.
    """
    columns = ["searcher", "compute", "n_seeds", "regret_median", "regret_q25", "regret_q75"]
    if curves.empty:
        return pd.DataFrame(columns=columns)
    grid = compute_grid(curves) if grid is None else np.asarray(grid, dtype=float)
    rows = []
    for searcher, c in curves.groupby("searcher", sort=True):
        per_seed = []
        for _, s in c.groupby("search", sort=False):
            spent = s["compute"].to_numpy(float)
            regret = np.where(np.isnan(s["regret"].to_numpy(float)), np.inf, s["regret"].to_numpy(float))
            per_seed.append((spent, regret, float(spent.max())))
        for x in grid:
            vals = []
            for spent, regret, total in per_seed:
                if total < x:
                    continue
                i = np.searchsorted(spent, x + 1e-12, side="right") - 1
                vals.append(math.inf if i < 0 else float(regret[i]))
            if vals:
                rows.append({"searcher": searcher, "compute": float(x), "n_seeds": len(vals),
                             "regret_median": quantile(vals, 0.5), "regret_q25": quantile(vals, 0.25),
                             "regret_q75": quantile(vals, 0.75)})
    return pd.DataFrame(rows, columns=columns)
