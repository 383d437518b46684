"""The Optuna study of a tpe / gga-tpe search, and of a multi-objective or price-limited search
(tpe, nsga2: search/objectives.py), lives beside the results store, named after the search, with one
Optuna trial per finished trial, and stays that way across a resume (search/study.py)."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna
import pytest
from sqlalchemy import text

from placement_search.config import load_config
from placement_search.experiment import edge_space
from placement_search.placement.edges import Edge, EdgeSpace, Placement
from placement_search.search.dedup import DeduplicatingSearcher
from placement_search.search.encoding import decode_placement
from placement_search.search.objectives import make_objective_searcher, make_pricer
from placement_search.search.searchers import make_tpe
from placement_search.search.service import RunOptions, resume_search, run_search
from placement_search.search.study import PersistedOptunaSearch, study_storage_url
from placement_search.store import TrialRecord, benchmark_description, benchmark_key, open_store

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


def test_a_store_with_no_place_for_a_study_gets_none():
    """An in-memory store: the searchers work on their in-memory study alone (they used to fail)."""
    from ray.tune.search.optuna import OptunaSearch

    searcher = make_tpe(EdgeSpace(5, ("parallel", "sequential")), (1, 1), 0, 8, training_seed=0,
                        study=("sqlite://", "memory"))
    assert type(searcher) is OptunaSearch
    cfg = load_config(TINY, ["space.k=1", "search.objectives=[val_accuracy, inference_cost]"])
    priced = make_objective_searcher("nsga2", cfg, edge_space(cfg), 8, 0, lambda: {}, study=("sqlite://", "memory"))
    assert type(priced.searcher) is OptunaSearch and priced.study_location is None


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


# -- multi-objective and price-limited searches (search/objectives.py) --

MAXIMIZE, MINIMIZE = optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE


def pareto(points: list[tuple[float, ...]], directions) -> list[int]:
    """Indices of the points no other point dominates (written out here, not taken from Optuna)."""
    signs = [1 if d == MAXIMIZE else -1 for d in directions]

    def dominates(a, b) -> bool:
        return (all(s * x >= s * y for s, x, y in zip(signs, a, b))
                and any(s * x > s * y for s, x, y in zip(signs, a, b)))

    return [i for i, p in enumerate(points) if not any(dominates(q, p) for q in points)]


@pytest.fixture
def ground_truth(tmp_path):
    """A store with a priced single-edge ground truth of the tiny model in which accuracy costs
    inference: recurrent edges into early points are best and dearest (as in test_objectives.py)."""
    cfg = load_config(TINY, ["space.k=1"])
    pricer = make_pricer(cfg)
    path = tmp_path / "store.sqlite"
    key = benchmark_key(cfg)
    with open_store(str(path)) as store:
        store.ensure_benchmark(key, benchmark_description(cfg))
        space = edge_space(cfg)
        store.create_search("gt", key, "exhaustive", len(space), cfg.to_dict())

        def record(i: int, edge: Edge) -> TrialRecord:
            acc = round(0.6 + 0.05 * (edge.source - edge.destination if edge.is_recurrent else 1) + 0.01 * edge.source, 4)
            placement = str(Placement.of([edge]))
            curve = [{"step": 14, "epoch": 1.0, "val_accuracy": acc, "val_loss": 1 - acc, "train_loss": 1.0, "lr": 0.01}]
            return TrialRecord("gt", f"gt{i}", placement, cfg.training.seed, "completed",
                               {"val_accuracy": acc, "best_val_accuracy": acc, "test_accuracy": acc, "epochs": 1.0,
                                "num_trainable_params": 1, **pricer(placement)}, curve)

        store.record_trials([record(i, e) for i, e in enumerate(space.edges)])
    return path


def rounded(values) -> tuple[float, ...]:
    return tuple(round(float(v), 9) for v in values)


@pytest.mark.parametrize("searcher, objectives, limit", [
    ("nsga2", ["val_accuracy", "adapter_params", "inference_cost"], None),
    ("tpe", ["val_accuracy", "inference_cost"], 1.3),
])
def test_a_priced_search_leaves_a_multi_objective_study(ground_truth, capsys, searcher, objectives, limit):
    store_url = f"sqlite:///{ground_truth}"
    name = f"mo-{searcher}"
    cfg = load_config(TINY, ["space.k=1"])
    summary = run_search(cfg, RunOptions(store=store_url, replay=True, searcher=searcher, num_samples=12,
                                         objectives=objectives, max_inference_cost=limit, name=name))
    storage = study_storage_url(store_url)
    assert f"Optuna study {name} in {storage}" in capsys.readouterr().out
    study = optuna.load_study(study_name=name, storage=storage)
    columns = {"val_accuracy": "val_accuracy", "adapter_params": "num_adapter_params",
               "inference_cost": "inference_cost"}
    assert study.directions == [MAXIMIZE] + [MINIMIZE] * (len(objectives) - 1)
    assert study.metric_names == [columns[o] for o in objectives]
    assert all(t.state == optuna.trial.TrialState.COMPLETE and len(t.values) == len(objectives) for t in study.trials)

    if limit is None:
        assert all(not t.constraints for t in study.trials)
        feasible = study.trials
    else:  # each trial's violation of the limit, as the sampler stored it: best_trials keeps the feasible ones
        cost = objectives.index("inference_cost")
        for t in study.trials:
            assert list(t.constraints.values()) == [pytest.approx(t.values[cost] - limit)]
        feasible = [t for t in study.trials if t.values[cost] <= limit]
        over = [t for t in study.trials if t.values[cost] > limit]
        assert over, "this seed draws placements over the limit; they are in the study, never trained"
        assert all(t.values[0] == 0.0 for t in over)

    # the feasible trials are the search's trials, objective for objective
    trials = summary.trials
    assert len(trials) == 12 and len(feasible) == 12
    stored = [rounded(row) for row in trials[[columns[o] for o in objectives]].itertuples(index=False)]
    assert sorted(rounded(t.values) for t in feasible) == sorted(stored)

    # best_trials is the Pareto front of the stored trials
    front = {feasible[i].number for i in pareto([tuple(t.values) for t in feasible], study.directions)}
    assert front and {t.number for t in study.best_trials} == front
    assert {rounded(t.values) for t in study.best_trials} == {stored[i] for i in pareto(stored, study.directions)}


def test_a_resumed_priced_search_rewrites_its_study(tmp_path):
    """A multi-objective, price-limited search under the local runner, then a resume from the store
    alone: the fresh searcher is answered from the store and the study is rewritten, not doubled."""
    store_url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    cfg = load_config(TINY, ["space.edge_types=[sequential, parallel]", "space.k=1", "training.epochs=2",
                             "search.objectives=[val_accuracy, inference_cost]", "search.max_inference_cost=1.3"])
    run_search(cfg, RunOptions(searcher="tpe", num_samples=4, name="mo-study", store=store_url, runner="local",
                               storage_path=str(tmp_path / "tune"), verbose=0))
    storage = study_storage_url(store_url)

    def check() -> None:
        trials = open_store(store_url).trials_frame("mo-study")
        study = optuna.load_study(study_name="mo-study", storage=storage)
        assert study.directions == [MAXIMIZE, MINIMIZE]
        feasible = [t for t in study.trials if all(c <= 0 for c in t.constraints.values())]
        assert len(trials) == 4 and len(feasible) == 4
        assert (sorted(rounded(t.values) for t in feasible)
                == sorted(rounded(r) for r in trials[["val_accuracy", "inference_cost"]].itertuples(index=False)))

    check()
    with open_store(store_url) as store:
        with store._write() as session:
            session.execute(text("DELETE FROM trials WHERE id = (SELECT max(id) FROM trials)"))
        store.set_search_status("mo-study", "interrupted")
    resume_search("mo-study", store_url, verbose=0)
    check()


def test_tune_restores_a_priced_searcher_and_its_study(tmp_path):
    """Tune's own save and restore of the searcher chain (dedup -> objectives -> Optuna): the study
    follows the snapshot, constraints and directions included, and the pickles hold no connection."""
    from ray.tune.search import SearchGenerator

    store_url = f"sqlite:///{tmp_path / 'results.sqlite'}"
    cfg = load_config(TINY, ["space.k=1", "search.objectives=[val_accuracy, inference_cost]",
                             "search.max_inference_cost=1.1"])
    space = edge_space(cfg)
    inner = make_objective_searcher("tpe", cfg, space, 20, 0, lambda: {}, study=(store_url, "snap"))
    generator = SearchGenerator(DeduplicatingSearcher(inner, space, 0, 20))
    storage = study_storage_url(store_url)

    def stored() -> list[tuple]:
        return [(rounded(t.values), tuple(t.constraints.values()))
                for t in optuna.load_study(study_name="snap", storage=storage).trials]

    def one_trial(searcher, i: int) -> None:
        config = searcher.suggest(f"t{i}")
        assert isinstance(config, dict)
        searcher.on_trial_complete(f"t{i}", {"val_accuracy": 0.1 * i, "placement": str(decode_placement(config, space))})

    for i in range(4):
        one_trial(generator.searcher, i)
    (tmp_path / "exp").mkdir()
    generator.save_to_dir(str(tmp_path / "exp"), "s")
    pickled = pickle.dumps(generator.searcher)  # Tune's tuner.pkl holds the search algorithm, unwrapped
    snapshot = stored()
    assert len(snapshot) >= 4 and any(c[0] > 0 for _, c in snapshot), "draws over the limit are in the study"
    for i in range(4, 8):
        one_trial(generator.searcher, i)
    assert len(stored()) > len(snapshot)

    assert b"RDBStorage" not in pickled and b"Engine" not in pickled
    restored = SearchGenerator(pickle.loads(pickled))
    restored.restore_from_dir(str(tmp_path / "exp"))
    assert stored() == snapshot
    assert optuna.load_study(study_name="snap", storage=storage).directions == [MAXIMIZE, MINIMIZE]
    one_trial(restored.searcher, 8)
    assert len(stored()) > len(snapshot)

    # the searchers' own save and restore (DeduplicatingSearcher.restore -> ObjectiveSearcher.restore)
    searcher = restored.searcher
    searcher.save(str(tmp_path / "searcher.pkl"))
    snapshot = stored()
    one_trial(searcher, 9)
    assert len(stored()) > len(snapshot)
    searcher.restore(str(tmp_path / "searcher.pkl"))
    assert stored() == snapshot
