"""Accuracy against price: Pareto fronts, hypervolumes and the baselines they are measured against.

A multi-objective search (``search.objectives`` with more than val_accuracy, search/objectives.py)
is drawn, for each price (adapter parameters, inference cost over the linear probe), as its trials
and their Pareto front (highest val accuracy for the price; trials that trained to the end), beside
the baselines the store holds under the same benchmark key: the linear probe, parallel-all,
sequential-all, GGA-K and random-K placements (analysis/placement_experiments.py, ``baseline:NAME``
searches) and the single edges of the ground truth.

Hypervolume: the area the front dominates, computed by Optuna's ``compute_hypervolume`` on
(-val accuracy, price), from the reference point (val accuracy of the linear probe when the store
has it, else the lowest val accuracy drawn; 1.1 x the highest price drawn). Every front in one
figure (the search's, each baseline group's, the single edges') uses the same reference point, so
their hypervolumes compare; a point no better than the probe adds nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from placement_search.store.schema import SCORED_STATUSES

#: price objective -> (trial column, axis label)
PRICES = {"adapter_params": ("num_adapter_params", "adapter parameters"),
          "inference_cost": ("inference_cost", "inference FLOPs / linear probe's")}


def pareto_front(frame: pd.DataFrame, cost: str, accuracy: str = "val_accuracy") -> pd.DataFrame:
    """The rows no other row beats (higher ``accuracy`` at no more ``cost``, or lower cost at no less
    accuracy), one per (cost, accuracy), by increasing cost."""
    data = frame.dropna(subset=[cost, accuracy]).sort_values([cost, accuracy], ascending=[True, False])
    keep, best = [], -np.inf
    for index, value in zip(data.index, data[accuracy]):
        if value > best:
            keep.append(index)
            best = value
    return data.loc[keep]


def hypervolume(accuracy: np.ndarray, cost: np.ndarray, reference: tuple[float, float]) -> float:
    """Area dominated by the points (maximise accuracy, minimise cost) from ``reference`` = (accuracy,
    cost): Optuna's exact hypervolume of the losses (-accuracy, cost)."""
    from optuna._hypervolume import compute_hypervolume

    acc_ref, cost_ref = reference
    points = np.column_stack([-np.asarray(accuracy, float), np.asarray(cost, float)])
    points = points[(points[:, 0] < -acc_ref) & (points[:, 1] < cost_ref)]
    if not len(points):
        return 0.0
    return float(compute_hypervolume(points, np.array([-acc_ref, cost_ref])))


