"""Trials and their learning curves: the exactly-once write every runner uses, and the reads.

``best_trial`` is the one rule for "the best trial of a search" that ``show``, ``list``, ``export``
and the report share: the highest validation accuracy among trials that trained (or were looked
up) to the full recipe, ties to the earliest; failed and early-stopped trials never win.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import select, update

from placement_search.placement.edges import Placement
from placement_search.store.base import StoreBase
from placement_search.store.records import TrialRecord, curve_rows, frame, trial_values
from placement_search.store.schema import (
    CURVE_FIELDS,
    MEASURED_STATUSES,
    METRICS,
    SCORED_STATUSES,
    Curve,
    Search,
    Trial,
    utcnow,
)

TRIAL_COLUMNS = (
    "trial_key", "placement", "k", "n_sequential", "n_parallel", "n_long_range", "n_recurrent",
    "seed", "status", *METRICS, "error", "reused_from", "node", "device", "label", "created_at",
)


def scored(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials that compete for best: full-recipe accuracy (SCORED_STATUSES) that is not NULL."""
    if trials.empty:
        return trials
    return trials[trials["status"].isin(SCORED_STATUSES) & trials["val_accuracy"].notna()]


def best_trial(trials: pd.DataFrame) -> pd.Series | None:
    """The best trial of one search's ``trials_frame`` (see the module doc), or None."""
    ok = scored(trials)
    if ok.empty:
        return None
    return ok.sort_values(["val_accuracy", "trial_id"], ascending=[False, True]).iloc[0]


def best_per_search(trials: pd.DataFrame) -> pd.DataFrame:
    """``best_trial`` of every search in a ``trials_frame``, indexed by search name."""
    ok = scored(trials)
    if ok.empty:
        return pd.DataFrame(columns=["val_accuracy", "test_accuracy", "placement"])
    ranked = ok.sort_values(["search", "val_accuracy", "trial_id"], ascending=[True, False, True])
    return ranked.drop_duplicates("search").set_index("search")


