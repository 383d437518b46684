"""Benchmark keys and searches: register, create, look up, move between statuses, list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError

from placement_search.errors import PlacementSearchError
from placement_search.store.records import SearchRecord, frame, json_plain
from placement_search.store.schema import SEARCH_STATUSES, Benchmark, Search, Trial, utcnow
from placement_search.store.trials import TrialsMixin, best_per_search


class SearchesMixin(TrialsMixin):
    # --------------------------------------------------------------------------- benchmarks

    def ensure_benchmark(self, key: str, description: Mapping[str, Any]) -> None:
        """Register a benchmark key (idempotent: an existing key keeps its first description)."""
        stmt = self._insert(Benchmark).values(key=key, description=json_plain(dict(description)), created_at=utcnow())
        with self._write() as session:
            session.execute(stmt.on_conflict_do_nothing(index_elements=["key"]))

    def get_benchmark(self, key: str) -> dict[str, Any] | None:
        """The description a benchmark key was registered with, or None."""
        with self._read() as session:
            return session.execute(select(Benchmark.description).where(Benchmark.key == key)).scalar()

    # ----------------------------------------------------------------------------- searches

    def create_search(
        self,
        name: str,
        benchmark_key: str,
        searcher: str,
        num_samples: int | None,
        config: Mapping[str, Any],
        options: Mapping[str, Any] | None = None,
        experiment_path: str | None = None,
    ) -> SearchRecord:
        """Start a new search (status 'running'); its benchmark key must be registered first."""
        now = utcnow()
        row = Search(
            name=name, benchmark_key=benchmark_key, searcher=searcher, num_samples=num_samples,
            status="running", config=json_plain(dict(config)), options=json_plain(dict(options or {})),
            created_at=now, updated_at=now, experiment_path=experiment_path,
        )
        try:
            with self._write() as session:
                if session.get(Benchmark, benchmark_key) is None:
                    raise ValueError(
                        f"benchmark key {benchmark_key!r} is not registered; call ensure_benchmark first"
                    )
                if session.execute(select(Search.id).where(Search.name == name)).first() is not None:
                    raise self._name_taken(name)
                session.add(row)
                session.flush()
                return SearchRecord.of(row)
        except IntegrityError:
            # another process created the same name between our check and our insert
            raise self._name_taken(name) from None

    def _name_taken(self, name: str) -> PlacementSearchError:
        return PlacementSearchError(
            f"a search named {name!r} already exists in the results store {self.url}; "
            f"continue it with `placement-search resume {name}` or choose a new name"
        )

    def get_search(self, name: str) -> SearchRecord:
        with self._read() as session:
            return SearchRecord.of(self._search_row(session, name))

    def has_search(self, name: str) -> bool:
        with self._read() as session:
            return session.execute(select(Search.id).where(Search.name == name)).first() is not None

    def set_search_status(self, name: str, status: str, experiment_path: str | None = None) -> None:
        """Move a search to ``status``; finished states stamp finished_at, 'running' clears it."""
        if status not in SEARCH_STATUSES:
            raise ValueError(f"search status {status!r} is not one of {', '.join(SEARCH_STATUSES)}")
        now = utcnow()
        values: dict[str, Any] = {
            "status": status, "updated_at": now, "finished_at": None if status == "running" else now,
        }
        if experiment_path is not None:
            values["experiment_path"] = str(experiment_path)
        with self._write() as session:
            self._search_row(session, name)
            session.execute(update(Search).where(Search.name == name).values(**values))

    def set_search_budget(self, name: str, num_samples: int) -> None:
        """Set a search's trial budget: a planned search run again with a wider plan grows it
        (``search.service.planned_search``)."""
        with self._write() as session:
            self._search_row(session, name)
            session.execute(update(Search).where(Search.name == name).values(num_samples=int(num_samples),
                                                                              updated_at=utcnow()))

    def relabel_search(self, name: str, searcher: str) -> None:
        """Change the searcher label of a search: how a complete extra-seed sweep, run as ``repeat``
        so that it stayed out of the ground truth while partial, enters it as ``exhaustive``
        (analysis/sweep_local.py --promote)."""
        with self._write() as session:
            self._search_row(session, name)
            session.execute(update(Search).where(Search.name == name).values(searcher=searcher, updated_at=utcnow()))

    def list_searches(self) -> pd.DataFrame:
        """One row per search: progress, failures, and its best trial so far (``best_trial``'s rule).

        ``test_at_best_val`` is the test accuracy of the trial with the best val_accuracy (the
        honest number to report: choosing by test accuracy would be selecting on the test set).
        """
        counts = (
            select(
                Trial.search_id,
                func.count(Trial.id).label("trials_done"),
                func.sum(case((Trial.status == "failed", 1), else_=0)).label("trials_failed"),
                func.sum(case((Trial.status == "stopped", 1), else_=0)).label("trials_stopped"),
            )
            .group_by(Trial.search_id)
            .subquery()
        )
        stmt = (
            select(
                Search.name, Search.searcher, Search.status, Search.benchmark_key,
                func.coalesce(counts.c.trials_done, 0), func.coalesce(counts.c.trials_failed, 0),
                func.coalesce(counts.c.trials_stopped, 0), Search.num_samples,
                Search.created_at, Search.updated_at, Search.finished_at, Search.experiment_path,
            )
            .outerjoin(counts, counts.c.search_id == Search.id)
            .order_by(Search.created_at, Search.id)
        )
        columns = [
            "name", "searcher", "status", "benchmark_key", "trials_done", "trials_failed", "trials_stopped",
            "num_samples", "created_at", "updated_at", "finished_at", "experiment_path",
        ]
        with self._read() as session:
            searches = frame(session.execute(stmt).all(), columns)
        best = best_per_search(self.trials_frame())
        searches["best_val_accuracy"] = searches["name"].map(best["val_accuracy"]).astype("float64")
        searches["test_at_best_val"] = searches["name"].map(best["test_accuracy"]).astype("float64")
        searches["best_placement"] = searches["name"].map(best["placement"])
        order = [*columns[:8], "best_val_accuracy", "test_at_best_val", "best_placement", *columns[8:]]
        return searches[order]