def baseline_groups(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials that serve as baselines, with a ``group`` column: ``probe``, ``parallel-all``,
    ``sequential-all``, ``GGA-K<k>``, ``random-K<k>``, ``single edges`` (the ground truth)."""
    done = trials[trials["status"].isin(SCORED_STATUSES)]
    groups = pd.Series(None, index=done.index, dtype=object)
    label = done["label"].fillna("")
    groups[done["placement"] == ""] = "probe"
    for name in ("parallel-all", "sequential-all"):
        groups[(done["searcher"] == "baseline") & (label == name)] = name
        groups[done["searcher"] == f"baseline:{name}"] = name
    gga = (done["searcher"] == "gga") | label.str.startswith("gga") | done["searcher"].str.startswith("baseline:gga")
    groups[gga & (done["k"] > 0)] = "GGA-K" + done["k"].astype(str)
    groups[(done["searcher"] == "random") & (done["k"] > 0)] = "random-K" + done["k"].astype(str)
    groups[(done["searcher"] == "exhaustive") & (done["k"] == 1)] = "single edges"
    return done.assign(group=groups).dropna(subset=["group"])


def front_table(search: pd.DataFrame, baselines: pd.DataFrame, objective: str,
                probe_accuracy: float | None) -> tuple[pd.DataFrame, pd.DataFrame, tuple[float, float]]:
    """(the search's front, hypervolume per group with the search first, the reference point) for
    one price ``objective``."""
    cost = PRICES[objective][0]
    done = search[search["status"].isin(SCORED_STATUSES)]
    drawn = pd.concat([done, baselines]).dropna(subset=[cost, "val_accuracy"])
    if drawn.empty:
        return done.iloc[:0], pd.DataFrame(columns=["points", "hypervolume", "front"]), (np.nan, np.nan)
    acc_ref = probe_accuracy if probe_accuracy is not None else float(drawn["val_accuracy"].min())
    reference = (acc_ref, 1.1 * float(drawn[cost].max()))
    rows = []
    for name, group in [("this search", done), *baselines.groupby("group", sort=True)]:
        front = pareto_front(group, cost)
        rows.append({"group": name, "points": len(group.dropna(subset=[cost])),
                     "hypervolume": hypervolume(front["val_accuracy"], front[cost], reference),
                     "front": ", ".join(f"{p or 'empty'} ({a:.3f}, {c:.4g})" for p, a, c in
                                        zip(front["placement"], front["val_accuracy"], front[cost]))})
    return pareto_front(done, cost), pd.DataFrame(rows), reference


def plot_front(search: pd.DataFrame, baselines: pd.DataFrame, objective: str, title: str):
    """Scatter of the search's trials with its front as a step line, baselines as labelled markers,
    single edges as a grey cloud."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cost, label = PRICES[objective]
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    singles = baselines[baselines["group"] == "single edges"]
    if len(singles):
        ax.scatter(singles[cost], singles["val_accuracy"], s=10, c="0.75", label="single edges (ground truth)")
    markers = iter("sD^v<>ph*")
    for name, group in baselines[baselines["group"] != "single edges"].groupby("group", sort=True):
        ax.scatter(group[cost], group["val_accuracy"], s=40, marker=next(markers, "o"), label=name)
    done = search[search["status"].isin(SCORED_STATUSES)]
    ax.scatter(done[cost], done["val_accuracy"], s=18, c="tab:blue", alpha=0.5, label="this search's trials")
    front = pareto_front(done, cost)
    if len(front):
        ax.step(front[cost], front["val_accuracy"], where="post", c="tab:blue", lw=2, label="its Pareto front")
    ax.set_xlabel(label)
    ax.set_ylabel("val accuracy")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def pareto_section(page, results, key: str) -> None:
    """The report's section for the multi-objective searches of benchmark ``key`` (none: nothing)."""
    searches = results.searches[results.searches["benchmark_key"] == key]
    multi = [n for n in searches["name"] if len(results.objectives.get(n, ())) > 1]
    if not multi:
        return
    trials = results.trials[results.trials["benchmark_key"] == key]
    baselines = baseline_groups(trials[~trials["search"].isin(multi)])
    probe = baselines.loc[baselines["group"] == "probe", "val_accuracy"]
    probe_accuracy = float(probe.mean()) if len(probe) else None
    page.heading(3, "Accuracy against price: Pareto fronts")
    page.para("Each multi-objective search's trials and Pareto front (val accuracy against adapter parameters and "
              "inference FLOPs over the linear probe's), beside the baselines in this store under the same key. "
              "Hypervolume: the area each front dominates from one reference point per figure (val accuracy of the "
              "linear probe, else the lowest drawn; 1.1 x the highest price drawn), Optuna's exact computation.")
    for name in multi:
        search = trials[trials["search"] == name]
        for objective in results.objectives[name][1:]:
            stem = f"{key}_{name}_{objective}".replace("/", "-")
            front, table, reference = front_table(search, baselines, objective, probe_accuracy)
            page.figures([page.figure(plot_front(search, baselines, objective, f"{name}: val accuracy vs {objective}"),
                                      stem + "_front.png", f"Search {name} ({', '.join(results.objectives[name])}).")])
            page.table(table, stem + "_hypervolume.csv",
                       f"Hypervolume per group, reference point (val accuracy {reference[0]:.4f}, "
                       f"{objective} {reference[1]:.4g}); the front as placement (val accuracy, {objective}).")


__all__ = ["PRICES", "baseline_groups", "front_table", "hypervolume", "pareto_front", "pareto_section", "plot_front"]