class TrialsMixin(StoreBase):
    def record_trial(self, search_name: str, trial_key: str, placement_text: str, seed: int, status: str,
                     metrics: Mapping[str, Any] | None = None, curve: Sequence[Any] = (), **fields: Any) -> bool:
        """Write one trial and its curve; False (nothing written) if the key is already there.
        ``fields`` are TrialRecord's other fields (error, reused_from, node, device, label)."""
        record = TrialRecord(search_name, trial_key, placement_text, seed, status, metrics or {}, curve, **fields)
        return self.record_trials([record])[0]

    def record_trials(self, batch: Iterable[TrialRecord | Mapping[str, Any]]) -> list[bool]:
        """Write many trials in one transaction; per trial, True if written, False if already there.

        Exactly-once rests on UNIQUE(search_id, trial_key) with INSERT ... ON CONFLICT DO NOTHING,
        so retries, resumed drivers and concurrent writers never duplicate a trial. Everything is
        validated before the transaction starts; a bad record writes nothing of the batch.
        """
        records = [r if isinstance(r, TrialRecord) else TrialRecord(**r) for r in batch]
        if not records:
            return []
        # a malformed placement, status or curve fails here, before anything is written
        prepared = []
        for r in records:
            curve = curve_rows(r.curve)
            prepared.append((r.search_name, trial_values(r, curve), curve))
        written: list[bool] = []
        with self._write() as session:
            ids = {name: self._search_row(session, name).id for name in {r.search_name for r in records}}
            for search_name, values, curve in prepared:
                stmt = (
                    self._insert(Trial)
                    .values(search_id=ids[search_name], **values)
                    .on_conflict_do_nothing(index_elements=["search_id", "trial_key"])
                    .returning(Trial.id)
                )
                trial_id = session.execute(stmt).scalar()
                if trial_id is not None and curve:
                    session.execute(Curve.__table__.insert(), [{"trial_id": trial_id, **p} for p in curve])
                written.append(trial_id is not None)
            session.execute(update(Search).where(Search.id.in_(ids.values())).values(updated_at=utcnow()))
        return written

    def recorded_trial_keys(self, search_name: str, include_failed: bool = True) -> set[str]:
        """The trial keys already recorded: the trials a resumed search must not run again.

        A failed trial is final too (it was recorded once); ``include_failed=False`` leaves failed
        trials out, for ``resume --retry-failed``.
        """
        stmt = select(Trial.trial_key).join(Search).where(Search.name == search_name)
        if not include_failed:
            stmt = stmt.where(Trial.status != "failed")
        with self._read() as session:
            self._search_row(session, search_name)
            return set(session.execute(stmt).scalars())

    def delete_failed_trials(self, search_name: str) -> int:
        """Remove a search's failed trials (``resume --retry-failed`` runs them again); their count."""
        with self._write() as session:
            search_id = self._search_row(session, search_name).id
            rows = session.execute(select(Trial).where(Trial.search_id == search_id, Trial.status == "failed")).scalars().all()
            for row in rows:
                session.delete(row)
        return len(rows)

    def find_trial(self, search_name: str, placement_text: str, seed: int | None) -> dict[str, Any] | None:
        """The first trial of this placement (and seed; None = any) in the search with metrics of
        its own (completed or replayed), or None.

        A duplicate placement inside a search is then recorded as 'reused' with ``reused_from`` =
        its ``trial_id``, instead of being trained again.
        """
        placement = str(Placement.parse(placement_text or ""))
        stmt = (
            select(Trial)
            .join(Search)
            .where(Search.name == search_name, Trial.placement == placement,
                   Trial.status.in_(MEASURED_STATUSES + ("replayed",)))
            .order_by(Trial.id)
            .limit(1)
        )
        if seed is not None:
            stmt = stmt.where(Trial.seed == int(seed))
        with self._read() as session:
            row = session.execute(stmt).scalar_one_or_none()
            return None if row is None else trial_dict(row, search_name)

    def trials_frame(self, search_name: str | None = None, benchmark_key: str | None = None) -> pd.DataFrame:
        """One row per trial (all searches unless filtered), with its search's name, searcher and key."""
        stmt = (
            select(Search.name, Search.searcher, Search.benchmark_key, Trial.id,
                   *(getattr(Trial, c) for c in TRIAL_COLUMNS))
            .join(Search, Trial.search_id == Search.id)
            .order_by(Trial.id)
        )
        with self._read() as session:
            if search_name is not None:
                self._search_row(session, search_name)
                stmt = stmt.where(Search.name == search_name)
            if benchmark_key is not None:
                stmt = stmt.where(Search.benchmark_key == benchmark_key)
            rows = session.execute(stmt).all()
        return frame(rows, ["search", "searcher", "benchmark_key", "trial_id", *TRIAL_COLUMNS])

    def curves_frame(self, search_name: str | None = None) -> pd.DataFrame:
        """Every learning-curve point of the search's trials (all searches for None), with the
        trial's placement and seed."""
        stmt = (
            select(Search.name, Trial.id, Trial.trial_key, Trial.placement, Trial.seed, Curve.step,
                   *(getattr(Curve, f) for f in CURVE_FIELDS))
            .join(Trial, Curve.trial_id == Trial.id)
            .join(Search, Trial.search_id == Search.id)
            .order_by(Trial.id, Curve.step)
        )
        with self._read() as session:
            if search_name is not None:
                self._search_row(session, search_name)
                stmt = stmt.where(Search.name == search_name)
            rows = session.execute(stmt).all()
        return frame(rows, ["search", "trial_id", "trial_key", "placement", "seed", "step", *CURVE_FIELDS])


def trial_dict(row: Trial, search_name: str, searcher: str | None = None) -> dict[str, Any]:
    """A trial row as the plain dict ``find_trial`` / ``lookup`` return (metrics at the top level)."""
    out = {
        "trial_id": row.id, "search": search_name, "trial_key": row.trial_key,
        "placement": row.placement, "seed": row.seed, "status": row.status,
    }
    if searcher is not None:
        out["searcher"] = searcher
    out.update({m: getattr(row, m) for m in METRICS})
    return out
