"""The ground truth (exhaustive single-edge sweeps) of a benchmark key, and replay's lookups in it."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import case, func, select

from placement_search.placement.edges import Edge, Placement
from placement_search.store.base import StoreBase
from placement_search.store.records import frame
from placement_search.store.schema import CURVE_FIELDS, MEASURED_STATUSES, Curve, Search, Trial
from placement_search.store.trials import trial_dict

#: searches whose single-edge trials are the ground truth of their benchmark key
GROUND_TRUTH_SEARCHER = "exhaustive"
_COST = ("num_adapter_params", "inference_cost", "wall_time_s", "train_flops")
#: what makes a trial (joined with its search) part of a ground truth: a measured single edge of an exhaustive search
_GROUND_TRUTH_TRIAL = (Search.searcher == GROUND_TRUTH_SEARCHER, Trial.k == 1, Trial.status.in_(MEASURED_STATUSES))


def aggregate_ground_truth(raw: pd.DataFrame) -> pd.DataFrame:
    """Per single edge: mean/std (over seeds) of val and test accuracy of ground-truth trials.

    ``raw`` is ``ground_truth_trials``' frame (a caller that needs the trials too reads them once).
    std is the sample std (NaN for a single seed). The cost columns (``num_adapter_params``,
    ``inference_cost``, ``wall_time_s_mean``, ``train_flops_mean``: placement/price.py) are means
    over the seeds too; NULL where the store could not price a trial.
    """
    columns = ["placement", "source", "destination", "type", "val_accuracy_mean", "val_accuracy_std",
               "test_accuracy_mean", "test_accuracy_std", "best_val_accuracy_mean", "n_seeds",
               "num_adapter_params", "inference_cost", "wall_time_s_mean", "train_flops_mean"]
    if raw.empty:
        return frame([], columns)
    grouped = raw.groupby("placement", sort=False)
    out = pd.DataFrame({
        "val_accuracy_mean": grouped["val_accuracy"].mean(),
        "val_accuracy_std": grouped["val_accuracy"].std(ddof=1),
        "test_accuracy_mean": grouped["test_accuracy"].mean(),
        "test_accuracy_std": grouped["test_accuracy"].std(ddof=1),
        "best_val_accuracy_mean": grouped["best_val_accuracy"].mean(),
        "n_seeds": grouped.size(),
        "num_adapter_params": grouped["num_adapter_params"].mean(),
        "inference_cost": grouped["inference_cost"].mean(),
        "wall_time_s_mean": grouped["wall_time_s"].mean(),
        "train_flops_mean": grouped["train_flops"].mean(),
    }).reset_index()
    edges = [Edge.parse(p) for p in out["placement"]]
    out.insert(1, "source", [e.source for e in edges])
    out.insert(2, "destination", [e.destination for e in edges])
    out.insert(3, "type", [e.type for e in edges])
    out = out.sort_values(["source", "destination"], ignore_index=True)
    return frame(list(out[columns].itertuples(index=False)), columns)


class GroundTruthMixin(StoreBase):
    def _ground_truth_stmt(self, benchmark_key: str):
        return (
            select(Trial.id, Trial.placement, Trial.seed, Trial.val_accuracy, Trial.test_accuracy,
                   Trial.best_val_accuracy, *(getattr(Trial, c) for c in _COST))
            .join(Search, Trial.search_id == Search.id)
            .where(Search.benchmark_key == benchmark_key, *_GROUND_TRUTH_TRIAL)
            .order_by(Trial.id)
        )

    def ground_truth_trials(self, benchmark_key: str) -> pd.DataFrame:
        """The trials the ground truth is made of: one row per (single edge, seed), from exhaustive
        searches, completed only. If two exhaustive searches trained the same edge with the same
        seed, the earlier trial counts (a re-run must not weigh an edge twice)."""
        with self._read() as session:
            rows = session.execute(self._ground_truth_stmt(benchmark_key)).all()
        raw = pd.DataFrame(rows, columns=["trial_id", "placement", "seed", "val_accuracy", "test_accuracy",
                                          "best_val_accuracy", *_COST])
        raw = raw.drop_duplicates(["placement", "seed"], keep="first").reset_index(drop=True)
        for col in ("val_accuracy", "test_accuracy", "best_val_accuracy", *_COST):
            raw[col] = raw[col].astype("float64")
        return raw

    def ground_truth(self, benchmark_key: str) -> pd.DataFrame:
        """Per single edge: mean/std (over seeds) of val and test accuracy from exhaustive searches
        (``aggregate_ground_truth`` of ``ground_truth_trials``)."""
        return aggregate_ground_truth(self.ground_truth_trials(benchmark_key))

    def ground_truth_keys(self) -> list[str]:
        """The benchmark keys that have a ground truth here (an exhaustive search with a measured
        single edge), in the order their first sweep began."""
        stmt = (select(Search.benchmark_key, func.min(Search.id))
                .join(Trial, Trial.search_id == Search.id)
                .where(*_GROUND_TRUTH_TRIAL)
                .group_by(Search.benchmark_key).order_by(func.min(Search.id)))
        with self._read() as session:
            return [key for key, _ in session.execute(stmt).all()]

    def has_ground_truth(self, benchmark_key: str) -> bool:
        with self._read() as session:
            return session.execute(self._ground_truth_stmt(benchmark_key).limit(1)).first() is not None

    def lookup(
        self, benchmark_key: str, placement_text: str, seed: int | None = None, with_curve: bool = False
    ) -> dict[str, Any] | None:
        """Stored metrics of a placement under a benchmark key, for replay; None if never measured.

        Prefers the exact seed, then exhaustive searches, then the earliest trial. The result can be
        passed straight to ``record_trial(metrics=...)``; ``with_curve`` adds its curve as ``curve``.
        """
        placement = str(Placement.parse(placement_text or ""))
        order = [case((Search.searcher == GROUND_TRUTH_SEARCHER, 0), else_=1), Trial.id]
        if seed is not None:
            order.insert(0, case((Trial.seed == int(seed), 0), else_=1))
        stmt = (
            select(Trial, Search.name, Search.searcher)
            .join(Search, Trial.search_id == Search.id)
            .where(Search.benchmark_key == benchmark_key, Trial.placement == placement,
                   Trial.status.in_(MEASURED_STATUSES))
            .order_by(*order)
            .limit(1)
        )
        with self._read() as session:
            found = session.execute(stmt).first()
            if found is None:
                return None
            row, name, searcher = found
            out = trial_dict(row, name, searcher)
            if with_curve:
                points = session.execute(
                    select(Curve.step, *(getattr(Curve, f) for f in CURVE_FIELDS))
                    .where(Curve.trial_id == row.id).order_by(Curve.step)
                ).all()
                out["curve"] = [dict(zip(("step", *CURVE_FIELDS), p, strict=True)) for p in points]
            return out
