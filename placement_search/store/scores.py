"""Gradient-rank score tables: one per score key (backbone, task, scoring settings), saved whole."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select

from placement_search.store.base import StoreBase
from placement_search.store.records import as_float, json_plain
from placement_search.store.schema import SCORE_FIELDS, Score, ScoreSet, utcnow


class ScoresMixin(StoreBase):
    def save_scores(self, score_key: str, description: Mapping[str, Any], frame: pd.DataFrame) -> None:
        """Store a per-edge score table under its key, replacing any earlier one atomically.

        Columns other than source/destination/type and the spectrum summaries go to ``extra``;
        the column order, dtypes and ``frame.attrs`` are kept so load_scores gives the frame back.
        """
        missing = {"source", "destination"} - set(frame.columns)
        if missing:
            raise ValueError(f"score frame lacks column(s) {', '.join(sorted(missing))}")
        fixed = ("source", "destination", "type", *SCORE_FIELDS)
        extra_cols = [c for c in frame.columns if c not in fixed]
        rows = []
        for rec in frame.to_dict("records"):
            row = {
                "score_key": score_key,
                "source": int(rec["source"]),
                "destination": int(rec["destination"]),
                "type": None if rec.get("type") is None else str(rec["type"]),
                **{f: as_float(rec.get(f)) for f in SCORE_FIELDS},
                "extra": {str(c): json_plain(rec[c]) for c in extra_cols},
            }
            rows.append(row)
        columns = [[str(c), str(frame[c].dtype)] for c in frame.columns]
        with self._write() as session:
            session.execute(delete(Score).where(Score.score_key == score_key))
            session.execute(delete(ScoreSet).where(ScoreSet.score_key == score_key))
            session.add(ScoreSet(score_key=score_key, description=dict(description), columns=columns,
                                 attrs=json_plain(dict(frame.attrs)), created_at=utcnow()))
            session.flush()
            if rows:
                session.execute(Score.__table__.insert(), rows)

    def load_scores(self, score_key: str) -> pd.DataFrame | None:
        """The score table saved under ``score_key`` (same columns, dtypes and attrs), or None."""
        with self._read() as session:
            meta = session.get(ScoreSet, score_key)
            if meta is None:
                return None
            scores = session.execute(
                select(Score).where(Score.score_key == score_key).order_by(Score.source, Score.destination)
            ).scalars().all()
            records = [
                {"source": s.source, "destination": s.destination, "type": s.type,
                 **{f: getattr(s, f) for f in SCORE_FIELDS}, **(s.extra or {})}
                for s in scores
            ]
        names = [c for c, _ in meta.columns]
        frame = pd.DataFrame(records, columns=names) if records else pd.DataFrame(columns=names)
        for name, dtype in meta.columns:
            try:
                frame[name] = frame[name].astype(dtype)
            except (TypeError, ValueError):
                pass  # e.g. an int column that came back with NULLs: keep what pandas inferred
        frame.attrs.update(meta.attrs or {})
        return frame

    def score_sets_frame(self) -> pd.DataFrame:
        """One row per stored score table: its key, description and number of edges."""
        columns = ["score_key", "description", "n_edges", "created_at"]
        with self._read() as session:
            rows = session.execute(select(ScoreSet.score_key, ScoreSet.description, ScoreSet.created_at)
                                   .order_by(ScoreSet.created_at)).all()
            counts = dict(session.execute(select(Score.score_key, func.count()).group_by(Score.score_key)).all())
        return pd.DataFrame([(k, d or {}, int(counts.get(k, 0)), c) for k, d, c in rows], columns=columns)
