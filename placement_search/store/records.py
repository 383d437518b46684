"""Values in and out of the store: detached row records, JSON-safe copies and typed DataFrames.

Kept apart from the queries so that every writer (Tune callback, local pool, replay) builds the
same row from the same record, and every reader gets the same dtypes whether or not a column
came back with NULLs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from placement_search.placement.edges import Placement
from placement_search.store.schema import CURVE_FIELDS, FLOAT_METRICS, INT_METRICS, TRIAL_STATUSES, utcnow


def json_plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to null, paths etc. to text."""
    if isinstance(value, Mapping):
        return {str(k): json_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return json_plain(dataclasses.asdict(value))
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def json_dumps(value: Any) -> str:
    return json.dumps(json_plain(value), sort_keys=False)


@dataclass(frozen=True)
class SearchRecord:
    """One row of the searches table, detached from any session."""

    id: int
    name: str
    benchmark_key: str
    searcher: str
    num_samples: int | None
    status: str
    config: dict[str, Any]
    options: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    experiment_path: str | None

    @classmethod
    def of(cls, row: Any) -> SearchRecord:
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


@dataclass
class TrialRecord:
    """One finished trial, as every runner hands it to the store (``ResultsStore.record_trials``).

    trial_key: unique inside the search, chosen by the runner (Tune's trial id, ``local-…``,
    ``replay-…``); opaque to analysis. label: the plan variant it belongs to, if the search runs
    several ("K3 gamma 0.6"). node / device: where it trained. error: one line (``error_line``).
    """

    search_name: str
    trial_key: str
    placement_text: str
    seed: int
    status: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    curve: Sequence[Any] = ()
    error: str | None = None
    reused_from: int | None = None
    node: str | None = None
    device: str | None = None
    label: str | None = None


def error_line(text: str | BaseException | None) -> str:
    """One line for a failed trial: ``Type: message`` of an exception, or the last meaningful line
    of a traceback (``TrainingDiverged: loss became nan ...``). Every runner records this form."""
    if isinstance(text, BaseException):
        message = " ".join(str(text).split())
        return f"{type(text).__name__}: {message}"[:2000] if message else type(text).__name__
    if not text:
        return "trial failed without an error message"
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if ":" in line and not line.startswith(("File ", "During handling", "The above exception")):
            return line[:2000]
    return lines[-1][:2000]


def as_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def as_int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if pd.isna(value):
        return None
    return int(value)


def curve_rows(curve: Sequence[Any]) -> list[dict[str, Any]]:
    """Curve points (EvalPoint or dicts with ``step``) as rows; a repeated step keeps the last."""
    rows: dict[int, dict[str, Any]] = {}
    for point in curve:
        item = dataclasses.asdict(point) if dataclasses.is_dataclass(point) else dict(point)
        if item.get("step") is None:
            raise ValueError(f"curve point {item!r} has no step")
        step = int(item["step"])
        rows[step] = {"step": step, **{f: as_float(item.get(f)) for f in CURVE_FIELDS}}
    return [rows[s] for s in sorted(rows)]


def trial_values(record: TrialRecord, curve: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial row's columns but search_id; the placement is parsed so its text is canonical.

    ``epochs`` (what the trial cost) falls back to the last curve point's epoch.
    """
    if record.status not in TRIAL_STATUSES:
        raise ValueError(f"trial status {record.status!r} is not one of {', '.join(TRIAL_STATUSES)}")
    placement = Placement.parse(record.placement_text or "")
    counts = placement.type_counts()
    metrics = dict(record.metrics or {})
    if metrics.get("epochs") is None and curve:
        metrics["epochs"] = curve[-1].get("epoch")
    return {
        "trial_key": str(record.trial_key),
        "placement": str(placement),
        "k": len(placement),
        "n_sequential": counts["sequential"],
        "n_parallel": counts["parallel"],
        "n_long_range": counts["long-range"],
        "n_recurrent": counts["recurrent"],
        "seed": int(record.seed),
        "status": record.status,
        **{m: as_float(metrics.get(m)) for m in FLOAT_METRICS},
        **{m: as_int(metrics.get(m)) for m in INT_METRICS},
        "error": None if record.error is None else str(record.error),
        "reused_from": as_int(record.reused_from),
        "node": record.node,
        "device": record.device,
        "label": record.label,
        "created_at": utcnow(),
    }


def _utc(series: pd.Series) -> pd.Series:
    """Timestamps as tz-aware UTC: SQLite hands back naive (UTC) values, PostgreSQL aware ones."""
    return pd.to_datetime(series, utc=True) if len(series) else series.astype("datetime64[ns, UTC]")


#: frame columns whose dtype must not depend on whether a NULL (or any row) came back
_FLOAT_COLUMNS = frozenset((
    *FLOAT_METRICS, *CURVE_FIELDS, "test_at_best_val", "val_accuracy_mean", "val_accuracy_std",
    "test_accuracy_mean", "test_accuracy_std", "best_val_accuracy_mean", "best_val_accuracy",
    "wall_time_s_mean", "train_flops_mean",
))
_NULLABLE_INT_COLUMNS = frozenset((*INT_METRICS, "reused_from", "num_samples"))
_INT_COLUMNS = frozenset((
    "trial_id", "k", "n_sequential", "n_parallel", "n_long_range", "n_recurrent", "seed", "step",
    "source", "destination", "trials_done", "trials_failed", "trials_stopped", "n_seeds",
))
_TIME_COLUMNS = frozenset(("created_at", "updated_at", "finished_at"))


def frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame with stable dtypes whether or not a column has NULLs (or any rows at all)."""
    out = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    for col in out.columns:
        if col in _FLOAT_COLUMNS:
            out[col] = out[col].astype("float64")
        elif col in _NULLABLE_INT_COLUMNS:
            out[col] = out[col].astype("Int64")
        elif col in _INT_COLUMNS:
            out[col] = out[col].astype("int64")
        elif col in _TIME_COLUMNS:
            out[col] = _utc(out[col])
    return out
