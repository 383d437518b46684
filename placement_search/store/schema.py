"""The results store's tables (SQLAlchemy 2.0 declarative ORM), portable between SQLite and PostgreSQL.

One row per benchmark key, per search, per trial, per learning-curve point and per edge score. A
trial is identified inside its search by the caller's ``trial_key`` (Tune's trial id); the unique
constraint on ``(search_id, trial_key)`` is what makes every write exactly-once under retries and
resumes. Metrics that a trial did not produce (a failed trial) are NULL; non-finite floats are
stored as NULL too, so both back-ends read back the same values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

#: bumped when a table changes; older stores are migrated on open (migrations.py), newer ones refused
SCHEMA_VERSION = 3

SEARCH_STATUSES = ("running", "completed", "failed", "interrupted")
#: completed: trained to the end; stopped: stopped early by a scheduler (metrics at the stop, no
#: test accuracy); failed: crashed; reused: a copy of an earlier trial of the same placement and
#: seed in the search; replayed: looked up in a stored ground truth instead of trained
TRIAL_STATUSES = ("completed", "stopped", "failed", "reused", "replayed")
#: trial statuses whose metrics were measured by that trial itself (not copied from another one)
MEASURED_STATUSES = ("completed",)
#: trial statuses that compete for a search's best placement: full-budget accuracies only
SCORED_STATUSES = ("completed", "reused", "replayed")

#: the scalar metrics a trial row stores (TrainResult.metrics() minus ``placement``)
FLOAT_METRICS = (
    "val_accuracy", "best_val_accuracy", "test_accuracy", "val_loss", "test_loss", "train_loss",
    "wall_time_s", "epochs", "inference_flops", "inference_cost", "train_flops",
)
#: what a trial's placement costs (DESIGN.md §13, placement/price.py): adapter weights and biases
#: (``num_adapter_params``; the head is in ``num_trainable_params`` only), forward FLOPs per example
#: and their ratio to the linear probe's, training wall time and FLOPs (evaluations included)
COST_METRICS = ("num_adapter_params", "inference_flops", "inference_cost", "wall_time_s", "train_flops")
INT_METRICS = ("num_trainable_params", "num_adapter_params", "steps")
METRICS = FLOAT_METRICS + INT_METRICS
#: one learning-curve point: its step and these values
CURVE_FIELDS = ("epoch", "train_loss", "val_loss", "val_accuracy", "lr")
#: score columns with their own SQL column; any other column of a score frame goes to ``extra``
SCORE_FIELDS = ("rank", "sigma_max", "stable_rank", "effective_rank", "nuclear_norm")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


class Meta(Base):
    """Key/value facts about the store itself (its schema version)."""

    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Benchmark(Base):
    """What makes two searches comparable: backbone, task+split, training recipe, adapter config."""

    __tablename__ = "benchmarks"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Search(Base):
    """One run of a searcher; ``experiment_path`` is Tune's experiment dir, kept to resume it."""

    __tablename__ = "searches"
    __table_args__ = (
        CheckConstraint(_in("status", SEARCH_STATUSES), name="ck_searches_status"),
        Index("ix_searches_benchmark_searcher", "benchmark_key", "searcher"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    benchmark_key: Mapped[str] = mapped_column(ForeignKey("benchmarks.key"))
    searcher: Mapped[str] = mapped_column(String(64))
    num_samples: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="running")
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    experiment_path: Mapped[str | None] = mapped_column(Text)

    trials: Mapped[list[Trial]] = relationship(back_populates="search", passive_deletes=True)


class Trial(Base):
    """One evaluated placement (or a failure) inside a search."""

    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("search_id", "trial_key", name="uq_trials_search_trial_key"),
        CheckConstraint(_in("status", TRIAL_STATUSES), name="ck_trials_status"),
        Index("ix_trials_search_placement", "search_id", "placement"),
        Index("ix_trials_placement_seed", "placement", "seed"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("searches.id", ondelete="CASCADE"))
    trial_key: Mapped[str] = mapped_column(String(200))
    placement: Mapped[str] = mapped_column(Text)
    k: Mapped[int] = mapped_column(Integer)
    n_sequential: Mapped[int] = mapped_column(Integer)
    n_parallel: Mapped[int] = mapped_column(Integer)
    n_long_range: Mapped[int] = mapped_column(Integer)
    n_recurrent: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    val_accuracy: Mapped[float | None] = mapped_column(Float)
    best_val_accuracy: Mapped[float | None] = mapped_column(Float)
    test_accuracy: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    test_loss: Mapped[float | None] = mapped_column(Float)
    train_loss: Mapped[float | None] = mapped_column(Float)
    num_trainable_params: Mapped[int | None] = mapped_column(Integer)
    num_adapter_params: Mapped[int | None] = mapped_column(Integer)
    steps: Mapped[int | None] = mapped_column(Integer)
    wall_time_s: Mapped[float | None] = mapped_column(Float)
    #: epochs trained (fewer than the recipe's for a trial stopped early)
    epochs: Mapped[float | None] = mapped_column(Float)
    #: forward FLOPs per example of the placed model, and that over the linear probe's (version 3)
    inference_flops: Mapped[float | None] = mapped_column(Float)
    inference_cost: Mapped[float | None] = mapped_column(Float)
    #: FLOPs the trial's training and evaluations took (version 3)
    train_flops: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    reused_from: Mapped[int | None] = mapped_column(ForeignKey("trials.id", ondelete="SET NULL"))
    node: Mapped[str | None] = mapped_column(String(255))
    #: what trained it: "cpu", "cuda:0 (NVIDIA H100 80GB HBM3)", ...
    device: Mapped[str | None] = mapped_column(String(255))
    #: which variant of the search's plan the trial belongs to ("K3 gamma 0.6", "random", ...)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    search: Mapped[Search] = relationship(back_populates="trials")


class Curve(Base):
    """One evaluation point of a trial's learning curve."""

    __tablename__ = "curves"

    trial_id: Mapped[int] = mapped_column(ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[float | None] = mapped_column(Float)
    train_loss: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_accuracy: Mapped[float | None] = mapped_column(Float)
    lr: Mapped[float | None] = mapped_column(Float)


class ScoreSet(Base):
    """One gradient-rank score table; ``columns``/``attrs`` let load_scores rebuild the frame as saved."""

    __tablename__ = "score_sets"

    score_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[dict[str, Any]] = mapped_column(default=dict)
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    attrs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Score(Base):
    """The scores of one edge in one score set."""

    __tablename__ = "scores"

    score_key: Mapped[str] = mapped_column(
        ForeignKey("score_sets.score_key", ondelete="CASCADE"), primary_key=True
    )
    source: Mapped[int] = mapped_column(Integer, primary_key=True)
    destination: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str | None] = mapped_column(String(16))
    rank: Mapped[float | None] = mapped_column(Float)
    sigma_max: Mapped[float | None] = mapped_column(Float)
    stable_rank: Mapped[float | None] = mapped_column(Float)
    effective_rank: Mapped[float | None] = mapped_column(Float)
    nuclear_norm: Mapped[float | None] = mapped_column(Float)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
