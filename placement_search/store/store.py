"""The results store: every trial of every search, keyed so searches resume and compare.

The driver writes each finished trial once (``record_trial`` / ``record_trials``); the unique
``(search, trial_key)`` pair makes that write exactly-once under retries, resumes and concurrent
writers. Reads return pandas DataFrames for the analysis layer. The default is one SQLite file
(WAL mode, so ``show`` can read while a search writes); a cluster points every driver at one
PostgreSQL database instead (SQLite over a network file system is not safe).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import pandas as pd
from sqlalchemy import URL, Engine, case, create_engine, delete, event, func, select, update
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from placement_search.errors import PlacementSearchError
from placement_search.placement.edges import Edge, Placement
from placement_search.store.schema import (
    CURVE_FIELDS,
    FLOAT_METRICS,
    INT_METRICS,
    MEASURED_STATUSES,
    METRICS,
    SCHEMA_VERSION,
    SCORE_FIELDS,
    SEARCH_STATUSES,
    TRIAL_STATUSES,
    Base,
    Benchmark,
    Curve,
    Meta,
    Score,
    ScoreSet,
    Search,
    Trial,
    utcnow,
)

DEFAULT_STORE_PATH = Path("runs") / "placement_search.sqlite"
CONNECT_TIMEOUT_S = 5
#: how long a SQLite writer waits for another writer's lock before giving up
SQLITE_BUSY_TIMEOUT_S = 60
#: searches whose single-edge trials are the ground truth of their benchmark key
GROUND_TRUTH_SEARCHER = "exhaustive"
URL_HELP = "use a file path, sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"


# --------------------------------------------------------------------------------------------- URLs


def default_store_url(config_store: str | os.PathLike | None = None) -> str:
    """The store URL for a config's ``store`` value: a file path or a SQLAlchemy URL.

    Nothing (None / empty) means ``runs/placement_search.sqlite`` under the current directory. A
    plain path becomes an absolute ``sqlite:///`` URL (Ray workers and resumed drivers may run
    elsewhere). ``postgresql://`` and ``postgres://`` map to the psycopg 3 driver, the one installed.
    """
    text = "" if config_store is None else str(config_store).strip()
    if not text:
        text = str(DEFAULT_STORE_PATH)
    if "://" not in text:
        return "sqlite:///" + str(Path(text).expanduser().resolve())
    scheme, rest = text.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return "postgresql+psycopg://" + rest
    return text


def _mask(url: str | URL) -> str:
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return str(url)
    return parsed.render_as_string(hide_password=True)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """A driver error as one short line (psycopg's messages span several)."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split()) or type(orig).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_sqlite_path(url: URL, shown: str) -> None:
    """Refuse a SQLite path that could not be written, before anything touches the disk."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise PlacementSearchError(
            f"cannot open results store {shown}: directory {parent} does not exist; "
            f"create it (mkdir -p {parent}) or point the store at an existing directory"
        )
    if not parent.is_dir():
        raise PlacementSearchError(
            f"cannot open results store {shown}: {parent} is not a directory; choose another store path"
        )
    if path.exists() and not path.is_file():
        raise PlacementSearchError(
            f"cannot open results store {shown}: {path} is not a file; choose another store path"
        )
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as fh:
            if fh.read(16) != b"SQLite format 3\x00":
                # SQLite would silently take over a short non-database file
                raise PlacementSearchError(
                    f"cannot open results store {shown}: {path} exists and is not a SQLite database; "
                    "choose another store path"
                )
    writable = os.access(path, os.R_OK | os.W_OK) if path.exists() else os.access(parent, os.W_OK | os.X_OK)
    if not writable or not os.access(parent, os.W_OK | os.X_OK):
        raise PlacementSearchError(
            f"cannot open results store {shown}: {path if path.exists() else parent} is not writable "
            "(SQLite also writes -wal/-shm files beside it); fix the permissions or choose another store path"
        )


def _json_plain(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, non-finite floats to null, paths etc. to text."""
    if isinstance(value, Mapping):
        return {str(k): _json_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json_plain(dataclasses.asdict(value))
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _json_dumps(value: Any) -> str:
    return json.dumps(_json_plain(value), sort_keys=False)


def _make_engine(url: URL) -> Engine:
    """An engine with the per-backend settings: fast connect timeout, SQLite WAL/busy/foreign keys."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        memory = (url.database or ":memory:") == ":memory:"
        engine = create_engine(
            url,
            json_serializer=_json_dumps,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            **({"poolclass": StaticPool} if memory else {}),
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record) -> None:
            # take transaction control away from sqlite3 so SQLAlchemy's BEGIN is the real one
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn) -> None:
            # writers take the write lock up front: a read that later upgrades to a write can fail
            # with "database is locked" without waiting, IMMEDIATE waits for the busy timeout
            immediate = conn.get_execution_options().get("placement_search_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if backend == "postgresql":
        return create_engine(
            url,
            json_serializer=_json_dumps,
            connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
            pool_pre_ping=True,
        )
    raise PlacementSearchError(
        f"unsupported results store URL {_mask(url)} (backend {backend!r}); {URL_HELP}"
    )


# ------------------------------------------------------------------------------------------ records


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
    def of(cls, row: Search) -> "SearchRecord":
        return cls(**{f.name: getattr(row, f.name) for f in dataclasses.fields(cls)})


@dataclass
class TrialRecord:
    """One trial to write: ``record_trial``'s arguments as a value, for batched writes."""

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


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _int(value: Any) -> int | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return int(value)


def _curve_rows(curve: Sequence[Any]) -> list[dict[str, Any]]:
    """Curve points (EvalPoint or dicts with ``step``) as rows; a repeated step keeps the last."""
    rows: dict[int, dict[str, Any]] = {}
    for point in curve:
        item = dataclasses.asdict(point) if dataclasses.is_dataclass(point) else dict(point)
        if item.get("step") is None:
            raise ValueError(f"curve point {item!r} has no step")
        step = int(item["step"])
        rows[step] = {"step": step, **{f: _float(item.get(f)) for f in CURVE_FIELDS}}
    return [rows[s] for s in sorted(rows)]


def _trial_values(record: TrialRecord) -> dict[str, Any]:
    """The trial row's columns but search_id; the placement is parsed so its text is canonical."""
    if record.status not in TRIAL_STATUSES:
        raise ValueError(f"trial status {record.status!r} is not one of {', '.join(TRIAL_STATUSES)}")
    placement = Placement.parse(record.placement_text or "")
    counts = placement.type_counts()
    metrics = record.metrics or {}
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
        **{m: _float(metrics.get(m)) for m in FLOAT_METRICS},
        **{m: _int(metrics.get(m)) for m in INT_METRICS},
        "error": None if record.error is None else str(record.error),
        "reused_from": _int(record.reused_from),
        "node": record.node,
        "created_at": utcnow(),
    }


def _utc(series: pd.Series) -> pd.Series:
    """Timestamps as tz-aware UTC: SQLite hands back naive (UTC) values, PostgreSQL aware ones."""
    return pd.to_datetime(series, utc=True) if len(series) else series.astype("datetime64[ns, UTC]")


#: frame columns whose dtype must not depend on whether a NULL (or any row) came back
_FLOAT_COLUMNS = frozenset((
    *FLOAT_METRICS, *CURVE_FIELDS, "test_at_best_val", "val_accuracy_mean", "val_accuracy_std",
    "test_accuracy_mean", "test_accuracy_std", "best_val_accuracy_mean",
))
_NULLABLE_INT_COLUMNS = frozenset((*INT_METRICS, "reused_from", "num_samples"))
_INT_COLUMNS = frozenset((
    "trial_id", "k", "n_sequential", "n_parallel", "n_long_range", "n_recurrent", "seed", "step",
    "source", "destination", "trials_done", "trials_failed", "n_seeds",
))
_TIME_COLUMNS = frozenset(("created_at", "updated_at", "finished_at"))


def _frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    """A DataFrame with stable dtypes whether or not a column has NULLs (or any rows at all)."""
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(columns))
    for col in frame.columns:
        if col in _FLOAT_COLUMNS:
            frame[col] = frame[col].astype("float64")
        elif col in _NULLABLE_INT_COLUMNS:
            frame[col] = frame[col].astype("Int64")
        elif col in _INT_COLUMNS:
            frame[col] = frame[col].astype("int64")
        elif col in _TIME_COLUMNS:
            frame[col] = _utc(frame[col])
    return frame


