"""Read a results store into plain DataFrames once, so every analysis works offline on frames.

The analysis functions take DataFrames, not a store: they are testable without a database and
can be fed CSVs. ``load_results`` is the one place that talks to the store (any URL the store
accepts), and it never creates a store: a path that does not exist is an error, not an empty file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from placement_search.store import open_store
from placement_search.store.ground_truth import aggregate_ground_truth


@dataclass
class Results:
    """Everything the report needs from one store, as DataFrames (plus the benchmark descriptions)."""

    store_url: str
    searches: pd.DataFrame
    trials: pd.DataFrame
    curves: pd.DataFrame
    benchmarks: dict[str, dict[str, Any]] = field(default_factory=dict)
    ground_truth: dict[str, pd.DataFrame] = field(default_factory=dict)
    score_sets: pd.DataFrame = field(default_factory=pd.DataFrame)
    scores: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: search name -> its search.objectives (several: a Pareto search, analysis/pareto.py)
    objectives: dict[str, list[str]] = field(default_factory=dict)
    #: benchmark key -> the learning curves of the trials its ground truth is made of
    ground_truth_curves: dict[str, pd.DataFrame] = field(default_factory=dict)


def load_results(
    store_url: str,
    curve_searches: Iterable[str] = (),
    score_keys: Iterable[str] | None = None,
) -> Results:
    """Searches, trials, ground truth of every benchmark key (with its trials' learning curves),
    score tables and selected curves.

    ``score_keys`` None loads every stored score table (they are small: one row per edge);
    ``curve_searches`` names the searches whose learning curves to load (curves can be large).
    """
    store = open_store(store_url, must_exist=True)
    try:
        searches = store.list_searches()
        trials = store.trials_frame()
        keys = list(dict.fromkeys(searches["benchmark_key"])) if len(searches) else []
        benchmarks = {k: (store.get_benchmark(k) or {}) for k in keys}
        truth_trials = {k: t for k in keys if len(t := store.ground_truth_trials(k))}
        ground_truth = {k: aggregate_ground_truth(t) for k, t in truth_trials.items()}
        score_sets = store.score_sets_frame()
        wanted = list(score_sets["score_key"]) if score_keys is None else list(score_keys)
        scores = {}
        for key in wanted:
            frame = store.load_scores(key)
            if frame is not None:
                scores[key] = frame
        curve_frames = [store.curves_frame(name) for name in curve_searches]
        curves = pd.concat(curve_frames, ignore_index=True) if curve_frames else pd.DataFrame(
            columns=["search", "trial_id", "trial_key", "placement", "seed", "step"])
        objectives = {name: list((store.get_search(name).config.get("search") or {}).get("objectives")
                                 or ["val_accuracy"]) for name in searches["name"]}
        truth_curves = {k: _ground_truth_curves(store, searches, k, set(t["trial_id"]))
                        for k, t in truth_trials.items()}
        return Results(store.url, searches, trials, curves, benchmarks, ground_truth, score_sets, scores, objectives,
                       truth_curves)
    finally:
        store.close()


T = TypeVar("T")


def largest_per_key(items: list[T], key: Callable[[T], str | None],
                    size: Callable[[T], int]) -> tuple[list[T], list[tuple[T, T]]]:
    """One item per key: of the items sharing it, the largest (the first on ties), in input order;
    and each (dropped, kept) pair. Why: two stores can hold one task (a sample of a sweep and the
    whole of it, or a copy), and an analysis across tasks must neither compare a task with itself
    nor count it twice. Items whose key is None are all kept."""
    kept: dict[str, T] = {}
    dropped: list[tuple[T, T]] = []
    for item in items:
        k = key(item)
        other = kept.get(k) if k else None
        if other is None:
            if k:
                kept[k] = item
            continue
        keep, drop = (item, other) if size(item) > size(other) else (other, item)
        kept[k] = keep
        dropped.append((drop, keep))
    gone = {id(d) for d, _ in dropped}
    return [item for item in items if id(item) not in gone], dropped


def _ground_truth_curves(store, searches: pd.DataFrame, key: str, ids: set[int]) -> pd.DataFrame:
    """The curve points of the trials ``ids`` that the ground truth of ``key`` averages (from its
    exhaustive searches' curves)."""
    names = searches.loc[(searches["benchmark_key"] == key) & (searches["searcher"] == "exhaustive"), "name"]
    frames = [c[c["trial_id"].isin(ids)] for c in (store.curves_frame(n) for n in names)]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def matching_score_keys(benchmark_description: dict[str, Any], score_sets: pd.DataFrame) -> list[str]:
    """Score tables taken on the benchmark's backbone and task (scores do not depend on training)."""
    if score_sets is None or score_sets.empty or not benchmark_description:
        return []
    want = (_canonical(benchmark_description.get("backbone")), _canonical(benchmark_description.get("task")))
    return [row.score_key for row in score_sets.itertuples()
            if (_canonical((row.description or {}).get("backbone")),
                _canonical((row.description or {}).get("task"))) == want]
