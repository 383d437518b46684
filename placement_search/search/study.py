"""The Optuna study of an Optuna-driven search (``tpe`` / ``gga-tpe``, and the priced searches of
search/objectives.py: ``tpe`` / ``gga-tpe`` with several objectives or price limits, ``nsga2``),
kept in its own Optuna storage beside the results store so ``optuna-dashboard`` (or
``optuna.load_study``) can open it. The ``random`` searcher has no Optuna study and keeps none.

Where it lives (``study_storage_url``), derived from the results store's URL because Optuna's
tables (``studies``, ``trials``, ``alembic_version`` ...) clash with ours:

    SQLite      sqlite:///DIR/NAME.sqlite        ->  sqlite:///DIR/NAME.optuna.sqlite (a sibling file)
    PostgreSQL  postgresql+psycopg://U:P@H/DB    ->  the same database, schema ``optuna``
                                                     (``?options=-csearch_path%3Doptuna``)
    in-memory SQLite, other backends             ->  not persisted

The study is named after the search. It records every trial the searcher was told about (one
Optuna trial per finished trial: completed, reused, stopped, failed), with its parameters (the
slot encoding of search/encoding.py), its value (``val_accuracy``) and its learning curve as
intermediate values. A multi-objective search's study is a multi-objective Optuna study: one
direction per objective (``val_accuracy`` maximised, ``num_adapter_params`` / ``inference_cost``
minimised), the objectives' values per trial (no intermediate values: Optuna keeps none for
several objectives), the metric names, and under price limits each trial's limit violations in
the ``constraints`` system attribute, as Optuna's samplers store them, so ``study.best_trials``
is the feasible Pareto front. A price-limited search's study also holds the placements drawn over
a limit and never trained (told to the sampler as infeasible: val accuracy 0, their real price).

The searcher itself keeps working on its in-memory study, which Tune pickles with the searcher
exactly as before, so a restored search behaves as it did. The stored study is a mirror: written
when a trial finishes, and rewritten from the searcher's state when the searcher is built (a new
search, or a resume from the store alone, which answers the searcher again from the store) or
restored (Tune's snapshot may be older than the stored study). Pickles of the searcher hold only
the masked store URL; the password comes back through ``store.unmask`` when the mirror connects.
"""

from __future__ import annotations

import warnings
from typing import Any

from ray.tune.search.optuna import OptunaSearch
from sqlalchemy.engine import make_url

from placement_search.store import mask_url, unmask

#: the PostgreSQL schema that holds Optuna's tables, in the results store's database
OPTUNA_SCHEMA = "optuna"
SQLITE_BUSY_TIMEOUT_S = 60


def study_storage_url(store_url: str) -> str | None:
    """The Optuna storage URL for a results store URL (masked in, masked out; real in, real out),
    or None when the store has no place for a sibling (in-memory SQLite, other backends)."""
    url = make_url(store_url)
    masked = url.password == "***"
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        name, dot, suffix = database.rpartition(".")
        sibling = f"{name}.optuna.{suffix}" if dot and "/" not in suffix else f"{database}.optuna.sqlite"
        return url.set(database=sibling).render_as_string(hide_password=False)
    if backend == "postgresql":
        options = " ".join(filter(None, [url.query.get("options"), f"-csearch_path={OPTUNA_SCHEMA}"]))
        return url.update_query_dict({"options": options}).render_as_string(hide_password=masked)
    return None


def open_study_storage(store_url: str):
    """An Optuna ``RDBStorage`` for the store's study storage (``store_url`` may be masked)."""
    import optuna
    from sqlalchemy import create_engine, text

    real = unmask(store_url)
    target = study_storage_url(real)
    backend = make_url(real).get_backend_name()
    if backend == "postgresql":
        engine = create_engine(real, connect_args={"connect_timeout": 5})
        try:
            with engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
        finally:
            engine.dispose()
        return optuna.storages.RDBStorage(target)
    storage = optuna.storages.RDBStorage(target, engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}})
    with storage.engine.connect() as conn:  # readers (optuna-dashboard) never block the search's writes
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    return storage


def make_optuna_search(study: tuple[str, str] | None, **settings: Any) -> OptunaSearch:
    """Ray Tune's ``OptunaSearch`` with ``settings``; given ``study`` (results store URL, search name),
    one that keeps its study beside the store, where the store has a place for it (module doc)."""
    if study is None or study_storage_url(study[0]) is None:
        return OptunaSearch(**settings)
    return PersistedOptunaSearch(store_url=study[0], study_name=study[1], **settings)


class PersistedOptunaSearch(OptunaSearch):
    """Ray Tune's ``OptunaSearch`` whose finished trials are mirrored into a study named
    ``study_name`` in the study storage of the results store ``store_url`` (see the module doc)."""

    def __init__(self, *args: Any, store_url: str, study_name: str, **kwargs: Any):
        self._mirror_url, self._mirror_name, self._mirror = mask_url(store_url), study_name, None
        super().__init__(*args, **kwargs)
        self.rewrite_mirror()

    @property
    def study_location(self) -> str:
        """Where the study is, as may be printed (masked)."""
        return f"Optuna study {self._mirror_name} in {study_storage_url(self._mirror_url)}"

    def _mirror_study(self, fresh: bool = False):
        import optuna

        if self._mirror is None or fresh:
            storage = open_study_storage(self._mirror_url)
            if fresh and self._mirror_name in optuna.get_all_study_names(storage):
                optuna.delete_study(study_name=self._mirror_name, storage=storage)
            modes = self._mode if isinstance(self._mode, list) else [self._mode]
            self._mirror = optuna.create_study(
                storage=storage, study_name=self._mirror_name, load_if_exists=True,
                directions=["minimize" if m == "min" else "maximize" for m in modes])
            self._mirror.set_user_attr("results_store", self._mirror_url)
            self._mirror.set_user_attr("metric", self._metric)
            with warnings.catch_warnings():  # experimental since Optuna 3.2; optuna-dashboard labels axes with them
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._mirror.set_metric_names(self._metric if isinstance(self._metric, list) else [self._metric])
        return self._mirror

    def rewrite_mirror(self) -> None:
        """Make the stored study hold exactly the searcher's finished trials (a wrapper that restores
        this searcher by unpickling it, as ``ObjectiveSearcher`` does, calls this afterwards)."""
        study = self._mirror_study(fresh=True)
        if self._ot_study is not None:
            study.add_trials([t for t in self._ot_study.get_trials(deepcopy=False) if t.state.is_finished()])

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        told = trial_id not in self._completed_trials and trial_id in self._ot_trials
        super().on_trial_complete(trial_id, result=result, error=error)
        if told:
            frozen = self._ot_study.get_trials(deepcopy=False)[self._ot_trials[trial_id].number]
            if frozen.state.is_finished():  # Optuna refuses some values (NaN): nothing to mirror then
                self._mirror_study().add_trial(frozen)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_mirror"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({**state, "_mirror": None})

    def save(self, checkpoint_path: str) -> None:
        import pickle

        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__getstate__(), f)

    def restore(self, checkpoint_path: str) -> None:
        super().restore(checkpoint_path)  # updates __dict__ from the saved state
        self._mirror = None
        self.rewrite_mirror()