# ---------------------------------------------------------------------------------------- the store


class ResultsStore:
    """A connection to one results database (SQLite file or PostgreSQL), tables created if missing.

    An unreachable or invalid URL raises :class:`PlacementSearchError` within a few seconds, with
    the URL (password masked) and the fix, and without creating anything.
    """

    def __init__(self, url: str, *, create_dirs: bool = False) -> None:
        given = str(url)
        url = default_store_url(url)
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise PlacementSearchError(f"malformed results store URL {_mask(given)!r}; {URL_HELP}") from None
        #: the URL as connected, password masked: safe to print and log
        self.url = parsed.render_as_string(hide_password=True)
        shown = _mask(given) if "://" in given else self.url
        if parsed.get_backend_name() == "sqlite":
            if create_dirs and parsed.database not in (None, "", ":memory:"):
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            _check_sqlite_path(parsed, shown)
        try:
            self.engine = _make_engine(parsed)
        except (NoSuchModuleError, ArgumentError, ImportError) as exc:
            raise PlacementSearchError(
                f"unsupported results store URL {shown} ({_one_line(exc)}); {URL_HELP}"
            ) from None
        self._write_engine = self.engine.execution_options(placement_search_write=True)
        try:
            self._create_tables()
        except PlacementSearchError:
            self.engine.dispose()
            raise
        except (SQLAlchemyError, OSError) as exc:
            self.engine.dispose()
            fix = (
                "check that the directory is writable and the file is a placement-search SQLite store"
                if parsed.get_backend_name() == "sqlite"
                else "check that the server is running and the host, port, user, password and database "
                "in the URL are right"
            )
            raise PlacementSearchError(f"cannot open results store {shown}: {_one_line(exc)}; {fix}") from exc

    def _create_tables(self) -> None:
        """Create missing tables and check the schema version, serialised between processes."""
        with self._write_engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7243010)")
            Base.metadata.create_all(conn)
            version = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
            if version is None:
                conn.execute(Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
            elif version != str(SCHEMA_VERSION):
                raise PlacementSearchError(
                    f"results store {self.url} has schema version {version}, this placement-search "
                    f"writes version {SCHEMA_VERSION}; use a new store path or the matching placement-search"
                )

    # ----------------------------------------------------------------------------- plumbing

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "ResultsStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultsStore({self.url!r})"

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One transaction; on SQLite it holds the write lock from its first statement."""
        with Session(self._write_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def _insert(self, model):
        """INSERT with ON CONFLICT support for the connected back-end."""
        dialect = sqlite_dialect if self.engine.dialect.name == "sqlite" else pg_dialect
        return dialect.insert(model)

    def _search_row(self, session: Session, name: str) -> Search:
        row = session.execute(select(Search).where(Search.name == name)).scalar_one_or_none()
        if row is None:
            raise PlacementSearchError(
                f"no search named {name!r} in the results store {self.url}; "
                "see the stored names with `placement-search list`"
            )
        return row

    # --------------------------------------------------------------------------- benchmarks

    def ensure_benchmark(self, key: str, description: Mapping[str, Any]) -> None:
        """Register a benchmark key (idempotent: an existing key keeps its first description)."""
        stmt = self._insert(Benchmark).values(key=key, description=dict(description), created_at=utcnow())
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
            status="running", config=_json_plain(dict(config)), options=_json_plain(dict(options or {})),
            created_at=now,
            updated_at=now, experiment_path=experiment_path,
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

    def list_searches(self) -> pd.DataFrame:
        """One row per search: progress, failures, and the best validation accuracy so far.

        ``test_at_best_val`` is the test accuracy of the trial with the best val_accuracy (the
        honest number to report: choosing by test accuracy would be selecting on the test set).
        """
        scored = Trial.status != "failed"
        counts = (
            select(
                Trial.search_id,
                func.count(Trial.id).label("trials_done"),
                func.sum(case((Trial.status == "failed", 1), else_=0)).label("trials_failed"),
                func.max(case((scored, Trial.val_accuracy))).label("best_val_accuracy"),
            )
            .group_by(Trial.search_id)
            .subquery()
        )
        ranked = (
            select(
                Trial.search_id,
                Trial.placement,
                Trial.test_accuracy,
                func.row_number()
                .over(partition_by=Trial.search_id, order_by=(Trial.val_accuracy.desc(), Trial.id))
                .label("rn"),
            )
            .where(scored, Trial.val_accuracy.is_not(None))
            .subquery()
        )
        stmt = (
            select(
                Search.name, Search.searcher, Search.status, Search.benchmark_key,
                func.coalesce(counts.c.trials_done, 0), func.coalesce(counts.c.trials_failed, 0),
                Search.num_samples, counts.c.best_val_accuracy, ranked.c.test_accuracy, ranked.c.placement,
                Search.created_at, Search.updated_at, Search.finished_at, Search.experiment_path,
            )
            .outerjoin(counts, counts.c.search_id == Search.id)
            .outerjoin(ranked, (ranked.c.search_id == Search.id) & (ranked.c.rn == 1))
            .order_by(Search.created_at, Search.id)
        )
        columns = [
            "name", "searcher", "status", "benchmark_key", "trials_done", "trials_failed", "num_samples",
            "best_val_accuracy", "test_at_best_val", "best_placement", "created_at", "updated_at",
            "finished_at", "experiment_path",
        ]
        with self._read() as session:
            return _frame(session.execute(stmt).all(), columns)

    # ------------------------------------------------------------------------------- trials

    def record_trial(
        self,
        search_name: str,
        trial_key: str,
        placement_text: str,
        seed: int,
        status: str,
        metrics: Mapping[str, Any] | None = None,
        curve: Sequence[Any] = (),
        error: str | None = None,
        reused_from: int | None = None,
        node: str | None = None,
    ) -> bool:
        """Write one trial and its curve in one transaction; False (nothing written) if already there.

        ``metrics`` takes ``TrainResult.metrics()`` (or a ``lookup`` result); keys that are not
        trial columns are ignored. ``curve`` takes EvalPoints or dicts with a ``step``.
        """
        record = TrialRecord(search_name, trial_key, placement_text, seed, status, metrics or {}, curve,
                             error, reused_from, node)
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
        prepared = [(r.search_name, _trial_values(r), _curve_rows(r.curve)) for r in records]
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

    def completed_trial_keys(self, search_name: str, include_failed: bool = True) -> set[str]:
        """The trial keys already recorded: the trials a resumed search must not run again.

        A failed trial is final too (it was recorded once); pass ``include_failed=False`` to retry them.
        """
        stmt = select(Trial.trial_key).join(Search).where(Search.name == search_name)
        if not include_failed:
            stmt = stmt.where(Trial.status != "failed")
        with self._read() as session:
            self._search_row(session, search_name)
            return set(session.execute(stmt).scalars())

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
            return None if row is None else self._trial_dict(row, search_name)

    @staticmethod
    def _trial_dict(row: Trial, search_name: str, searcher: str | None = None) -> dict[str, Any]:
        out = {
            "trial_id": row.id, "search": search_name, "trial_key": row.trial_key,
            "placement": row.placement, "seed": row.seed, "status": row.status,
        }
        if searcher is not None:
            out["searcher"] = searcher
        out.update({m: getattr(row, m) for m in METRICS})
        return out

    _TRIAL_COLUMNS = (
        "trial_key", "placement", "k", "n_sequential", "n_parallel", "n_long_range", "n_recurrent",
        "seed", "status", *METRICS, "error", "reused_from", "node", "created_at",
    )

    def trials_frame(self, search_name: str | None = None, benchmark_key: str | None = None) -> pd.DataFrame:
        """One row per trial (all searches unless filtered), with its search's name, searcher and key."""
        stmt = (
            select(Search.name, Search.searcher, Search.benchmark_key, Trial.id,
                   *(getattr(Trial, c) for c in self._TRIAL_COLUMNS))
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
        return _frame(rows, ["search", "searcher", "benchmark_key", "trial_id", *self._TRIAL_COLUMNS])

    def curves_frame(self, search_name: str) -> pd.DataFrame:
        """Every learning-curve point of the search's trials, with the trial's placement and seed."""
        stmt = (
            select(Search.name, Trial.id, Trial.trial_key, Trial.placement, Trial.seed, Curve.step,
                   *(getattr(Curve, f) for f in CURVE_FIELDS))
            .join(Trial, Curve.trial_id == Trial.id)
            .join(Search, Trial.search_id == Search.id)
            .where(Search.name == search_name)
            .order_by(Trial.id, Curve.step)
        )
        with self._read() as session:
            self._search_row(session, search_name)
            rows = session.execute(stmt).all()
        return _frame(rows, ["search", "trial_id", "trial_key", "placement", "seed", "step", *CURVE_FIELDS])

    # ------------------------------------------------------------------------- ground truth

    def _ground_truth_stmt(self, benchmark_key: str):
        return (
            select(Trial.id, Trial.placement, Trial.seed, Trial.val_accuracy, Trial.test_accuracy,
                   Trial.best_val_accuracy)
            .join(Search, Trial.search_id == Search.id)
            .where(Search.benchmark_key == benchmark_key, Search.searcher == GROUND_TRUTH_SEARCHER,
                   Trial.k == 1, Trial.status.in_(MEASURED_STATUSES))
            .order_by(Trial.id)
        )

    def ground_truth(self, benchmark_key: str) -> pd.DataFrame:
        """Per single edge: mean/std (over seeds) of val and test accuracy from exhaustive searches.

        One measurement per (edge, seed): if two exhaustive searches trained the same edge with the
        same seed, the earlier trial counts. std is the sample std (NaN for a single seed).
        """
        with self._read() as session:
            rows = session.execute(self._ground_truth_stmt(benchmark_key)).all()
        raw = pd.DataFrame(rows, columns=["trial_id", "placement", "seed", "val_accuracy", "test_accuracy",
                                          "best_val_accuracy"])
        columns = ["placement", "source", "destination", "type", "val_accuracy_mean", "val_accuracy_std",
                   "test_accuracy_mean", "test_accuracy_std", "best_val_accuracy_mean", "n_seeds"]
        if raw.empty:
            return _frame([], columns)
        raw = raw.drop_duplicates(["placement", "seed"], keep="first")
        for col in ("val_accuracy", "test_accuracy", "best_val_accuracy"):
            raw[col] = raw[col].astype("float64")
        grouped = raw.groupby("placement", sort=False)
        out = pd.DataFrame({
            "val_accuracy_mean": grouped["val_accuracy"].mean(),
            "val_accuracy_std": grouped["val_accuracy"].std(ddof=1),
            "test_accuracy_mean": grouped["test_accuracy"].mean(),
            "test_accuracy_std": grouped["test_accuracy"].std(ddof=1),
            "best_val_accuracy_mean": grouped["best_val_accuracy"].mean(),
            "n_seeds": grouped.size(),
        }).reset_index()
        edges = [Edge.parse(p) for p in out["placement"]]
        out.insert(1, "source", [e.source for e in edges])
        out.insert(2, "destination", [e.destination for e in edges])
        out.insert(3, "type", [e.type for e in edges])
        out = out.sort_values(["source", "destination"], ignore_index=True)
        return _frame(list(out[columns].itertuples(index=False)), columns)

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
            out = self._trial_dict(row, name, searcher)
            if with_curve:
                points = session.execute(
                    select(Curve.step, *(getattr(Curve, f) for f in CURVE_FIELDS))
                    .where(Curve.trial_id == row.id).order_by(Curve.step)
                ).all()
                out["curve"] = [dict(zip(("step", *CURVE_FIELDS), p, strict=True)) for p in points]
            return out

    # ------------------------------------------------------------------------------- scores

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
                **{f: _float(rec.get(f)) for f in SCORE_FIELDS},
                "extra": {str(c): _json_plain(rec[c]) for c in extra_cols},
            }
            rows.append(row)
        columns = [[str(c), str(frame[c].dtype)] for c in frame.columns]
        with self._write() as session:
            session.execute(delete(Score).where(Score.score_key == score_key))
            session.execute(delete(ScoreSet).where(ScoreSet.score_key == score_key))
            session.add(ScoreSet(score_key=score_key, description=dict(description), columns=columns,
                                 attrs=_json_plain(dict(frame.attrs)), created_at=utcnow()))
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


def open_store(store: str | os.PathLike | None = None) -> ResultsStore:
    """Open the config's store (path or URL); the default file's ``runs/`` directory is created."""
    return ResultsStore(default_store_url(store), create_dirs=not store)
