"""Read a results store into plain DataFrames once, so every analysis works offline on frames.

The analysis functions take DataFrames, not a store: they are testable without a database and
can be fed CSVs. ``load_results`` is the one place that talks to the store (any URL the store
accepts), and it never creates a store: a path that does not exist is an error, not an empty file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from placement_search.errors import PlacementSearchError
from placement_search.store.schema import Score, ScoreSet
from placement_search.store.store import ResultsStore, default_store_url

#: statuses whose trial carries a usable accuracy (a 'reused' trial copies a measured one)
USABLE_STATUSES = ("completed", "reused", "replayed")


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


def open_existing_store(store_url: str) -> ResultsStore:
    """Open a store for reading; a SQLite path that does not exist is refused (never created)."""
    url = default_store_url(store_url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise PlacementSearchError(f"malformed results store URL {store_url!r}; use a file path, "
                                   "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).expanduser()
        if not path.is_file():
            raise PlacementSearchError(f"no results store at {path}; point --store at a store written by "
                                       "`placement-search run` (a SQLite path or a SQLAlchemy URL)")
    return ResultsStore(url)


def _score_sets(store: ResultsStore) -> pd.DataFrame:
    columns = ["score_key", "description", "n_edges", "created_at"]
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(ScoreSet.score_key, ScoreSet.description, ScoreSet.created_at)
                                .order_by(ScoreSet.created_at)).all()
            counts = dict(conn.execute(select(Score.score_key, func.count()).group_by(Score.score_key)).all())
    except SQLAlchemyError as exc:
        raise PlacementSearchError(f"cannot read score tables from {store.url}: "
                                   f"{' '.join(str(exc).split())[:200]}") from None
    return pd.DataFrame([(k, d or {}, int(counts.get(k, 0)), c) for k, d, c in rows], columns=columns)


def load_results(
    store_url: str,
    curve_searches: Iterable[str] = (),
    score_keys: Iterable[str] | None = None,
) -> Results:
    """Searches, trials, ground truth of every benchmark key, score tables and selected curves.

    ``score_keys`` None loads every stored score table (they are small: one row per edge);
    ``curve_searches`` names the searches whose learning curves to load (curves can be large).
    """
    store = open_existing_store(store_url)
    try:
        searches = store.list_searches()
        trials = store.trials_frame()
        keys = list(dict.fromkeys(searches["benchmark_key"])) if len(searches) else []
        benchmarks = {k: (store.get_benchmark(k) or {}) for k in keys}
        ground_truth = {k: store.ground_truth(k) for k in keys if store.has_ground_truth(k)}
        score_sets = _score_sets(store)
        wanted = list(score_sets["score_key"]) if score_keys is None else list(score_keys)
        scores = {}
        for key in wanted:
            frame = store.load_scores(key)
            if frame is not None:
                scores[key] = frame
        curve_frames = [store.curves_frame(name) for name in curve_searches]
        curves = pd.concat(curve_frames, ignore_index=True) if curve_frames else pd.DataFrame(
            columns=["search", "trial_id", "trial_key", "placement", "seed", "step"])
        return Results(store.url, searches, trials, curves, benchmarks, ground_truth, score_sets, scores)
    finally:
        store.close()


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
