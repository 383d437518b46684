"""The Optuna study of a tpe / gga-tpe search lives beside the results store, named after the search,
with one Optuna trial per finished trial, and stays that way across a resume (search/study.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna
import pytest
from sqlalchemy import text

from placement_search.config import load_config
from placement_search.placement.edges import EdgeSpace
from placement_search.search.searchers import make_tpe
from placement_search.search.service import RunOptions, resume_search, run_search
from placement_search.search.study import PersistedOptunaSearch, study_storage_url
from placement_search.store import open_store

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "search_spaces" / "tiny.yaml"


@pytest.mark.parametrize("store, study", [
    ("sqlite:////data/results.sqlite", "sqlite:////data/results.optuna.sqlite"),
    ("sqlite:////data/a.b/results", "sqlite:////data/a.b/results.optuna.sqlite"),
    ("postgresql+psycopg://u:***@db:5432/ps", "postgresql+psycopg://u:***@db:5432/ps?options=-csearch_path%3Doptuna"),
    ("postgresql+psycopg://u:s3cret@db/ps", "postgresql+psycopg://u:s3cret@db/ps?options=-csearch_path%3Doptuna"),
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
])
def test_the_study_storage_sits_beside_the_store(store, study):
    assert study_storage_url(store) == study


def test_a_tpe_search_leaves_its_study_named_after_it(tmp_path, capsys):
    store_url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    cfg = load_config(TINY, ["space.edge_types=[sequential, parallel]", "space.k=1", "training.epochs=2"])
    run_search(cfg, RunOptions(searcher="tpe", num_samples=4, name="tpe-study", store=store_url, runner="local",
                               storage_path=str(tmp_path / "tune")))
    storage = f"sqlite:///{tmp_path / 'results.optuna.sqlite'}"
    assert f"Optuna study tpe-study in {storage}" in capsys.readouterr().out
    trials = open_store(store_url).trials_frame("tpe-study")
    study = optuna.load_study(study_name="tpe-study", storage=storage)
    assert len(study.trials) == len(trials) == 4
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert sorted(t.value for t in study.trials) == sorted(trials["val_accuracy"])

    # a resume from the store alone answers a fresh searcher from the store: the study is rewritten, not doubled
    with open_store(store_url) as store:
        with store._write() as session:
            session.execute(text("DELETE FROM trials WHERE id = (SELECT max(id) FROM trials)"))
        store.set_search_status("tpe-study", "interrupted")
    resume_search("tpe-study", store_url, verbose=0)
    trials = open_store(store_url).trials_frame("tpe-study")
    study = optuna.load_study(study_name="tpe-study", storage=storage)
    assert len(trials) == 4 and len(study.trials) == 4
    assert sorted(t.value for t in study.trials) == sorted(trials["val_accuracy"])


def test_a_restored_searcher_rewrites_the_study_to_its_snapshot(tmp_path):
    """Tune restores the searcher from a snapshot older than the stored study: the study follows the
    snapshot, and the pickles (Tune's tuner.pkl, the searcher checkpoint) hold no connection."""
    store_url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    space = EdgeSpace(5, ("parallel", "sequential"))
    searcher = make_tpe(space, (1, 1), 0, 8, training_seed=0, study=(store_url, "snap"))
    assert isinstance(searcher, PersistedOptunaSearch)

    def one_trial(i: int) -> None:
        searcher.suggest(f"t{i}")
        searcher.on_trial_result(f"t{i}", {"val_accuracy": 0.1 * i, "training_iteration": 1})
        searcher.on_trial_complete(f"t{i}", {"val_accuracy": 0.1 * i})

    for i in range(3):
        one_trial(i)
    searcher.save(str(tmp_path / "searcher.pkl"))
    pickled = pickle.dumps(searcher)
    for i in range(3, 5):
        one_trial(i)
    storage = study_storage_url(store_url)
    assert len(optuna.load_study(study_name="snap", storage=storage).trials) == 5

    restored = pickle.loads(pickled)
    restored.restore(str(tmp_path / "searcher.pkl"))
    assert [t.value for t in optuna.load_study(study_name="snap", storage=storage).trials] == [0.0, 0.1, 0.2]
    restored.suggest("t9")
    restored.on_trial_complete("t9", {"val_accuracy": 0.9})
    assert len(optuna.load_study(study_name="snap", storage=storage).trials) == 4
