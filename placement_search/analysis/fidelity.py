"""What stopping trials after one epoch could save at best, read off a ground truth's curves.

ASHA (``search.scheduler: asha``, grace period 1 epoch) stops a trial whose one-epoch validation
accuracy ranks low among the trials before it. Whether that pays on a task depends on how well
the first epoch predicts the last, which the exhaustive sweep's learning curves already show.
``stopping_headroom`` measures the ceiling, replaying no searcher: an idealised halving that knows
the map's own one-epoch distribution (ASHA estimates it from the trials it has seen) stops every
edge in the bottom ``q`` of it after epoch 1, at 1/epochs of the edge's price, and trains the rest
to the end. For a search that tries edges at random, the compute per target edge found is
(mean price of a trial) / (share of edges that are target edges *and* run to the end), so

    factor(q) = mean price with stopping / mean price without  /  share of target edges kept

is what the rule multiplies random search's compute by; the same holds for any searcher whose
picks do not depend on the one-epoch accuracy. Near 1, the first epoch pays for itself and no
more; at 0.5 it alone would halve the compute. ``benchmark_headroom`` applies it to a stored
ground truth (the report's table, and analysis/fidelity_headroom.py's over stores).

``probe_headroom`` is the same ceiling for a probe that is a separate, cheaper run of the edge
(fewer training examples, one epoch: analysis/low_fidelity.py) rather than the trial's own first
epoch: every edge pays its probe, and a kept edge then trains the full recipe from the start.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from placement_search.analysis.results import Results

#: shares of the edges stopped after epoch 1 (ASHA's reduction factor 3 stops 2/3 at its first rung)
STOP_SHARES = (1 / 3, 1 / 2, 2 / 3)
#: shares of the edges a separate cheap probe stops (it pays off only when it stops most of them)
PROBE_STOP_SHARES = (1 / 2, 2 / 3, 3 / 4, 5 / 6, 9 / 10)

COLUMNS = ["target", "threshold", "stop_share", "edges", "target_edges", "target_edges_kept", "cost_per_trial",
           "factor"]


def first_epoch_accuracy(curves: pd.DataFrame) -> pd.Series:
    """Per placement, the mean over its trials of the validation accuracy at the first curve point
    with epoch >= 1 (where ASHA with a grace period of one epoch compares a trial). A trial whose
    curve has no such point, or only its last one (a one-epoch recipe), is left out."""
    if curves is None or curves.empty or "epoch" not in curves:
        return pd.Series(dtype=float, name="first_epoch_accuracy")
    c = curves[curves["epoch"].notna() & curves["val_accuracy"].notna()].sort_values(["trial_id", "step"])
    first = c[c["epoch"] >= 1.0 - 1e-9].groupby("trial_id").head(1)
    last_epoch = c.groupby("trial_id")["epoch"].max()
    first = first[first["epoch"].to_numpy() < last_epoch.reindex(first["trial_id"]).to_numpy()]
    return first.groupby("placement")["val_accuracy"].mean().rename("first_epoch_accuracy")


def stopping_headroom(final: pd.Series, first_epoch: pd.Series, price: Callable[[str], float], epochs: float,
                      thresholds: Mapping[str, float], stop_shares: Sequence[float] = STOP_SHARES) -> pd.DataFrame:
    """One row per target and stop share (module doc). ``final`` and ``first_epoch``: accuracy per
    placement (the edges with both count); ``price``: relative cost per epoch of a placement;
    ``thresholds``: target name -> the final accuracy that meets it."""
    if not epochs or epochs <= 1:
        return pd.DataFrame(columns=COLUMNS)
    return _halving(final, first_epoch, price, 1.0 / epochs, 1.0, thresholds, stop_shares)


def probe_headroom(final: pd.Series, probe: pd.Series, price: Callable[[str], float], probe_share: pd.Series,
                   thresholds: Mapping[str, float], stop_shares: Sequence[float] = PROBE_STOP_SHARES) -> pd.DataFrame:
    """``stopping_headroom`` for a probe that is a run of its own (fewer examples, fewer epochs:
    analysis/low_fidelity.py), not a prefix of the full trial: every edge pays its probe, at
    ``probe_share`` (per placement) of its full trial's price, and a kept edge then trains the full
    recipe from the start, so it pays 1 + probe_share."""
    return _halving(final, probe, price, probe_share, 1.0 + probe_share, thresholds, stop_shares)


def _halving(final: pd.Series, signal: pd.Series, price: Callable[[str], float], stopped_share, kept_share,
             thresholds: Mapping[str, float], stop_shares: Sequence[float]) -> pd.DataFrame:
    """The idealised halving of the module doc: an edge in the bottom ``q`` of ``signal`` costs
    ``stopped_share`` of its full price, any other ``kept_share`` of it (scalars or per-placement
    Series)."""
    both = pd.concat([final.rename("final"), signal.rename("first")], axis=1, join="inner").dropna()
    if both.empty:
        return pd.DataFrame(columns=COLUMNS)
    cost = np.array([price(p) for p in both.index], float)
    stopped_cost, kept_cost = (cost * (s.reindex(both.index).to_numpy(float) if isinstance(s, pd.Series) else s)
                               for s in (stopped_share, kept_share))
    accuracy = both["final"].to_numpy(float)
    quantile = (rankdata(both["first"].to_numpy(float)) - 0.5) / len(both)  # ties share a rank
    rows = []
    for target, threshold in thresholds.items():
        hit = accuracy >= threshold - 1e-12
        for q in stop_shares:
            stopped = quantile < q
            per_trial = float(np.where(stopped, stopped_cost, kept_cost).mean() / cost.mean())
            kept = float((hit & ~stopped).sum() / hit.sum()) if hit.any() else float("nan")
            rows.append({"target": target, "threshold": float(threshold), "stop_share": round(float(q), 4),
                         "edges": len(both), "target_edges": int(hit.sum()), "target_edges_kept": kept,
                         "cost_per_trial": per_trial, "factor": per_trial / kept if kept > 0 else float("inf")})
    return pd.DataFrame(rows, columns=COLUMNS)


def benchmark_headroom(results: Results, key: str, thresholds: Mapping[str, float]) -> pd.DataFrame:
    """``stopping_headroom`` of the ground truth under ``key``: its mean val accuracies, its trials'
    curves, the cost table of its backbone and task (search/cost.py) and its recipe's epochs."""
    from placement_search.search.cost import table_for_description

    gt = results.ground_truth.get(key)
    if gt is None or gt.empty:
        return pd.DataFrame(columns=COLUMNS)
    desc = results.benchmarks.get(key, {})
    n_points = int(max(gt["source"].max(), gt["destination"].max())) + 1
    return stopping_headroom(gt.set_index("placement")["val_accuracy_mean"],
                             first_epoch_accuracy(results.ground_truth_curves.get(key)),
                             table_for_description(desc, n_points).relative,
                             float((desc.get("training") or {}).get("epochs") or 0), thresholds)
